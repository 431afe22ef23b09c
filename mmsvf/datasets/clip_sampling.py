# Copyright (c) mmsvf contributors. All rights reserved.
"""Frame sampling with an explicit policy for videos shorter than a clip."""
import logging

import numpy as np
from mmaction.datasets.transforms import SampleFrames
from mmengine.logging import print_log

from mmsvf.registry import TRANSFORMS

__all__ = ['CheckedSampleFrames', 'ShortClipError']

SHORT_CLIP_POLICIES = ('error', 'loop', 'pad')


class ShortClipError(ValueError):
    """A video has fewer frames than one sampled clip spans."""


@TRANSFORMS.register_module()
class CheckedSampleFrames(SampleFrames):
    """mmaction's ``SampleFrames`` with an explicit short-video policy.

    A clip of ``clip_len`` frames ``frame_interval`` apart spans
    ``(clip_len - 1) * frame_interval + 1`` video frames. mmaction2 1.2.0's
    ``SampleFrames`` wraps the frame indices of a shorter video around its
    end without a word (``out_of_bound_opt='loop'``): with 16 frames of
    stride 2 a 3-frame video gives ``[0, 2, 1, 0, 2, 1, ...]``, so the
    motion runs backwards inside the clip, and a 1-frame video gives a still
    clip. Here such a video is handled by ``short_clip``:

    - ``'error'`` (default): raise :class:`ShortClipError` naming the file,
      its frame count and the frames the clip needs (inside
      :class:`~mmsvf.datasets.CheckedVideoDataset` it becomes a
      ``VideoDecodeError`` naming the annotation file too, and
      ``on_error='skip'`` skips the video in training);
    - ``'loop'``: mmaction's wrap-around, logged;
    - ``'pad'``: every clip starts at frame 0 and repeats the last frame
      once the video ends (time order kept, the end frozen), logged.

    The log is one warning per video and worker process, naming the file.
    Videos long enough are sampled exactly as by ``SampleFrames``.

    Args:
        short_clip (str): ``'error'``, ``'loop'`` or ``'pad'``.
        **kwargs: :class:`mmaction.datasets.transforms.SampleFrames`
            arguments (``clip_len``, ``frame_interval``, ``num_clips``,
            ``test_mode``, ...) except ``out_of_bound_opt``, which
            ``short_clip`` replaces.
    """

    def __init__(self, *args, short_clip: str = 'error', **kwargs) -> None:
        if short_clip not in SHORT_CLIP_POLICIES:
            raise ValueError(f'short_clip must be one of '
                             f'{SHORT_CLIP_POLICIES}, got {short_clip!r}')
        if 'out_of_bound_opt' in kwargs:
            raise ValueError(
                'CheckedSampleFrames: use short_clip (error / loop / pad) '
                'instead of out_of_bound_opt')
        super().__init__(*args, **kwargs)
        self.short_clip = short_clip
        self._logged = set()

    def frames_needed(self, results: dict) -> int:
        """Video frames one clip spans (the last sampled index + 1)."""
        if self.target_fps is not None:
            fps = results.get('avg_fps')
            ratio = fps / self.target_fps if fps else 1.0
            # SampleFrames spreads the clip over this window (linspace)
            return int(self._get_ori_clip_len(ratio) - 1) + 1
        span = (self.clip_len - 1) * self.frame_interval + 1
        if self.temporal_jitter:
            span += self.frame_interval - 1
        return span

    def _message(self, results: dict, total: int, needed: int) -> str:
        filename = results.get('filename', results.get('frame_dir',
                                                       '<unnamed video>'))
        return (f'{filename}: {total} frames, but a clip of clip_len='
                f'{self.clip_len} frames frame_interval='
                f'{self.frame_interval} apart spans {needed} frames')

    def _log(self, results: dict, message: str) -> None:
        key = results.get('filename', results.get('frame_dir'))
        if key in self._logged:
            return
        self._logged.add(key)
        how = ('indices wrap around the end (the motion runs backwards '
               'inside the clip)' if self.short_clip == 'loop' else
               'the last frame is repeated')
        print_log(f'{message}; {how} (short_clip={self.short_clip!r})',
                  logger='current', level=logging.WARNING)

    def _pad(self, results: dict, total: int) -> dict:
        steps = np.arange(self.clip_len) * self.frame_interval
        clip = np.minimum(steps, total - 1)
        clips = self.num_clips * (2 if self.twice_sample and self.test_mode
                                  else 1)
        inds = np.tile(clip, clips) + results['start_index']
        results['frame_inds'] = inds.astype(np.int32)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = self.num_clips
        return results

    def transform(self, results: dict) -> dict:
        """Sample ``frame_inds``, applying ``short_clip`` to short videos.

        Raises:
            ShortClipError: the video is shorter than a clip and
                ``short_clip='error'``, or it has no frame at all.
        """
        total = int(results['total_frames'])
        needed = self.frames_needed(results)
        message = self._message(results, total, needed)
        if total < 1:
            raise ShortClipError(message)
        sampled = None
        if total >= needed:
            sampled = super().transform(results)
            clips = sampled['frame_inds'].reshape(-1, self.clip_len)
            # a mode of SampleFrames that still wraps around (e.g.
            # twice_sample) leaves a clip whose indices go back
            if self.target_fps is not None or self.clip_len == 1 or \
                    (np.diff(clips, axis=1) > 0).all():
                return sampled
            message += ' (sampled clips wrap around the end)'
        if self.short_clip == 'error':
            raise ShortClipError(
                f'{message}; set short_clip=\'loop\' or \'pad\' in the '
                "pipeline's CheckedSampleFrames step to accept such videos, "
                'or leave the video out of the annotation list')
        self._log(results, message)
        if self.short_clip == 'pad':
            return self._pad(results, total)
        return sampled if sampled is not None else super().transform(results)

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, short_clip={self.short_clip!r})'
