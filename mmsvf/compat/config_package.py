# Copyright (c) mmsvf contributors. All rights reserved.
"""mmengine's ``pkg::path`` config syntax knows a fixed list of packages.

Broken: ``_base_ = 'mmsvf::...'`` and ``mmengine.hub.get_config('mmsvf::...')``
fail with "mmengine does not support to load mmsvf config": mmengine 0.10.7
resolves ``pkg::`` paths only for the packages of its hard-coded
``mmengine.config.utils.MODULE2PACKAGE`` table. For a package it does know,
mmengine also puts ``_scope_='<package>'`` on every typed dict of such a
base, which would send the unprefixed mmaction / mmseg / mmpose types of an
mmsvf config to the mmsvf registries.

Detected: ``'mmsvf'`` is not in ``MODULE2PACKAGE``.

Patch: register ``'mmsvf'`` there (module and pip package share the name;
``setup.py`` ships the configs in ``mmsvf/.mim/configs``, where mmengine
looks), and make ``Config`` read an ``mmsvf::`` base like a local base file:
no scope is inferred, the config names its own (``default_scope`` and
``mmsvf.`` prefixes, see docs/registry_and_scope.md).
"""
__all__ = ['NAME', 'needed', 'apply']

NAME = 'mmengine-config-package'
PACKAGE = 'mmsvf'


def needed():
    """True when mmengine's ``pkg::path`` config syntax does not know mmsvf.
    """
    from mmengine.config import utils as config_utils
    return PACKAGE not in config_utils.MODULE2PACKAGE


def apply():
    """Register mmsvf in ``MODULE2PACKAGE``; drop the inferred scope."""
    from mmengine.config import Config
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE[PACKAGE] = PACKAGE
    original = Config._get_cfg_path

    def _get_cfg_path(cfg_path, filename):
        path, scope = original(cfg_path, filename)
        return path, (None if scope == PACKAGE else scope)

    _get_cfg_path.__wrapped__ = original
    Config._get_cfg_path = staticmethod(_get_cfg_path)
