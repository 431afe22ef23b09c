# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike-driven layers over time-first tensors ``[T, B, C, H, W]``."""
from .conv_blocks import MSConvBlock, MSDownsampling, SepConv, per_frame
from .mlp import MSMLP
from .repconv import BNAndPad, RepConv
from .spike_conv import (
    DepthwiseConv2d,
    SpikeConv1d,
    SpikeConv2d,
    set_compact_spikes,
    set_fast_depthwise,
)
from .spiking_conv_unit import SpikingConvUnit

__all__ = ['MSDownsampling', 'SepConv', 'MSConvBlock', 'MSMLP', 'RepConv',
           'BNAndPad', 'per_frame', 'SpikeConv1d', 'SpikeConv2d',
           'set_compact_spikes', 'SpikingConvUnit', 'DepthwiseConv2d',
           'set_fast_depthwise']
