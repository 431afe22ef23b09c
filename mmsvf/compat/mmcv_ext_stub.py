# Copyright (c) mmsvf contributors. All rights reserved.
"""mmcv-lite has no compiled ``mmcv._ext``, but upstream imports ``mmcv.ops``.

Broken: ``import mmseg.models`` / ``mmpose.models`` / ``mmdet.models`` fail
with ``No module named 'mmcv._ext'``: they import ``mmcv.ops`` at module level,
and mmcv-lite (the default install, mmcv 2.1.0) has no compiled ops.

Detected: mmcv is installed, no ``mmcv/_ext*`` library exists next to it and
no ``mmcv._ext`` module is loaded yet.

Patch: a stand-in ``mmcv._ext`` module, installed before anything imports
``mmcv.cnn.bricks.transformer``. Its ``__spec__.loader`` is None, so
``mmengine.utils.dl_utils.mmcv_full_available()`` stays False; every
attribute is an op that raises :class:`MissingCompiledOpError` (a
NotImplementedError) when *called*. mmsvf itself never calls a compiled op.
"""
import glob
import importlib.machinery
import os.path as osp
import sys
import types

from ._modules import package_dir

__all__ = ['NAME', 'MissingCompiledOpError', 'needed', 'apply']

NAME = 'mmcv-ext-stub'


class MissingCompiledOpError(NotImplementedError):
    """Raised when a compiled mmcv op is called under mmcv-lite."""


def needed():
    """True when mmcv is installed without its compiled ``_ext`` library."""
    if 'mmcv._ext' in sys.modules:
        return False
    root = package_dir('mmcv')
    if root is None:
        return False
    return not glob.glob(osp.join(root, '_ext*'))


class _MissingOp:

    def __init__(self, name):
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        raise MissingCompiledOpError(
            f'mmcv compiled op "{self.__name__}" was called, but the '
            'installed mmcv is mmcv-lite (no compiled ops). mmsvf itself '
            'never needs them; to use upstream models that do, install full '
            'mmcv 2.1.0 (see README, "Full mmcv").')


class _ExtStub(types.ModuleType):

    def __getattr__(self, item):
        # dunder lookups stay real AttributeErrors (hasattr, pickle, inspect)
        if item.startswith('__'):
            raise AttributeError(item)
        return _MissingOp(item)


def apply():
    """Install the stand-in ``mmcv._ext``."""
    stub = _ExtStub('mmcv._ext', 'mmsvf stand-in for mmcv compiled ops')
    stub.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    stub.__mmsvf_placeholder__ = True
    sys.modules['mmcv._ext'] = stub
