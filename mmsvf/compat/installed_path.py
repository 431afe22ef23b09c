# Copyright (c) mmsvf contributors. All rights reserved.
"""mmengine's ``get_installed_path`` names a missing folder for editable
installs.

Broken: after ``pip install -e .`` (a PEP 660 editable install, the README's),
``mmsvf::`` configs are looked up where nothing is: mmengine 0.10.7's
``get_installed_path`` joins the distribution's location (site-packages)
with the package name, while the code, and ``mmsvf/.mim`` with the configs,
stay in the checkout.

Detected: an installed ``mmsvf`` distribution whose ``locate_file('mmsvf')``
is not a folder (mmengine's own answer, without its slow ``pkg_resources``
import). Running from a checkout without installing needs nothing.

Patch: ``get_installed_path`` of ``mmengine.config.config`` and
``mmengine.hub.hub`` (the two modules that resolve ``pkg::`` paths) is
wrapped: mmengine's answer when that folder exists, else the package's folder
as the import system finds it.
"""
import os.path as osp

from ._modules import package_dir

__all__ = ['NAME', 'needed', 'apply']

NAME = 'mmengine-editable-install-path'


def needed():
    """True when mmengine's ``get_installed_path('mmsvf')`` names a missing
    folder."""
    from importlib import metadata
    try:
        dist = metadata.distribution('mmsvf')
    except metadata.PackageNotFoundError:  # run from a checkout: no dist
        return False
    return not osp.isdir(str(dist.locate_file('mmsvf')))


def apply():
    """Wrap mmengine's ``get_installed_path`` where ``pkg::`` is resolved."""
    from mmengine.config import config as config_module
    from mmengine.hub import hub as hub_module
    original = config_module.get_installed_path

    def get_installed_path(package):
        path = original(package)
        if osp.isdir(path):
            return path
        try:  # the module name mmengine derived (the path's last part)
            return package_dir(osp.basename(path)) or path
        except Exception:  # noqa: BLE001 - keep mmengine's answer
            return path

    get_installed_path.__wrapped__ = original
    config_module.get_installed_path = get_installed_path
    hub_module.get_installed_path = get_installed_path
