# Copyright (c) mmsvf contributors. All rights reserved.
"""High-level inference: one call from a video to results and pictures."""
from .drawing import draw_skeleton, draw_text_lines, get_palette, overlay_mask
from .inferencers import (
    PoseInferencer,
    RecognitionInferencer,
    SegmentationInferencer,
    StreamingRecognizer,
    init_model,
)
from .video_io import VideoSink, iter_frames, read_frames, write_frames

__all__ = ['RecognitionInferencer', 'SegmentationInferencer',
           'PoseInferencer', 'StreamingRecognizer', 'init_model',
           'iter_frames', 'read_frames', 'write_frames', 'VideoSink',
           'get_palette', 'overlay_mask', 'draw_text_lines', 'draw_skeleton']
