# Copyright (c) mmsvf contributors. All rights reserved.
from .data_preprocessor import VideoSegDataPreprocessor
from .video_encoder_decoder import VideoEncoderDecoder

__all__ = ['VideoEncoderDecoder', 'VideoSegDataPreprocessor']
