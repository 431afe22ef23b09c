# Copyright (c) mmsvf contributors. All rights reserved.
from .clip_drawing import (
                           CLIP_LAYOUTS,
                           clip_frames,
                           clip_views,
                           draw_points,
                           draw_text_lines,
                           frames_grid,
                           overlay_seg_map,
                           read_label_map,
                           upscale,
                           write_video,
)
from .clip_visualizer import ClipVisualizer

__all__ = [
    'ClipVisualizer', 'CLIP_LAYOUTS', 'clip_frames', 'clip_views',
    'draw_points', 'draw_text_lines', 'frames_grid', 'overlay_seg_map',
    'read_label_map', 'upscale', 'write_video'
]
