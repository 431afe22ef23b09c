# Copyright (c) mmsvf contributors. All rights reserved.
from .spikevideoformer import MSBlock, SpikeVideoFormer

__all__ = ['SpikeVideoFormer', 'MSBlock']
