# Copyright (c) mmsvf contributors. All rights reserved.
"""Tests written against mutants that survived the evaluation tests
(``tools/dev/mutation_check.sh functional``, docs/testing.md): the pelvis
index bounds, single-skeleton Procrustes, the degenerate (zero-variance)
prediction, float32 inputs, and VC with one-frame windows, boolean label
maps and a skipped window before others.
"""
import math

import numpy as np
import pytest

from mmsvf.evaluation.functional import (
    mesh_error,
    pose_errors,
    procrustes_align,
    video_consistency,
    window_consistency,
)


def _skeletons(n=3, joints=17, seed=0):
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(n, joints, 3))
    pred = gt + 0.1 * rng.normal(size=gt.shape)
    return pred, gt


def test_pelvis_index_bounds():
    pred, gt = _skeletons(joints=5)
    # the last joint and negative indices down to -J are valid
    for pelvis in (4, -5, (3, 4), (0, -1)):
        out = pose_errors(pred, gt, pelvis=pelvis)
        p, g = pred, gt
        idx = [pelvis] if np.isscalar(pelvis) else list(pelvis)
        expected = np.linalg.norm(
            (p - p[:, idx].mean(1, keepdims=True)) -
            (g - g[:, idx].mean(1, keepdims=True)), axis=-1).mean()
        assert out['pel_mpjpe'] == pytest.approx(expected, rel=1e-12)
    for pelvis in (5, -6, (0, 5), ()):
        with pytest.raises(ValueError, match='5 joints'):
            pose_errors(pred, gt, pelvis=pelvis)


def test_single_skeleton_procrustes():
    pred, gt = _skeletons(n=1)
    batch = procrustes_align(pred, gt)
    single = procrustes_align(pred[0], gt[0])
    assert single.shape == (17, 3)
    np.testing.assert_array_equal(single, batch[0])
    single, (s, r, t) = procrustes_align(pred[0], gt[0],
                                         return_transform=True)
    assert single.shape == (17, 3) and s.shape == (1, )


def test_degenerate_prediction_has_zero_scale():
    """All predicted joints at one point: no scale / rotation to fit, the
    aligned skeleton collapses onto the GT centroid (scale 0)."""
    _, gt = _skeletons(n=2)
    pred = np.ones_like(gt)
    aligned, (s, r, t) = procrustes_align(pred, gt, return_transform=True)
    np.testing.assert_array_equal(s, [0., 0.])
    np.testing.assert_allclose(aligned,
                               np.broadcast_to(gt.mean(1, keepdims=True),
                                               gt.shape), atol=1e-12)
    # the mesh error applies that transform to the vertices: all on the
    # joints' centroid
    verts = np.random.default_rng(1).normal(size=(2, 30, 3))
    err = mesh_error(pred, gt, verts, verts, reduce=False)
    expected = np.linalg.norm(gt.mean(1, keepdims=True) - verts, axis=-1)
    np.testing.assert_allclose(err, expected, atol=1e-12)


def test_inputs_are_computed_in_float64():
    pred, gt = _skeletons()
    p32, g32 = pred.astype(np.float32), gt.astype(np.float32)
    out32 = pose_errors(p32, g32, reduce=False)
    out64 = pose_errors(p32.astype(np.float64), g32.astype(np.float64),
                        reduce=False)
    for key in out64:
        assert out32[key].dtype == np.float64
        np.testing.assert_array_equal(out32[key], out64[key])
    # integer (e.g. millimetre) coordinates too
    pi, gi = np.round(pred * 1000).astype(np.int64), np.round(
        gt * 1000).astype(np.int64)
    np.testing.assert_array_equal(
        procrustes_align(pi, gi), procrustes_align(pi.astype(float),
                                                   gi.astype(float)))


def test_one_frame_window():
    gts = np.random.default_rng(2).integers(0, 3, size=(4, 3, 5))
    preds = np.random.default_rng(3).integers(0, 3, size=(4, 3, 5))
    # one frame: every pixel is GT-constant and prediction-constant
    assert window_consistency(preds, gts, 1) == [1.0] * 4
    assert window_consistency(preds, gts, 1, ignore_index=0) == [1.0] * 4
    assert video_consistency(preds, gts, 1) == 1.0


def test_boolean_label_maps_are_accepted():
    gts = np.zeros((3, 2, 2), dtype=bool)
    preds = gts.copy()
    preds[2, 0, 0] = True
    assert video_consistency(preds, gts, 2) == pytest.approx(0.875)
    with pytest.raises(TypeError, match='integer'):
        video_consistency(preds.astype(np.float32), gts, 2)


def test_windows_after_a_skipped_window_still_count():
    gts = np.zeros((4, 2, 2), dtype=np.int64)
    gts[1] = 1  # frames 0-1 and 1-2 change everywhere; 2-3 are constant
    preds = gts.copy()
    preds[3, 0, 0] = 5
    values = window_consistency(preds, gts, 2)
    assert math.isnan(values[0]) and math.isnan(values[1])
    assert values[2] == 0.75
    assert video_consistency(preds, gts, 2) == 0.75
