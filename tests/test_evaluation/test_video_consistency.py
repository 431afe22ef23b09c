# Copyright (c) mmsvf contributors. All rights reserved.
"""video_consistency (VSPW mVC_n) and VideoConsistencyMetric."""
import math

import numpy as np
import pytest
import torch

from mmsvf.evaluation.functional import video_consistency, window_consistency
from mmsvf.evaluation.metrics import VideoConsistencyMetric


def _brute_force(preds, gts, window, ignore_index=None):
    """Pixel-by-pixel reference, written independently of the fast path."""
    num_frames, height, width = gts.shape
    per_window = []
    for start in range(num_frames - window + 1):
        total = hit = 0
        for y in range(height):
            for x in range(width):
                gt_seq = [gts[start + k, y, x] for k in range(window)]
                if len(set(gt_seq)) != 1 or gt_seq[0] == ignore_index:
                    continue
                total += 1
                pred_seq = [preds[start + k, y, x] for k in range(window)]
                hit += len(set(pred_seq)) == 1
        if total:
            per_window.append(hit / total)
    return float(np.mean(per_window)) if per_window else math.nan


def test_all_consistent_is_one():
    gts = np.random.RandomState(0).randint(0, 5, (1, 6, 7)).repeat(10, 0)
    assert video_consistency(gts.copy(), gts, window=8) == 1.0
    # a wrong but temporally constant prediction is perfectly consistent
    assert video_consistency((gts + 1) % 5, gts, window=8) == 1.0


def test_one_flicker_known_fraction():
    gts = np.zeros((3, 4, 4), dtype=np.int64)
    preds = gts.copy()
    preds[1, 0, :2] = 3  # 2 of 16 pixels flicker in the middle frame
    # both 2-frame windows and the single 3-frame window contain the flicker
    assert window_consistency(preds, gts, 2) == [14 / 16, 14 / 16]
    assert video_consistency(preds, gts, window=2) == pytest.approx(14 / 16)
    assert video_consistency(preds, gts, window=3) == pytest.approx(14 / 16)

    late = gts.copy()
    late[2, 3, 3] = 1  # 1 pixel flickers in the last frame only
    assert window_consistency(late, gts, 2) == [1.0, 15 / 16]
    assert video_consistency(late, gts, 2) == pytest.approx((1 + 15 / 16) / 2)


def test_gt_changes_are_excluded():
    gts = np.zeros((4, 4, 4), dtype=np.int64)
    gts[2:, :, :2] = 2  # GT of half the pixels changes at frame 2
    preds = np.zeros_like(gts)
    preds[3, :, :2] = 7  # prediction changes only where the GT changed
    assert video_consistency(preds, gts, window=4) == 1.0
    preds[1, 0, 3] = 9  # one flicker among the 8 GT-constant pixels
    assert window_consistency(preds, gts, 4) == [7 / 8]


def test_ignore_index_excluded():
    gts = np.ones((3, 2, 5), dtype=np.int64)
    gts[:, 0, :] = 255
    preds = np.ones_like(gts)
    preds[1, 0, :] = 4  # flicker on the void pixels only
    # default (VSPW's evaluation): the constant 255 pixels count as a label
    assert video_consistency(preds, gts, 3) == 0.5
    assert video_consistency(preds, gts, 3, ignore_index=255) == 1.0


def test_window_without_constant_gt_is_skipped():
    gts = np.zeros((3, 1, 2), dtype=np.int64)
    gts[1] = 1  # no pixel is GT-constant over frames 0-1 or 1-2
    preds = np.zeros_like(gts)
    assert all(math.isnan(v) for v in window_consistency(preds, gts, 2))
    assert math.isnan(video_consistency(preds, gts, 2))
    # only the first 2-frame window has GT-constant pixels
    gts2 = np.zeros((3, 1, 2), dtype=np.int64)
    gts2[2] = 1
    preds2 = np.zeros_like(gts2)
    preds2[1, 0, 0] = 5
    assert video_consistency(preds2, gts2, 2) == 0.5


