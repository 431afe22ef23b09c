# Copyright (c) mmsvf contributors. All rights reserved.
import math

import torch

from mmsvf.models.losses import GeodesicRotationLoss, ProjectedJointsMSELoss
from mmsvf.models.pose import axis_angle_to_rotmat, perspective_projection
from mmsvf.registry import MODELS


def test_geodesic_angle_and_safe_gradient():
    loss = GeodesicRotationLoss(loss_weight=10.)
    target = axis_angle_to_rotmat(torch.randn(4, 24, 3))
    delta = axis_angle_to_rotmat(torch.tensor([0., 0., 0.7]))
    pred = (delta @ target).requires_grad_()
    assert math.isclose(loss(pred, target).item(), 7.0, rel_tol=1e-4)
    same = target.clone().requires_grad_()
    value = loss(same, target)
    assert value.item() < 10 * 2e-3  # sqrt(2 eps), not NaN
    value.backward()
    assert torch.isfinite(same.grad).all()
    # 180 degrees is the maximum
    flip = axis_angle_to_rotmat(torch.tensor([math.pi, 0., 0.]))
    assert GeodesicRotationLoss(loss_weight=1.)(
        flip[None], torch.eye(3)[None]).item() > math.pi - 0.01


def test_mse_with_weight():
    loss = MODELS.build(dict(type='PoseMSELoss', loss_weight=50.))
    pred, target = torch.zeros(2, 3), torch.tensor([[1., 1, 1], [3, 3, 3]])
    assert loss(pred, target).item() == 50. * 5
    weight = torch.tensor([[1.], [0.]])
    assert loss(pred, target, weight).item() == 50.


def test_projected_joints_loss():
    joints = torch.tensor([[[[0.1, -0.2, 3.0], [0.0, 0.3, 4.0]]]])  # B T K 3
    k = torch.tensor([[100., 120., 32., 30.]])
    target = perspective_projection(joints, k[:, None])
    torch.testing.assert_close(
        target[0, 0, 0], torch.tensor([100 * 0.1 / 3 + 32,
                                       120 * -0.2 / 3 + 30]))
    loss = ProjectedJointsMSELoss(loss_weight=10.)
    size = torch.tensor([[64., 64.]])
    assert loss(joints, target, k, size).item() < 1e-10
    shifted = target + torch.tensor([6.4, 0.])  # 0.1 image widths in u
    assert math.isclose(
        loss(joints, shifted, k, size).item(), 10 * 0.01 / 2, rel_tol=1e-4)
