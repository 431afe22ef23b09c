# Copyright (c) mmsvf contributors. All rights reserved.
"""3-D pose and mesh errors: MPJPE, PEL-MPJPE, PA-MPJPE, PVE (numpy)."""
from typing import Dict, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'procrustes_align', 'apply_similarity', 'pose_errors', 'mesh_error'
]


def _as_batch(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f'{name} must be (N, J, 3) or (J, 3), got '
                         f'{x.shape}')
    return x


def procrustes_align(
    pred: np.ndarray,
    gt: np.ndarray,
    return_transform: bool = False
) -> Union[np.ndarray, Tuple[np.ndarray, Tuple[np.ndarray, np.ndarray,
                                                np.ndarray]]]:
    """Similarity (Procrustes) alignment of ``pred`` onto ``gt``, per sample.

    Finds the scale ``s``, rotation ``R`` (``det R = +1``) and translation
    ``t`` minimising ``Σ_j |s R p_j + t - g_j|²`` (Umeyama's SVD solution).

    Args:
        pred (np.ndarray): ``(N, J, 3)`` (or ``(J, 3)``) points to move.
        gt (np.ndarray): target points, same shape.
        return_transform (bool): Also return ``(s (N,), R (N, 3, 3),
            t (N, 3))``.

    Returns:
        np.ndarray | tuple: aligned ``(N, J, 3)`` points (``(J, 3)`` for a
        single skeleton), plus the transform when asked.
    """
    single = np.asarray(pred).ndim == 2
    p, g = _as_batch(pred, 'pred'), _as_batch(gt, 'gt')
    if p.shape != g.shape:
        raise ValueError(f'pred {p.shape} and gt {g.shape} differ')
    mu_p, mu_g = p.mean(axis=1, keepdims=True), g.mean(axis=1, keepdims=True)
    xp, xg = p - mu_p, g - mu_g
    var_p = (xp**2).sum(axis=(1, 2))
    cov = np.einsum('nji,njk->nik', xp, xg)  # (N, 3, 3) = Xpᵀ Xg
    u, sig, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(np.einsum('nij,njk->nik', u, vt)))
    d[d == 0] = 1.
    z = np.tile(np.eye(3), (len(p), 1, 1))
    z[:, 2, 2] = d
    # R = V Z Uᵀ maps pred onto gt
    rot = np.einsum('nji,njk,nlk->nil', vt, z, u)
    trace = sig[:, 0] + sig[:, 1] + d * sig[:, 2]
    scale = np.where(var_p > 0, trace / np.where(var_p > 0, var_p, 1.), 0.)
    transl = mu_g[:, 0] - scale[:, None] * np.einsum('nij,nj->ni', rot,
                                                      mu_p[:, 0])
    aligned = apply_similarity(p, scale, rot, transl)
    if single:
        aligned = aligned[0]
    if return_transform:
        return aligned, (scale, rot, transl)
    return aligned


def apply_similarity(points: np.ndarray, scale: np.ndarray, rot: np.ndarray,
                     transl: np.ndarray) -> np.ndarray:
    """Apply ``x ↦ s R x + t`` per sample.

    Args:
        points (np.ndarray): ``(N, M, 3)``.
        scale (np.ndarray): ``(N,)``.
        rot (np.ndarray): ``(N, 3, 3)``.
        transl (np.ndarray): ``(N, 3)``.

    Returns:
        np.ndarray: ``(N, M, 3)``.
    """
    points = _as_batch(points, 'points')
    return (np.asarray(scale)[:, None, None] *
            np.einsum('nij,nmj->nmi', rot, points) +
            np.asarray(transl)[:, None, :])


def _pelvis(x: np.ndarray, pelvis: Union[int, Sequence[int]]) -> np.ndarray:
    idx = [pelvis] if np.isscalar(pelvis) else list(pelvis)
    if not idx or max(idx) >= x.shape[1] or min(idx) < -x.shape[1]:
        raise ValueError(f'pelvis joints {pelvis} out of range for '
                         f'{x.shape[1]} joints')
    return x[:, idx].mean(axis=1, keepdims=True)


def pose_errors(pred: np.ndarray,
                gt: np.ndarray,
                pelvis: Union[int, Sequence[int]] = (1, 2),
                reduce: bool = True) -> Dict[str, np.ndarray]:
    """Joint position errors in the units of the inputs.

    * ``mpjpe``: mean Euclidean distance, no alignment (absolute positions);
    * ``pel_mpjpe``: after subtracting each skeleton's pelvis (the mean of
      joints ``pelvis``; SMPL's left/right hips 1 and 2 by default);
    * ``pa_mpjpe``: after Procrustes (scale, rotation, translation)
      alignment of each predicted skeleton to its ground truth.

    Args:
        pred (np.ndarray): ``(N, J, 3)`` predicted joints.
        gt (np.ndarray): ``(N, J, 3)`` ground-truth joints.
        pelvis (int | Sequence[int]): Joint(s) whose mean is the pelvis.
        reduce (bool): Average over samples and joints (floats) or return
            per-joint ``(N, J)`` errors.

    Returns:
        dict: ``mpjpe``, ``pel_mpjpe``, ``pa_mpjpe``.
    """
    p, g = _as_batch(pred, 'pred'), _as_batch(gt, 'gt')
    if p.shape != g.shape:
        raise ValueError(f'pred {p.shape} and gt {g.shape} differ')
    out = dict(
        mpjpe=np.linalg.norm(p - g, axis=-1),
        pel_mpjpe=np.linalg.norm((p - _pelvis(p, pelvis)) -
                                 (g - _pelvis(g, pelvis)),
                                 axis=-1),
        pa_mpjpe=np.linalg.norm(procrustes_align(p, g) - g, axis=-1))
    if reduce:
        out = {k: float(v.mean()) for k, v in out.items()}
    return out


def mesh_error(pred_joints: np.ndarray,
               gt_joints: np.ndarray,
               pred_vertices: np.ndarray,
               gt_vertices: np.ndarray,
               reduce: bool = True) -> Union[float, np.ndarray]:
    """Per-vertex error (PVE) after the joint-estimated Procrustes transform.

    The similarity transform that aligns ``pred_joints`` to ``gt_joints``
    (:func:`procrustes_align`) is applied to ``pred_vertices``; the error is
    the mean Euclidean distance to ``gt_vertices``.

    Args:
        pred_joints (np.ndarray): ``(N, J, 3)``.
        gt_joints (np.ndarray): ``(N, J, 3)``.
        pred_vertices (np.ndarray): ``(N, V, 3)``.
        gt_vertices (np.ndarray): ``(N, V, 3)``.
        reduce (bool): Mean over everything, or ``(N, V)`` errors.

    Returns:
        float | np.ndarray: the PVE in the input's units.
    """
    pv, gv = _as_batch(pred_vertices, 'pred_vertices'), _as_batch(
        gt_vertices, 'gt_vertices')
    if pv.shape != gv.shape:
        raise ValueError(f'pred_vertices {pv.shape} and gt_vertices '
                         f'{gv.shape} differ')
    _, (s, r, t) = procrustes_align(
        _as_batch(pred_joints, 'pred_joints'),
        _as_batch(gt_joints, 'gt_joints'),
        return_transform=True)
    if len(s) != len(pv):
        raise ValueError(f'{len(s)} skeletons for {len(pv)} meshes')
    err = np.linalg.norm(apply_similarity(pv, s, r, t) - gv, axis=-1)
    return float(err.mean()) if reduce else err
