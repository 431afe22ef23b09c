# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf: spike-driven video Transformers (SpikeVideoFormer) for OpenMMLab.

Importing mmsvf applies the upstream workarounds of :mod:`mmsvf.compat` (each
only when its defect is present) and warns about versions outside the tested
window (:mod:`mmsvf.utils.version_check`).
"""
from . import compat

compat.apply()

from .utils.version_check import check_versions  # noqa: E402

check_versions()

from .version import __version__, version_info  # noqa: E402

__all__ = ['__version__', 'version_info']
