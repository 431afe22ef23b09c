# Copyright (c) mmsvf contributors. All rights reserved.
"""Write / show test clips with their ground truth and predicted labels."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmsvf.registry import HOOKS
from mmsvf.visualization import (
    clip_frames,
    draw_text_lines,
    read_label_map,
    upscale,
    write_video,
)

# read_label_map lives in mmsvf.visualization; re-exported for old imports
__all__ = ['VideoVisualizationHook', 'read_label_map']


@HOOKS.register_module()
class VideoVisualizationHook(Hook):
    """Save (or show) every ``interval``-th test clip with its labels.

    mmaction2 1.2.0's ``VisualizationHook`` permutes each input as a 4-D
    ``(C, H, W, T)`` array, which fails on the ``(views, C, T, H, W)``
    NCTHW inputs of 3-D recognisers, and looks for ``pred_labels`` while the
    recognisers write ``pred_label``/``pred_score``. This hook reads the raw
    (un-normalised, uint8) NCTHW clip of the first view and writes
    ``<out_dir>/<video name>.mp4`` with the ground truth and the top
    predictions drawn on every frame (``tools/test.py --show-dir`` /
    ``--show`` turn it on). The drawing is :mod:`mmsvf.visualization`'s.

    Args:
        enable (bool): Draw at all. Defaults to False.
        interval (int): Draw every ``interval``-th sample. Defaults to 1.
        show (bool): Show the frames in a window (needs a display).
            Defaults to False.
        out_dir (str, optional): Folder for the mp4 files. Defaults to None.
        wait_time (float): Seconds per frame when showing. Defaults to 0.1.
        topk (int): Predictions written per clip. Defaults to 3.
        label_map (str, optional): Class-name file (one per line); falls back
            to the dataset's ``classes`` metainfo, then to the indices.
        fps (int): Frame rate of the written files. Defaults to 4.
        min_size (int): Frames are upscaled (nearest) so their short side is
            at least this. Defaults to 256.
    """

    priority = 'NORMAL'

    def __init__(self, enable: bool = False, interval: int = 1,
                 show: bool = False, out_dir: Optional[str] = None,
                 wait_time: float = 0.1, topk: int = 3,
                 label_map: Optional[str] = None, fps: int = 4,
                 min_size: int = 256) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.enable = enable
        self.interval = interval
        self.show = show
        self.out_dir = out_dir
        self.wait_time = wait_time
        self.topk = topk
        self.label_map = label_map
        self.fps = fps
        self.min_size = min_size
        self._classes = None
        self._seen = 0

    def before_test_epoch(self, runner) -> None:
        self._seen = 0
        if self.label_map is not None:
            self._classes = read_label_map(self.label_map)
        else:
            meta = getattr(runner.test_dataloader.dataset, 'metainfo', None)
            self._classes = (meta or {}).get('classes', None)
        if self.enable and self.out_dir is not None and is_main_process():
            os.makedirs(self.out_dir, exist_ok=True)

    def _name(self, label: int) -> str:
        if self._classes is not None and 0 <= label < len(self._classes):
            return f'{label} {self._classes[label]}'
        return str(label)

    @staticmethod
    def clip_frames(video: torch.Tensor) -> np.ndarray:
        """First view of one packed input as RGB frames.

        Args:
            video (Tensor): ``(views, C, T, H, W)`` (NCTHW) or
                ``(views, C, H, W)`` (NCHW), uint8 or float in 0..255.

        Returns:
            np.ndarray: ``(T, H, W, 3)`` uint8 (``T = 1`` for NCHW).
        """
        try:
            return clip_frames(video)
        except ValueError as err:
            raise ValueError(f'VideoVisualizationHook: {err}') from err

    def label_lines(self, data_sample) -> list:
        """``gt: ...`` and the top-k ``name: score`` lines of a sample."""
        lines = []
        if 'gt_label' in data_sample:
            gt = int(torch.as_tensor(data_sample.gt_label).flatten()[0])
            lines.append(f'gt: {self._name(gt)}')
        if 'pred_score' in data_sample:
            score = torch.as_tensor(data_sample.pred_score).float()
            top = score.topk(min(self.topk, score.numel()))
            for s, i in zip(top.values.tolist(), top.indices.tolist()):
                lines.append(f'{self._name(i)}: {s:.2f}')
        return lines

    def draw(self, frames: np.ndarray, data_sample) -> np.ndarray:
        """Upscale the frames and draw the labels on them (RGB in/out)."""
        return draw_text_lines(upscale(frames, self.min_size),
                               self.label_lines(data_sample))

    def _write(self, path: str, frames: np.ndarray) -> None:
        write_video(path, frames, self.fps)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.enable or outputs is None or data_batch is None:
            return
        inputs = data_batch['inputs']
        for video, sample in zip(inputs, outputs):
            index = self._seen
            self._seen += 1
            if index % self.interval:
                continue
            drawn = self.draw(self.clip_frames(video), sample)
            name = osp.splitext(osp.basename(
                str(sample.get('filename', f'sample_{index:06d}'))))[0]
            if self.out_dir is not None:
                self._write(osp.join(self.out_dir, f'{name}.mp4'), drawn)
            if self.show:
                for frame in drawn:
                    cv2.imshow(name, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                    cv2.waitKey(max(1, int(self.wait_time * 1000)))
