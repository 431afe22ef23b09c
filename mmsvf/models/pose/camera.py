# Copyright (c) mmsvf contributors. All rights reserved.
"""Pinhole camera projection."""
import torch

__all__ = ['perspective_projection']


def perspective_projection(points: torch.Tensor,
                           intrinsics: torch.Tensor,
                           min_depth: float = 1e-3) -> torch.Tensor:
    """Project camera-frame 3-D points with pinhole intrinsics.

    ``u = fx·x/z + cx``, ``v = fy·y/z + cy`` (x right, y down, z forward, as
    in MMHPSD). Depths are clamped to ``min_depth`` so that points behind or
    on the camera plane give finite (if meaningless) pixels.

    Args:
        points (Tensor): ``(..., K, 3)`` points in the camera frame.
        intrinsics (Tensor): ``(..., 4)`` as ``(fx, fy, cx, cy)`` in pixels,
            broadcastable against ``points.shape[:-2]``.
        min_depth (float): Lower bound of ``z``.

    Returns:
        Tensor: ``(..., K, 2)`` pixel coordinates.
    """
    if points.shape[-1] != 3:
        raise ValueError(f'points must be (..., K, 3), got '
                         f'{tuple(points.shape)}')
    if intrinsics.shape[-1] != 4:
        raise ValueError(f'intrinsics must be (..., 4) = (fx, fy, cx, cy), '
                         f'got {tuple(intrinsics.shape)}')
    k = intrinsics.to(points.dtype).unsqueeze(-2)  # (..., 1, 4)
    z = points[..., 2].clamp(min=min_depth)
    u = k[..., 0] * points[..., 0] / z + k[..., 2]
    v = k[..., 1] * points[..., 1] / z + k[..., 3]
    return torch.stack([u, v], dim=-1)
