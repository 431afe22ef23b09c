# Copyright (c) mmsvf contributors. All rights reserved.
"""Workarounds for defects of the pinned OpenMMLab stack.

One module per upstream defect; its docstring says what is broken (with the
upstream issue / version), how the defect is detected and what the patch
does. Each module has ``needed()`` (is the defect present here?) and
``apply()`` (patch it); :func:`apply`, called on ``import mmsvf``, applies
those needed, in this order (the placeholders must exist before anything
imports upstream models):

- :mod:`.drn_placeholder`: mmaction2 1.2.0 wheels lack ``localizers/drn``;
- :mod:`.mmcv_ext_stub`: mmcv-lite has no ``mmcv._ext``, yet mmseg / mmdet /
  mmpose import ``mmcv.ops`` at module level;
- :mod:`.torchvision_placeholder`: mmpose's ``simcc_vis`` imports
  torchvision;
- :mod:`.weights_only`: torch >= 2.6 loads with ``weights_only=True``,
  mmengine 0.10.7 checkpoints pickle more than tensors;
- :mod:`.config_package`: mmengine's ``pkg::`` config syntax does not know
  mmsvf;
- :mod:`.installed_path`: mmengine's ``get_installed_path`` misses editable
  installs.

Nothing here copies upstream code, and a workaround whose defect is absent
(e.g. with full mmcv installed) patches nothing.
"""
from . import (
    config_package,
    drn_placeholder,
    installed_path,
    mmcv_ext_stub,
    torchvision_placeholder,
    weights_only,
)

__all__ = ['WORKAROUNDS', 'applied', 'apply']

#: the defect modules, in the order they are applied
WORKAROUNDS = (drn_placeholder, mmcv_ext_stub, torchvision_placeholder,
               weights_only, config_package, installed_path)

#: ``NAME`` of each workaround applied in this process
applied = []


def apply():
    """Apply every workaround whose defect is present (idempotent).

    Returns:
        list[str]: ``NAME`` of each workaround applied so far.
    """
    for workaround in WORKAROUNDS:
        if workaround.NAME in applied:
            continue
        if workaround.needed():
            workaround.apply()
            applied.append(workaround.NAME)
    return list(applied)
