# Copyright (c) mmsvf contributors. All rights reserved.
"""Rotation representations used by the SMPL regression head.

All functions work on arbitrary leading dimensions ``(...)`` and keep the
autograd graph.
"""
import torch
import torch.nn.functional as F

__all__ = ['rot6d_to_rotmat', 'rotmat_to_rot6d', 'axis_angle_to_rotmat']


def rot6d_to_rotmat(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Map the continuous 6-D rotation representation to rotation matrices.

    Zhou et al., "On the Continuity of Rotation Representations in Neural
    Networks" (CVPR 2019): the 6 numbers are two 3-vectors ``a1 = x[..., 0:3]``
    and ``a2 = x[..., 3:6]``; Gram-Schmidt gives ``b1 = a1/|a1|``,
    ``b2 = (a2 - <b1, a2> b1)/|.|`` and ``b3 = b1 x b2``; the rotation matrix
    has columns ``[b1, b2, b3]`` (orthonormal, determinant +1).

    Args:
        x (Tensor): ``(..., 6)`` 6-D rotations.
        eps (float): Lower bound of the vector norms (avoids a division by
            zero for degenerate inputs).

    Returns:
        Tensor: ``(..., 3, 3)`` rotation matrices.
    """
    if x.shape[-1] != 6:
        raise ValueError(f'rot6d_to_rotmat expects (..., 6), got '
                         f'{tuple(x.shape)}')
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = F.normalize(a1, dim=-1, eps=eps)
    b2 = a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1
    b2 = F.normalize(b2, dim=-1, eps=eps)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_rot6d(rotmat: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rot6d_to_rotmat` on rotation matrices.

    Args:
        rotmat (Tensor): ``(..., 3, 3)`` rotation matrices.

    Returns:
        Tensor: ``(..., 6)``, the first two columns concatenated.
    """
    if rotmat.shape[-2:] != (3, 3):
        raise ValueError(f'rotmat_to_rot6d expects (..., 3, 3), got '
                         f'{tuple(rotmat.shape)}')
    return torch.cat([rotmat[..., :, 0], rotmat[..., :, 1]], dim=-1)


def axis_angle_to_rotmat(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle vectors to rotation matrices.

    ``R = I + A·K + B·K²`` with ``K`` the cross-product matrix of ``aa``,
    ``A = sin θ/θ`` and ``B = (1 - cos θ)/θ²``; both use their Taylor series
    near ``θ = 0`` so the result and its gradient stay exact at zero.

    Args:
        aa (Tensor): ``(..., 3)`` axis-angle vectors (radians).

    Returns:
        Tensor: ``(..., 3, 3)`` rotation matrices.
    """
    if aa.shape[-1] != 3:
        raise ValueError(f'axis_angle_to_rotmat expects (..., 3), got '
                         f'{tuple(aa.shape)}')
    theta2 = (aa * aa).sum(dim=-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < 1e-8
    safe2 = torch.where(small, torch.ones_like(theta2), theta2)
    safe = safe2.sqrt()
    coef_a = torch.where(small, 1 - theta2 / 6, torch.sin(safe) / safe)
    coef_b = torch.where(small, 0.5 - theta2 / 24,
                         (1 - torch.cos(safe)) / safe2)
    x, y, z = aa[..., 0], aa[..., 1], aa[..., 2]
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero],
                       dim=-1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(skew)
    return eye + coef_a * skew + coef_b * (skew @ skew)
