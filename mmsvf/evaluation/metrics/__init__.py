# Copyright (c) mmsvf contributors. All rights reserved.
from .smpl_pose_metric import SMPLPoseMetric  # noqa: F401
from .video_consistency_metric import VideoConsistencyMetric  # noqa: F401
