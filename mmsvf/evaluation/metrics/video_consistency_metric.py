# Copyright (c) mmsvf contributors. All rights reserved.
"""MMEngine metric wrapper of ``video_consistency`` (VSPW mVC_n)."""
import math
import zlib
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmsvf.registry import METRICS
from ..functional.video_consistency import video_consistency

__all__ = ['VideoConsistencyMetric']


def _to_numpy(data) -> np.ndarray:
    if hasattr(data, 'detach'):
        data = data.detach().cpu().numpy()
    return np.asarray(data)


@METRICS.register_module()
class VideoConsistencyMetric(BaseMetric):
    """VSPW's video consistency mVC_n over a whole validation/test set.

    Every data sample is one annotated frame: its ``pred_sem_seg`` and
    ``gt_sem_seg`` (``(1, H, W)``, as mmseg's ``IoUMetric`` reads them) plus
    the metainfo keys ``video_name`` and ``frame_index`` (the frame's index in
    its video; :class:`~mmsvf.datasets.VSPWDataset` sets both). The metric
    collects every frame (across ranks), orders each video's frames by
    ``frame_index``, computes VC_n per video for each ``n`` in ``windows``
    (:func:`~mmsvf.evaluation.functional.video_consistency`: GT-constant
    pixels of each n-frame window whose prediction is constant, averaged over
    windows) and averages over videos. Every GT value counts as a label, as
    in VSPW's evaluation (with ``reduce_zero_label`` VSPW's "others" and void
    both arrive as 255 and count as one label); ``ignore_index`` excludes a
    value instead. Videos shorter than ``n`` frames have no window and are
    skipped for that ``n`` (logged); a result with no evaluable video is
    ``nan``.

    Maps are kept zlib-compressed (``compress=True``) until evaluation: label
    maps compress ~20x, so a full VSPW val set fits in memory.

    Args:
        windows (Sequence[int]): window lengths n. Default ``(8, 16)``.
        ignore_index (int | None): GT label excluded from the evaluation.
            Default None (every pixel counts, as VSPW's evaluation).
        compress (bool): keep maps compressed until evaluation. Default True.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Default ``'cpu'``.
        prefix (str | None): metric name prefix. Default None.

    Returns (from ``evaluate``):
        dict: ``{'mVC8': float, 'mVC16': float}`` in percent (as
        ``IoUMetric``'s mIoU), rounded to 2 decimals.
    """

    default_prefix = None

    def __init__(self,
                 windows: Sequence[int] = (8, 16),
                 ignore_index: Optional[int] = None,
                 compress: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        windows = tuple(int(w) for w in windows)
        if not windows or min(windows) < 1:
            raise ValueError(f'VideoConsistencyMetric: windows must be '
                             f'positive integers, got {windows}')
        self.windows = windows
        self.ignore_index = ignore_index
        self.compress = compress

    # ------------------------------------------------------------------
    def _pack(self, array: np.ndarray):
        if array.min(initial=0) >= 0 and array.max(initial=0) <= 255:
            array = array.astype(np.uint8)
        else:
            array = array.astype(np.int32)
        if not self.compress:
            return array
        return (zlib.compress(np.ascontiguousarray(array).tobytes(), 1),
                array.dtype.str, array.shape)

    @staticmethod
    def _unpack(packed) -> np.ndarray:
        if isinstance(packed, np.ndarray):
            return packed
        raw, dtype, shape = packed
        return np.frombuffer(zlib.decompress(raw), dtype=dtype).reshape(shape)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Store one annotated frame per data sample.

        Args:
            data_batch (dict): the loader's batch (unused).
            data_samples (Sequence[dict]): model outputs as dicts with
                ``pred_sem_seg.data`` ``(1, H, W)``, ``gt_sem_seg.data``
                ``(1, H, W)``, ``video_name`` and ``frame_index``.
        """
        for sample in data_samples:
            where = sample.get('img_path', '<unknown frame>')
            for key in ('video_name', 'frame_index'):
                if key not in sample:
                    raise KeyError(
                        f'VideoConsistencyMetric needs metainfo "{key}" in '
                        f'every data sample (frame {where}); use a video '
                        'dataset such as mmsvf.VSPWDataset with '
                        'mmsvf.PackClipSegInputs')
            if 'gt_sem_seg' not in sample:
                raise KeyError(
                    f'VideoConsistencyMetric: no gt_sem_seg for frame '
                    f'{where} of video "{sample["video_name"]}"')
            pred = _to_numpy(sample['pred_sem_seg']['data']).squeeze()
            gt = _to_numpy(sample['gt_sem_seg']['data']).squeeze()
            if pred.shape != gt.shape or pred.ndim != 2:
                raise ValueError(
                    f'VideoConsistencyMetric: frame {where} of video '
                    f'"{sample["video_name"]}" has prediction shape '
                    f'{pred.shape} and ground truth shape {gt.shape}; '
                    'both must be the same (H, W)')
            self.results.append(
                (str(sample['video_name']), int(sample['frame_index']),
                 where, self._pack(pred), self._pack(gt)))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Group frames per video, order them and average VC_n.

        Args:
            results (list[tuple]): ``(video, frame_index, img_path, pred,
                gt)`` from every rank.

        Returns:
            dict[str, float]: ``mVC{n}`` in percent for every window ``n``.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        videos = defaultdict(dict)
        for video, index, where, pred, gt in results:
            if index in videos[video]:
                raise ValueError(
                    f'VideoConsistencyMetric: frame {index} of video '
                    f'"{video}" was evaluated twice ({videos[video][index][0]}'
                    f' and {where}); every annotated frame must appear once')
            videos[video][index] = (where, pred, gt)

        metrics = {}
        for window in self.windows:
            per_video, skipped = [], []
            for video in sorted(videos):
                frames = videos[video]
                if len(frames) < window:
                    skipped.append(video)
                    continue
                order = sorted(frames)
                preds = [self._unpack(frames[i][1]) for i in order]
                gts = [self._unpack(frames[i][2]) for i in order]
                shapes = {p.shape for p in preds}
                if len(shapes) != 1:
                    raise ValueError(
                        f'VideoConsistencyMetric: frames of video "{video}" '
                        f'have different shapes {sorted(shapes)}')
                value = video_consistency(
                    np.stack(preds), np.stack(gts), window,
                    self.ignore_index)
                if not math.isnan(value):
                    per_video.append(value)
            if skipped:
                print_log(
                    f'mVC{window}: {len(skipped)} of {len(videos)} videos '
                    f'have fewer than {window} annotated frames and are '
                    f'skipped (e.g. "{skipped[0]}")',
                    logger=logger)
            if per_video:
                metrics[f'mVC{window}'] = round(
                    float(np.mean(per_video)) * 100, 2)
            else:
                print_log(
                    f'mVC{window}: no video has {window} frames with a '
                    'GT-constant pixel; reporting nan',
                    logger=logger)
                metrics[f'mVC{window}'] = math.nan
        return metrics
