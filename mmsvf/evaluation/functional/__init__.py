# Copyright (c) mmsvf contributors. All rights reserved.
from .pose_errors import (  # noqa: F401,E501
    apply_similarity,
    mesh_error,
    pose_errors,
    procrustes_align,
)
from .video_consistency import video_consistency, window_consistency  # noqa: F401,E501
