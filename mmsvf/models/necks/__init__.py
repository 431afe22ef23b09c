# Copyright (c) mmsvf contributors. All rights reserved.
from .feature_selector import FeatureSelector

__all__ = ['FeatureSelector']
