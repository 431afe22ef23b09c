# Copyright (c) mmsvf contributors. All rights reserved.
"""Losses of the SMPL pose-tracking head.

As HumanPoseTracking_SNN ``utils/loss_funcs.py``.

Default weights of the predecessor recipe: rotation (geodesic) 10,
translation 50, shape β 1, 3-D joints 1, 2-D projected joints 10.
"""
from typing import Optional, Sequence

import torch
from torch import nn

from mmsvf.registry import MODELS
from ..pose.camera import perspective_projection

__all__ = ['GeodesicRotationLoss', 'PoseMSELoss', 'ProjectedJointsMSELoss']


def _weighted_mean(value: torch.Tensor,
                   weight: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean of ``value``; with ``weight`` (broadcastable) a weighted mean."""
    if weight is None:
        return value.mean()
    weight = weight.to(value.dtype).expand_as(value)
    return (value * weight).sum() / weight.sum().clamp(min=1e-8)


@MODELS.register_module()
class GeodesicRotationLoss(nn.Module):
    """Mean geodesic angle between rotation matrices.

    ``θ = arccos((tr(R̂ Rᵀ) - 1) / 2)``, with the cosine clamped to
    ``[-1 + eps, 1 - eps]`` so that ``arccos`` and its gradient stay finite
    (identical rotations give ``θ ≈ sqrt(2·eps)``, not NaN).

    Args:
        loss_weight (float): Multiplier. Default 10.
        eps (float): Clamp margin. Default 1e-6.
    """

    def __init__(self, loss_weight: float = 10., eps: float = 1e-6):
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(..., 3, 3)`` predicted rotations.
            target (Tensor): ``(..., 3, 3)`` target rotations.
            weight (Tensor, optional): ``(...)`` per-rotation weights.

        Returns:
            Tensor: scalar loss (radians × ``loss_weight``).
        """
        if pred.shape != target.shape or pred.shape[-2:] != (3, 3):
            raise ValueError(
                'GeodesicRotationLoss expects equal (..., 3, 3) shapes, got '
                f'{tuple(pred.shape)} and {tuple(target.shape)}')
        trace = (pred * target.to(pred.dtype)).sum(dim=(-2, -1))
        cos = ((trace - 1) * 0.5).clamp(-1 + self.eps, 1 - self.eps)
        return self.loss_weight * _weighted_mean(torch.acos(cos), weight)


@MODELS.register_module()
class PoseMSELoss(nn.Module):
    """Mean squared error of regressed quantities (translation, β, joints).

    Args:
        loss_weight (float): Multiplier. Default 1.
    """

    def __init__(self, loss_weight: float = 1.):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(..., D)`` predictions.
            target (Tensor): same shape as ``pred``.
            weight (Tensor, optional): weights broadcastable to ``pred``
                (e.g. ``(..., K, 1)`` joint visibility).

        Returns:
            Tensor: scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'PoseMSELoss: shapes differ, '
                             f'{tuple(pred.shape)} vs {tuple(target.shape)}')
        sq = (pred - target.to(pred.dtype))**2
        return self.loss_weight * _weighted_mean(sq, weight)


@MODELS.register_module()
class ProjectedJointsMSELoss(nn.Module):
    """MSE between perspective-projected 3-D joints and 2-D joint targets.

    Predicted camera-frame joints (translation included) are projected with
    the sample's intrinsics (:func:`perspective_projection`), both sides are
    divided by the image size (so the loss is in units of image extent, as in
    the predecessor code) and the projection is optionally clamped to
    ``[0, 1]``.

    Args:
        loss_weight (float): Multiplier. Default 10.
        normalize (bool): Divide pixels by ``(W, H)``. Default True.
        clamp (bool): Clamp normalised projections to ``[0, 1]``.
            Default True.
    """

    def __init__(self,
                 loss_weight: float = 10.,
                 normalize: bool = True,
                 clamp: bool = True):
        super().__init__()
        self.loss_weight = loss_weight
        self.normalize = normalize
        self.clamp = clamp

    def forward(self,
                joints3d: torch.Tensor,
                target2d: torch.Tensor,
                intrinsics: torch.Tensor,
                image_size: Optional[torch.Tensor | Sequence] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            joints3d (Tensor): ``(B, T, K, 3)`` predicted joints (metres,
                camera frame).
            target2d (Tensor): ``(B, T, K, 2)`` target pixels.
            intrinsics (Tensor): ``(B, 4)`` or ``(B, T, 4)``
                ``(fx, fy, cx, cy)`` of the (augmented) input frames.
            image_size (Tensor | Sequence, optional): ``(B, 2)`` or ``(2,)``
                ``(W, H)`` in pixels; required when ``normalize``.
            weight (Tensor, optional): ``(B, T, K, 1)`` visibility.

        Returns:
            Tensor: scalar loss.
        """
        if joints3d.shape[:-1] != target2d.shape[:-1] or \
                target2d.shape[-1] != 2:
            raise ValueError(
                'ProjectedJointsMSELoss: joints3d (..., K, 3) and target2d '
                f'(..., K, 2) disagree: {tuple(joints3d.shape)} vs '
                f'{tuple(target2d.shape)}')
        k = intrinsics
        while k.dim() < joints3d.dim() - 1:
            k = k.unsqueeze(-2)
        pred2d = perspective_projection(joints3d, k)
        target2d = target2d.to(pred2d.dtype)
        if self.normalize:
            if image_size is None:
                raise ValueError('ProjectedJointsMSELoss(normalize=True) '
                                 'needs image_size (W, H)')
            size = torch.as_tensor(image_size, dtype=pred2d.dtype,
                                   device=pred2d.device)
            while size.dim() < pred2d.dim():
                size = size.unsqueeze(-2)
            pred2d = pred2d / size
            target2d = target2d / size
            if self.clamp:
                pred2d = pred2d.clamp(0, 1)
        sq = (pred2d - target2d)**2
        return self.loss_weight * _weighted_mean(sq, weight)
