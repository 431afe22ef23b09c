# Copyright (c) mmsvf contributors. All rights reserved.
from .spikevideoformer import MSBlock, SpikeVideoFormer
from .spikevideoformer_image import SpikeVideoFormerImage

__all__ = ['SpikeVideoFormer', 'MSBlock', 'SpikeVideoFormerImage']
