# Copyright (c) mmsvf contributors. All rights reserved.
"""Video consistency (VC_n) of semantic segmentation, as defined by VSPW.

VSPW (Miao et al., CVPR 2021) measures temporal stability: for every window
of ``n`` consecutive frames of a video, among the pixels whose ground-truth
label is the same in all ``n`` frames, the fraction whose predicted label is
also the same in all ``n`` frames. Windows are averaged per video; mVC_n is
the mean over videos.

Relation to VSPW's script (``VC_perclip.py`` of VSPW_code): like it, every
ground-truth value counts as a label by default (VSPW's "others" 0 and void
255 included; ``ignore_index`` can exclude a value). Unlike it, every one of
the ``F - n + 1`` windows is used (the script's ``range(len(frames) - n)``
leaves out the last one and skips a video of exactly ``n`` frames), and a
window without any GT-constant pixel is skipped instead of giving ``nan``.
"""
import math
from typing import List, Optional

import numpy as np

__all__ = ['video_consistency', 'window_consistency']


def _as_frames(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f'video_consistency expects {name} of shape '
                         f'(F, H, W) (frames of one video), got '
                         f'{array.shape}')
    if not (np.issubdtype(array.dtype, np.integer)
            or np.issubdtype(array.dtype, np.bool_)):
        raise TypeError(f'video_consistency expects integer label maps for '
                        f'{name}, got dtype {array.dtype}')
    return array


def window_consistency(preds,
                       gts,
                       window: int,
                       ignore_index: Optional[int] = None) -> List[float]:
    """Per-window consistency of one video.

    Args:
        preds (array-like): predicted labels, ``(F, H, W)`` integers, frames
            in temporal order.
        gts (array-like): ground-truth labels, ``(F, H, W)`` integers.
        window (int): ``n``, the number of consecutive frames per window.
        ignore_index (int | None): ground-truth label excluded from the
            evaluation (a pixel that is ``ignore_index`` in any frame of the
            window never counts). None (default, the definition above and
            VSPW's script) keeps every pixel.

    Returns:
        list[float]: one value per window start ``s = 0 .. F - n``, the
        fraction of GT-constant pixels of frames ``s .. s+n-1`` whose
        prediction is constant too; ``nan`` for a window that has no
        GT-constant pixel (it carries no information and is skipped by
        :func:`video_consistency`).

    Raises:
        ValueError: shapes differ, are not ``(F, H, W)``, ``window < 1`` or
            ``window > F`` (a video shorter than the window has no window).
    """
    preds = _as_frames(preds, 'preds')
    gts = _as_frames(gts, 'gts')
    if preds.shape != gts.shape:
        raise ValueError(f'video_consistency: preds {preds.shape} and gts '
                         f'{gts.shape} must have the same (F, H, W) shape')
    window = int(window)
    if window < 1:
        raise ValueError(f'video_consistency: window must be >= 1, got '
                         f'{window}')
    num_frames = preds.shape[0]
    if window > num_frames:
        raise ValueError(
            f'video_consistency: window {window} is longer than the video '
            f'({num_frames} frames); a video needs at least `window` frames')

    # same-as-next-frame masks, (F-1, H, W)
    gt_same = gts[1:] == gts[:-1]
    pred_same = preds[1:] == preds[:-1]
    valid = None
    if ignore_index is not None:
        valid = gts != ignore_index

    values = []
    for start in range(num_frames - window + 1):
        end = start + window - 1  # last pair index (exclusive) in *_same
        gt_const = np.logical_and.reduce(gt_same[start:end], axis=0) \
            if window > 1 else np.ones(gts.shape[1:], dtype=bool)
        if valid is not None:
            # GT constant over the window, so checking the first frame is
            # enough to exclude ignored pixels.
            gt_const &= valid[start]
        total = int(gt_const.sum())
        if total == 0:
            values.append(math.nan)
            continue
        pred_const = np.logical_and.reduce(pred_same[start:end], axis=0) \
            if window > 1 else np.ones(gts.shape[1:], dtype=bool)
        values.append(float((gt_const & pred_const).sum()) / total)
    return values


def video_consistency(preds,
                      gts,
                      window: int,
                      ignore_index: Optional[int] = None) -> float:
    """Video consistency VC_n of one video (VSPW's mVC before the video mean).

    For each window of ``window`` consecutive frames, among the pixels whose
    ground truth is identical in all frames of the window (and, if given,
    not ``ignore_index``), the fraction whose prediction is also identical in
    all frames; the windows are averaged. Windows without any GT-constant
    pixel are skipped.

    Args:
        preds (array-like): predicted labels ``(F, H, W)``, frames in order.
        gts (array-like): ground-truth labels ``(F, H, W)``.
        window (int): ``n`` (VSPW reports n = 8 and n = 16).
        ignore_index (int | None): GT label excluded from evaluation; None
            (default) counts every label, as VSPW's evaluation does.

    Returns:
        float: VC_n in ``[0, 1]``; ``nan`` when no window has a GT-constant
        pixel.

    Raises:
        ValueError: bad shapes, ``window < 1``, or ``window > F`` (the video
            is shorter than the window; :class:`VideoConsistencyMetric` skips
            such videos and reports how many it skipped).

    Example:
        >>> gts = np.zeros((3, 2, 2), dtype=np.int64)
        >>> preds = gts.copy(); preds[2, 0, 0] = 1   # one pixel flickers
        >>> video_consistency(preds, gts, window=2)  # (1.0 + 3/4) / 2
        0.875
    """
    values = [
        v for v in window_consistency(preds, gts, window, ignore_index)
        if not math.isnan(v)
    ]
    if not values:
        return math.nan
    return float(np.mean(values))
