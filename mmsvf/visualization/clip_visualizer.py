# Copyright (c) mmsvf contributors. All rights reserved.
"""A visualiser for whole clips: every frame of every view side by side."""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import master_only
from mmengine.visualization import Visualizer

from mmsvf.registry import VISUALIZERS
from .clip_drawing import draw_text_lines, frames_grid, upscale, write_video

__all__ = ['ClipVisualizer']


@VISUALIZERS.register_module()
class ClipVisualizer(Visualizer):
    """Draw clips as one image grid (rows = clips, columns = frames) or as
    an mp4 whose frames hold every row side by side.

    A clip-consistent augmentation (the same crop, flip or resize on every
    frame) shows as rows whose frames line up; drawing the same sample
    several times shows how the random augmentation varies.
    ``tools/misc/browse_dataset.py`` uses it. Without ``out_file`` the grid
    goes to the visualiser's backends (``add_image``: ``LocalVisBackend``
    writes ``<save_dir>/vis_data/vis_image/<name>_<step>.png``,
    ``TensorboardVisBackend`` an image summary).

    Args:
        name (str): Instance name (mmengine visualisers are named
            singletons). Defaults to ``'clip_visualizer'``.
        min_size (int): Frames are upscaled (nearest, integer factor) so that
            their short side is at least this. Defaults to 128.
        pad (int): Pixels between frames and rows. Defaults to 2.
        **kwargs: ``vis_backends``, ``save_dir`` ... of mmengine's
            ``Visualizer``.
    """

    def __init__(self, name: str = 'clip_visualizer', min_size: int = 128,
                 pad: int = 2, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if min_size < 1:
            raise ValueError(f'min_size must be >= 1, got {min_size}')
        self.min_size = min_size
        self.pad = pad

    def draw_clips(self, clips: Sequence[np.ndarray],
                   texts: Optional[Sequence[Sequence[str]]] = None
                   ) -> list:
        """Upscale each clip and write its text lines on every frame.

        Args:
            clips (Sequence[np.ndarray]): ``(T_i, H_i, W_i, 3)`` uint8 RGB.
            texts (Sequence[Sequence[str]], optional): Lines per clip.

        Returns:
            list[np.ndarray]: The drawn clips.
        """
        texts = texts if texts is not None else [()] * len(clips)
        if len(texts) != len(clips):
            raise ValueError(f'{len(texts)} text lists for {len(clips)} '
                             'clips')
        out = []
        for clip, lines in zip(clips, texts):
            big = upscale(clip, self.min_size)
            # smaller letters on small frames, so that a line fits
            font = 0.5 if big.shape[2] >= 256 else 0.35
            out.append(draw_text_lines(big, lines, font_scale=font))
        return out

    @master_only
    def add_clips(self,
                  name: str,
                  clips: Sequence[np.ndarray],
                  texts: Optional[Sequence[Sequence[str]]] = None,
                  out_file: Optional[str] = None,
                  fps: float = 4,
                  step: int = 0) -> np.ndarray:
        """Draw ``clips`` and save them.

        Args:
            name (str): Image name for the backends.
            clips (Sequence[np.ndarray]): ``(T_i, H_i, W_i, 3)`` uint8 RGB.
            texts (Sequence[Sequence[str]], optional): Lines per clip.
            out_file (str, optional): Write here instead of the backends:
                ``.png``/``.jpg`` the grid, ``.mp4`` a video whose frame t
                shows frame t of every clip, one above the other (clips
                shorter than the longest hold their last frame).
            fps (float): Frame rate of an mp4. Defaults to 4.
            step (int): Backend step. Defaults to 0.

        Returns:
            np.ndarray: The grid ``(H', W', 3)`` (for an mp4, its frames
            ``(T, H', W', 3)``).
        """
        drawn = self.draw_clips(clips, texts)
        if out_file is not None and out_file.lower().endswith('.mp4'):
            length = max(len(c) for c in drawn)
            frames = np.stack([
                frames_grid([c[min(t, len(c) - 1)][None] for c in drawn],
                            pad=self.pad)
                for t in range(length)
            ])
            write_video(out_file, frames, fps)
            return frames
        grid = frames_grid(drawn, pad=self.pad)
        if out_file is not None:
            folder = osp.dirname(out_file)
            if folder:
                os.makedirs(folder, exist_ok=True)
            if not cv2.imwrite(out_file, cv2.cvtColor(grid,
                                                      cv2.COLOR_RGB2BGR)):
                raise RuntimeError(f'cannot write {out_file}')
        else:
            self.add_image(name, grid, step=step)
        return grid
