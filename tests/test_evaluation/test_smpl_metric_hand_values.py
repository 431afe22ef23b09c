# Copyright (c) mmsvf contributors. All rights reserved.
"""SMPLPoseMetric on a 3-joint, 2-frame clip whose every metric is computed
by hand (the expected values are literals, not ``pose_errors`` output)."""
import math

import numpy as np
import pytest
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

from mmsvf.evaluation.metrics import SMPLPoseMetric

# joints 0 and 1 on the x axis 0.2 m apart, joint 2 between them; the body
# stands 4 m in front of the camera
GT = np.array([[-0.1, 0.0, 4.0], [0.1, 0.0, 4.0], [0.0, 0.0, 4.0]])
# frame A: the whole body moved by (3, 4, 0) cm -> every joint 5 cm off
PRED_A = GT + [0.03, 0.04, 0.0]
# frame B: joint 2 lifted by 30 cm, joints 0 and 1 exact
PRED_B = GT + [[0, 0, 0], [0, 0, 0], [0, 0.3, 0]]
VERT = np.array([[0.0, 0.0, 4.0]])  # one mesh vertex


def sample():
    ds = PoseDataSample(metainfo=dict(
        target_img_path=['clip.fullpic0000.jpg', 'clip.fullpic0001.jpg']))
    ds.gt_instances = InstanceData(
        lifting_target=np.stack([GT, GT]),
        lifting_target_visible=np.ones((2, 3)),
        vertices=np.stack([VERT, VERT]))
    ds.pred_instances = InstanceData(
        keypoints=np.stack([PRED_A, PRED_B]),
        # the mesh moves with the body in frame A, stays in frame B
        vertices=np.stack([VERT + [0.03, 0.04, 0.0], VERT]))
    return ds.to_dict()


def test_hand_computed_metrics():
    metric = SMPLPoseMetric(pelvis=(0, 1), neck=0, head=1)
    metric.process({}, [sample()])
    res = metric.compute_metrics(metric.results)
    # MPJPE: frame A 50 mm for all joints; frame B (0 + 0 + 300) / 3 = 100
    assert res['MPJPE'] == pytest.approx((50 + 100) / 2, rel=1e-9)
    # PEL-MPJPE (pelvis = mean of joints 0, 1): A 0 (a pure translation);
    # B: both pelvises at the same place -> 100
    assert res['PEL-MPJPE'] == pytest.approx((0 + 100) / 2, rel=1e-9)
    # PA-MPJPE: A 0. B (in units of 0.1 m, gt -1, +1, 0 on x; pred joint 2
    # at y = 3): pred centroid y = 1; centred pred (-1,-1), (1,-1), (0,2)
    # (x, y); cross-covariance with gt: trace 2 along x, nothing else ->
    # R = I; var = 1+1+1+1+0+4 = 8, scale 2/8 = 1/4; aligned
    # (-1/4,-1/4), (1/4,-1/4), (0,1/2): errors sqrt(0.75^2 + 0.25^2) =
    # sqrt(0.625) twice and 0.5 -> (2 sqrt(0.625) + 0.5) / 3 units of 100 mm
    pa_b = 100 * (2 * math.sqrt(0.625) + 0.5) / 3  # 69.37 mm
    assert res['PA-MPJPE'] == pytest.approx((0 + pa_b) / 2, rel=1e-9)
    # PVE with the joints' Procrustes transform: A undoes the translation
    # (0 mm); B: s = 1/4, R = I, t = mu_gt - s mu_pred = (0, 0, 4) -
    # (0, 0.025, 1) = (0, -0.025, 3); the vertex (0, 0, 4) goes to
    # s (0, 0, 4) + t = (0, -0.025, 4): 25 mm off
    assert res['PVE'] == pytest.approx((0 + 25) / 2, rel=1e-9)
    # PCKh@0.5: head size 2 |joint0 - joint1| = 0.4 m, threshold 0.2 m on
    # the pelvis-aligned errors: A 3/3 hits; B 2/3 (0.3 m > 0.2 m)
    assert res['PCKh@0.5'] == pytest.approx(100 * (1 + 2 / 3) / 2,
                                            rel=1e-9)


def test_unit_scale_and_threshold():
    metric = SMPLPoseMetric(unit_scale=1.0, pelvis=(0, 1), neck=0, head=1,
                            pckh_thr=1.0)
    metric.process({}, [sample()])
    res = metric.compute_metrics(metric.results)
    assert res['MPJPE'] == pytest.approx(0.075, rel=1e-9)  # metres
    # threshold 0.4 m: every joint within it
    assert res['PCKh@1'] == pytest.approx(100.0)
