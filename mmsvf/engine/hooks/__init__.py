# Copyright (c) mmsvf contributors. All rights reserved.
from .adaptive_threads_hook import AdaptiveThreadsHook
from .firing_rate_hook import FiringRateHook, neuron_stages
from .nonfinite_guard_hook import NonFiniteError, NonFiniteGuardHook
from .progress_bar_hook import ProgressBarHook
from .video_visualization_hook import VideoVisualizationHook, read_label_map

__all__ = [
    'AdaptiveThreadsHook', 'FiringRateHook', 'ProgressBarHook',
    'VideoVisualizationHook',
    'neuron_stages', 'read_label_map', 'NonFiniteGuardHook', 'NonFiniteError'
]
from .video_seg_visualization_hook import VideoSegVisualizationHook  # noqa: F401,E501