def test_matches_brute_force():
    rng = np.random.RandomState(3)
    gts = rng.randint(0, 2, (9, 5, 6))
    gts[:, :2] = 0  # some stable regions
    gts[:, 4, :3] = 255
    preds = np.where(rng.rand(9, 5, 6) < 0.1, 1 - gts % 2, gts)
    for window in (1, 2, 4, 8, 9):
        assert video_consistency(preds, gts, window) == pytest.approx(
            _brute_force(preds, gts, window), nan_ok=True)
        assert video_consistency(preds, gts, window, 255) == pytest.approx(
            _brute_force(preds, gts, window, 255), nan_ok=True)


def test_bad_input():
    gts = np.zeros((5, 4, 4), dtype=np.int64)
    with pytest.raises(ValueError, match='longer than the video'):
        video_consistency(gts, gts, window=8)
    with pytest.raises(ValueError, match='window must be >= 1'):
        video_consistency(gts, gts, window=0)
    with pytest.raises(ValueError, match='same'):
        video_consistency(gts[:4], gts, window=2)
    with pytest.raises(ValueError, match=r'\(F, H, W\)'):
        video_consistency(gts[0], gts[0], window=1)
    with pytest.raises(TypeError, match='integer'):
        video_consistency(gts.astype(np.float32), gts, window=2)


def _sample(video, index, pred, gt):
    return dict(
        video_name=video,
        frame_index=index,
        img_path=f'{video}/{index:08d}.jpg',
        pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
        gt_sem_seg=dict(data=torch.as_tensor(gt)[None]))


@pytest.mark.parametrize('compress', [True, False])
def test_metric_orders_frames_and_averages_videos(compress):
    rng = np.random.RandomState(0)
    gts_a = np.zeros((10, 4, 4), dtype=np.int64)
    preds_a = gts_a.copy()
    preds_a[4, 0, 0] = 2  # one flicker
    gts_b = rng.randint(0, 3, (1, 4, 4)).repeat(12, 0)
    gts_b[:, 0, 0] = 255
    preds_b = gts_b.copy()
    preds_b[:, 0, 0] = rng.randint(0, 3, 12)  # flicker on an ignored pixel
    gts_c = np.zeros((5, 4, 4), dtype=np.int64)  # shorter than the window

    samples = [_sample('a', i, preds_a[i], gts_a[i]) for i in range(10)]
    samples += [_sample('b', i, preds_b[i], gts_b[i]) for i in range(12)]
    samples += [_sample('c', i, gts_c[i], gts_c[i]) for i in range(5)]
    order = np.random.RandomState(1).permutation(len(samples))
    for ignore_index in (None, 255):
        metric = VideoConsistencyMetric(
            windows=(8, ), compress=compress, ignore_index=ignore_index)
        for start in range(0, len(order), 4):
            metric.process({}, [samples[i] for i in order[start:start + 4]])
        result = metric.evaluate(len(samples))

        expected = np.mean([
            video_consistency(preds_a, gts_a, 8, ignore_index),
            video_consistency(preds_b, gts_b, 8, ignore_index)
        ])
        assert result['mVC8'] == pytest.approx(round(expected * 100, 2))
        assert result['mVC8'] < 100
    # video a: all 3 windows of 8 contain the flicker at frame 4
    assert video_consistency(preds_a, gts_a, 8) == pytest.approx(15 / 16)
    # video b: the random labels of the void pixel change in every window
    assert video_consistency(preds_b, gts_b, 8, ignore_index=255) == 1.0
    assert video_consistency(preds_b, gts_b, 8) == pytest.approx(15 / 16)


def test_metric_errors_and_empty():
    metric = VideoConsistencyMetric(windows=(16, ))
    frame = np.zeros((2, 2), dtype=np.int64)
    metric.process({}, [_sample('v', i, frame, frame) for i in range(3)])
    assert math.isnan(metric.evaluate(3)['mVC16'])  # every video too short

    metric = VideoConsistencyMetric(windows=(2, ))
    metric.process({}, [_sample('v', 0, frame, frame)] * 2)
    with pytest.raises(ValueError, match='frame 0 of video "v"'):
        metric.evaluate(2)

    bad = _sample('v', 0, frame, frame)
    del bad['video_name']
    with pytest.raises(KeyError, match='video_name'):
        VideoConsistencyMetric().process({}, [bad])
    with pytest.raises(ValueError, match='positive'):
        VideoConsistencyMetric(windows=(0, ))
