# Copyright (c) mmsvf contributors. All rights reserved.
"""mmaction2 1.2.0 wheels lack ``mmaction/models/localizers/drn``.

Broken: ``import mmaction.models`` fails with ``No module named
'mmaction.models.localizers.drn'``: the 1.2.0 wheel and sdist do not ship the
``drn/`` folder that ``localizers/__init__.py`` imports (mmaction2 issue 2714,
mmaction2 1.2.0).

Detected: mmaction2 is installed and that folder is missing (looked up
through the import system, without importing mmaction).

Patch: a placeholder package ``mmaction.models.localizers.drn`` (with its
``drn`` submodule) whose ``DRN`` raises a clear ImportError when built, so
everything else in ``mmaction.models`` imports.
"""
import os.path as osp
import sys

from ._modules import package_dir, placeholder_module

__all__ = ['NAME', 'needed', 'apply']

NAME = 'mmaction-drn-placeholder'
MODULE = 'mmaction.models.localizers.drn'


def needed():
    """True when mmaction2 is installed but its ``localizers/drn`` is missing.
    """
    root = package_dir('mmaction')
    if root is None:
        return False
    return not osp.isdir(osp.join(root, 'models', 'localizers', 'drn'))


class DRN:
    """Placeholder: the installed mmaction2 wheel ships no DRN."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            'mmaction2 1.2.0 wheels lack models/localizers/drn '
            '(mmaction2 issue 2714); DRN is unavailable. Install '
            'mmaction2 from source to use it.')


def apply():
    """Register the placeholder package and its ``drn`` submodule."""
    package = placeholder_module(MODULE, 'mmsvf placeholder for DRN',
                                 package=True)
    sub = placeholder_module(MODULE + '.drn', 'mmsvf placeholder for DRN',
                             {'DRN': DRN})
    package.drn = sub
    sys.modules.setdefault(MODULE, package)
    sys.modules.setdefault(MODULE + '.drn', sub)
