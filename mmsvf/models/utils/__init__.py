# Copyright (c) mmsvf contributors. All rights reserved.
from .checkpoint_convert import (
                                 convert_file,
                                 convert_mmsvf_to_official,
                                 convert_official_to_mmsvf,
)
from .conversion_report import ConversionReport

__all__ = [
    'ConversionReport', 'convert_file', 'convert_mmsvf_to_official',
    'convert_official_to_mmsvf'
]
