# Copyright (c) mmsvf contributors. All rights reserved.
from .feature_selector import FeatureSelector
from .spiking_fpn import SpikingFPN

__all__ = ['FeatureSelector', 'SpikingFPN']
