# Copyright (c) mmsvf contributors. All rights reserved.
from .spiking_cls_head import SpikingClsHead
from .spiking_fpn_head import SpikingFPNHead

__all__ = ['SpikingClsHead', 'SpikingFPNHead']
