# Copyright (c) mmsvf contributors. All rights reserved.
from .checkpoint_convert import (ConversionReport, UnsafeCheckpointError,
                                 convert_mmsvf_to_official,
                                 convert_official_to_mmsvf,
                                 load_checkpoint_file, save_checkpoint_atomic)

__all__ = [
    'ConversionReport', 'UnsafeCheckpointError', 'convert_mmsvf_to_official',
    'convert_official_to_mmsvf', 'load_checkpoint_file',
    'save_checkpoint_atomic'
]
