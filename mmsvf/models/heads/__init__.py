# Copyright (c) mmsvf contributors. All rights reserved.
from .spiking_cls_head import SpikingClsHead

__all__ = ['SpikingClsHead']
