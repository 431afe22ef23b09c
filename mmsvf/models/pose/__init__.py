# Copyright (c) mmsvf contributors. All rights reserved.
"""Video human pose & shape tracking (SMPL) on SpikeVideoFormer."""
from .camera import perspective_projection
from .data_preprocessor import ClipPoseDataPreprocessor
from .estimator import SpikePoseEstimator
from .rotation import axis_angle_to_rotmat, rot6d_to_rotmat, rotmat_to_rot6d
from .smpl import (
                   SMPL_JOINT_NAMES,
                   SMPL_PARENTS,
                   SMPLLayer,
                   SMPLModelFileError,
                   load_smpl_model_file,
)
from .smpl_head import SMPLRegressionHead

__all__ = [
    'ClipPoseDataPreprocessor', 'SpikePoseEstimator', 'SMPLRegressionHead',
    'SMPLLayer', 'SMPLModelFileError', 'load_smpl_model_file',
    'SMPL_JOINT_NAMES', 'SMPL_PARENTS',
    'rot6d_to_rotmat', 'rotmat_to_rot6d', 'axis_angle_to_rotmat',
    'perspective_projection'
]
