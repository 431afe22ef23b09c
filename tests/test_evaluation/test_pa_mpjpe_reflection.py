# Copyright (c) mmsvf contributors. All rights reserved.
"""PA-MPJPE of a mirrored skeleton: Procrustes alignment may rotate, scale
and translate the prediction but not reflect it (``det R = +1``), so a mirror
image of the ground truth keeps a large error -- the value mmpose's
``keypoint_mpjpe(..., alignment='procrustes')`` gives."""
import numpy as np
import pytest
from mmpose.evaluation.functional import keypoint_mpjpe

from mmsvf.evaluation.functional import pose_errors, procrustes_align

MIRROR_X = np.diag([-1.0, 1.0, 1.0])


def mmpose_pa(pred, gt):
    mask = np.ones(gt.shape[:2], dtype=bool)
    return keypoint_mpjpe(pred, gt, mask, alignment='procrustes')


def test_hand_set_mirrored_skeleton():
    # a non-planar 5-joint skeleton and its mirror image in the x = 0 plane
    gt = np.array([[0., 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1]])
    pred = gt @ MIRROR_X
    err = pose_errors(pred, gt, pelvis=(0, 1))
    # mirrored: only x changes sign; |2x| for each joint: 0, 2, 0, 0, 2
    assert err['mpjpe'] == pytest.approx(0.8)
    expected = mmpose_pa(pred[None], gt[None])
    assert expected == pytest.approx(0.8265907736712546, rel=1e-9)
    assert err['pa_mpjpe'] == pytest.approx(expected, rel=1e-9)
    _, (s, r, t) = procrustes_align(pred, gt, return_transform=True)
    assert np.linalg.det(r[0]) == pytest.approx(1.0)


@pytest.mark.parametrize('seed', [0, 1])
def test_random_mirrored_skeletons_match_mmpose(seed):
    rng = np.random.default_rng(seed)
    gt = rng.normal(size=(4, 17, 3))
    # mirror, then an arbitrary similarity transform on top
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot = q * np.sign(np.linalg.det(q))  # a proper rotation
    pred = 1.3 * gt @ MIRROR_X @ rot.T + np.array([0.5, -1.0, 2.0])
    err = pose_errors(pred, gt, reduce=False)['pa_mpjpe']
    expected = mmpose_pa(pred, gt)
    assert err.mean() == pytest.approx(expected, rel=1e-9)
    # a reflection cannot be undone: far from 0 (the std of gt is 1)
    assert err.mean() > 0.3
    # per sample too
    for i in range(4):
        assert err[i].mean() == pytest.approx(
            mmpose_pa(pred[i:i + 1], gt[i:i + 1]), rel=1e-9)
    # without the mirror, the same transform is undone exactly
    plain = 1.3 * gt @ rot.T + np.array([0.5, -1.0, 2.0])
    assert pose_errors(plain, gt)['pa_mpjpe'] == pytest.approx(0, abs=1e-9)
