# Copyright (c) mmsvf contributors. All rights reserved.
"""Losses registered in the mmsvf ``MODELS`` registry."""
from .pose_losses import (
                          GeodesicRotationLoss,
                          PoseMSELoss,
                          ProjectedJointsMSELoss,
)

__all__ = ['GeodesicRotationLoss', 'PoseMSELoss', 'ProjectedJointsMSELoss']
