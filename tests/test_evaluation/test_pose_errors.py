# Copyright (c) mmsvf contributors. All rights reserved.
import numpy as np
import pytest
from mmpose.evaluation.functional import keypoint_mpjpe

from mmsvf.evaluation.functional import (
    apply_similarity,
    mesh_error,
    pose_errors,
    procrustes_align,
)


def _rotation(seed):
    q = np.random.default_rng(seed).normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w),
                      2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z),
                      2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w),
                      1 - 2 * (x * x + y * y)]])


def test_similarity_copy_has_zero_pa_mpjpe():
    gt = np.random.default_rng(0).normal(size=(5, 24, 3))
    rot = _rotation(1)
    pred = 1.7 * gt @ rot.T + np.array([0.3, -2.0, 5.0])
    err = pose_errors(pred, gt)
    assert err['pa_mpjpe'] == pytest.approx(0, abs=1e-9)
    assert err['mpjpe'] > 1.0
    assert err['pel_mpjpe'] > 0.1
    # the recovered transform is the inverse of the applied one
    _, (s, r, t) = procrustes_align(pred, gt, return_transform=True)
    np.testing.assert_allclose(s, 1 / 1.7)
    np.testing.assert_allclose(r[0], rot.T, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0)


def test_pure_translation():
    gt = np.random.default_rng(2).normal(size=(3, 24, 3))
    shift = np.array([3., 4., 12.])  # |shift| = 13
    err = pose_errors(gt + shift, gt)
    assert err['mpjpe'] == pytest.approx(13.0)
    assert err['pel_mpjpe'] == pytest.approx(0, abs=1e-12)
    assert err['pa_mpjpe'] == pytest.approx(0, abs=1e-9)


def test_hand_computed_three_joints():
    # gt on the x axis; the third predicted joint is lifted by h = 3 along y.
    gt = np.array([[-1., 0, 0], [1, 0, 0], [0, 0, 0]])
    pred = np.array([[-1., 0, 0], [1, 0, 0], [0, 3, 0]])
    err = pose_errors(pred, gt, pelvis=(0, 1))
    assert err['mpjpe'] == pytest.approx(1.0)  # (0 + 0 + 3) / 3
    assert err['pel_mpjpe'] == pytest.approx(1.0)  # both pelvises at 0
    # Procrustes: centroid (0, 1, 0) removed, var = 8, trace(RK) = 2, so the
    # scale is 1/4; errors sqrt(0.75² + 0.25²) twice and 0.5
    expected = (2 * np.sqrt(0.625) + 0.5) / 3
    assert err['pa_mpjpe'] == pytest.approx(expected)
    # with the lifted joint as the pelvis, the other two move by 3 instead
    err2 = pose_errors(pred, gt, pelvis=2)
    assert err2['pel_mpjpe'] == pytest.approx(2.0)  # (3 + 3 + 0) / 3


def test_matches_mmpose_keypoint_mpjpe():
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(6, 17, 3))
    pred = gt + rng.normal(scale=0.2, size=gt.shape)
    mask = np.ones(gt.shape[:2], bool)
    err = pose_errors(pred, gt)
    assert err['mpjpe'] == pytest.approx(keypoint_mpjpe(pred, gt, mask))
    assert err['pa_mpjpe'] == pytest.approx(
        keypoint_mpjpe(pred, gt, mask, alignment='procrustes'))
    per_joint = pose_errors(pred, gt, reduce=False)
    assert per_joint['pa_mpjpe'].shape == (6, 17)


def test_pve_uses_joint_transform():
    rng = np.random.default_rng(4)
    gt_j, gt_v = rng.normal(size=(2, 24, 3)), rng.normal(size=(2, 50, 3))
    rot = np.stack([_rotation(5), _rotation(6)])
    s, t = np.array([0.8, 1.3]), np.array([[1., 2, 3], [-1, 0, 2]])
    pred_j = apply_similarity(gt_j, s, rot, t)
    pred_v = apply_similarity(gt_v, s, rot, t)
    assert mesh_error(pred_j, gt_j, pred_v, gt_v) == pytest.approx(0, abs=1e-9)
    # a mesh offset that the joints do not share is not aligned away
    assert mesh_error(pred_j, gt_j, pred_v + 0.5, gt_v) > 0.1


def test_bad_shapes():
    with pytest.raises(ValueError, match='pred'):
        pose_errors(np.zeros((2, 24, 2)), np.zeros((2, 24, 2)))
    with pytest.raises(ValueError, match='differ'):
        pose_errors(np.zeros((2, 24, 3)), np.zeros((2, 23, 3)))
    with pytest.raises(ValueError, match='pelvis'):
        pose_errors(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), pelvis=(1, 7))


def test_real_h36m_smpl_joints(shared_fixtures):
    """Real 24-joint SMPL skeletons of the Human3.6M fixture (metres)."""
    path = shared_fixtures / 'mmpose/tests/data/h36m/test_h36m.npz'
    if not path.is_file():
        pytest.skip(f'{path} not found')
    gt = np.load(path)['S'][..., :3].astype(np.float64)  # (4, 24, 3)
    assert gt.shape == (4, 24, 3)
    rng = np.random.default_rng(7)
    pred = gt + rng.normal(scale=0.03, size=gt.shape) + np.array(
        [0.1, 0.0, 0.2])
    err = pose_errors(pred, gt)
    mask = np.ones(gt.shape[:2], bool)
    assert err['mpjpe'] == pytest.approx(keypoint_mpjpe(pred, gt, mask))
    assert err['pa_mpjpe'] == pytest.approx(
        keypoint_mpjpe(pred, gt, mask, alignment='procrustes'))
    # the global offset leaves PEL-MPJPE at the noise level
    assert err['pel_mpjpe'] < 0.08 < err['mpjpe']
