# Copyright (c) mmsvf contributors. All rights reserved.
"""mmseg's ``SegVisualizationHook`` with overlay names unique per video."""
import os.path as osp
import re
from typing import Sequence

import mmcv
from mmengine import fileio
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.structures import SegDataSample

from mmsvf.registry import HOOKS

__all__ = ['VideoSegVisualizationHook']


@HOOKS.register_module()
class VideoSegVisualizationHook(SegVisualizationHook):
    """Draw each evaluated frame through mmseg's ``SegLocalVisualizer``.

    Same arguments and behaviour as mmseg's ``SegVisualizationHook`` (enable
    with ``draw=True``; ``tools/test.py --show-dir DIR`` does that and saves
    through the visualiser's ``LocalVisBackend``), but the overlay of a data
    sample with ``video_name`` metainfo is named
    ``<mode>_<video_name>_<frame file>`` instead of ``<mode>_<frame file>``:
    VSPW's frame files (``00000012.jpg``) repeat in every video and would
    overwrite each other. Each output shows the key frame (``img_path``) with
    its ground truth and prediction.
    """

    def _after_iter(self,
                    runner,
                    batch_idx: int,
                    data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        for output in outputs:
            img_path = output.img_path
            img = mmcv.imfrombytes(
                fileio.get(img_path, backend_args=self.backend_args),
                channel_order='rgb')
            name = osp.basename(img_path)
            video = output.metainfo.get('video_name')
            if video is not None:
                name = re.sub(r'[^\w.-]', '_', f'{video}_{name}')
            self._visualizer.add_datasample(
                f'{mode}_{name}',
                img,
                data_sample=output,
                show=self.show,
                wait_time=self.wait_time,
                # runner.iter would build the train loop (and its dataset)
                # inside tools/test.py
                step=batch_idx)
