# Copyright (c) mmsvf contributors. All rights reserved.
from .video_consistency import video_consistency, window_consistency  # noqa: F401,E501
from .pose_errors import apply_similarity, mesh_error, pose_errors, procrustes_align  # noqa: F401,E501
