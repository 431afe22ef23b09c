# Copyright (c) mmsvf contributors. All rights reserved.
"""SMPL pose-tracking metrics: MPJPE, PEL-MPJPE, PA-MPJPE, PVE, PCKh."""
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmsvf.registry import METRICS
from ..functional.pose_errors import mesh_error, pose_errors

__all__ = ['SMPLPoseMetric']


@METRICS.register_module()
class SMPLPoseMetric(BaseMetric):
    """Per-frame 3-D joint and mesh errors of SMPL pose tracking.

    Definitions of HumanPoseTracking_SNN.

    Every data sample is a clip whose ``pred_instances`` /
    ``gt_instances`` hold one entry per frame:

    * ``pred_instances.keypoints (T, J, 3)`` and
      ``gt_instances.lifting_target (T, J, 3)``: joints (metres);
    * optionally ``pred_instances.vertices`` and ``gt_instances.vertices``
      ``(T, V, 3)`` for PVE (:class:`SpikePoseEstimator` adds the
      ground-truth mesh during prediction).

    Reported (averaged over all frames and joints, in ``unit_scale`` units,
    millimetres by default):

    * ``MPJPE``: absolute joint error (translation included);
    * ``PEL-MPJPE``: after subtracting the pelvis (mean of joints
      ``pelvis``, SMPL hips 1 and 2) from each skeleton;
    * ``PA-MPJPE``: after a per-frame Procrustes (similarity) alignment;
    * ``PVE``: per-vertex error after applying the joint-estimated
      Procrustes transform to the predicted mesh (only when every sample
      has both meshes);
    * ``PCKh@<thr>`` (percent): pelvis-aligned joints within
      ``pckh_thr × 2·|neck − head|`` of the ground truth (the predecessor's
      head-size definition; SMPL neck 12, head 15).

    Args:
        unit_scale (float): Multiplier from input units to reported units.
            Default 1000 (metres → mm).
        pelvis (Sequence[int]): Pelvis joints. Default ``(1, 2)``.
        pckh_thr (float | None): PCKh threshold; None disables it.
        neck (int): Neck joint index. Default 12.
        head (int): Head joint index. Default 15.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Default ``'smpl'``
            (names ``smpl/MPJPE``, ``smpl/PA-MPJPE``, ...).
    """

    default_prefix: Optional[str] = 'smpl'

    def __init__(self,
                 unit_scale: float = 1000.,
                 pelvis: Sequence[int] = (1, 2),
                 pckh_thr: Optional[float] = 0.5,
                 neck: int = 12,
                 head: int = 15,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.unit_scale = unit_scale
        self.pelvis = tuple(pelvis)
        self.pckh_thr = pckh_thr
        self.neck, self.head = neck, head

    @staticmethod
    def _get(sample: Union[dict, object], group: str, key: str):
        inst = sample.get(group) if isinstance(sample, dict) else getattr(
            sample, group, None)
        if inst is None:
            return None
        value = inst.get(key) if isinstance(inst, dict) else getattr(
            inst, key, None)
        if value is None:
            return None
        if hasattr(value, 'detach'):
            value = value.detach().cpu().numpy()
        return np.asarray(value, dtype=np.float64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store per-frame errors of each clip (not the predictions)."""
        for sample in data_samples:
            pred = self._get(sample, 'pred_instances', 'keypoints')
            gt = self._get(sample, 'gt_instances', 'lifting_target')
            if pred is None or gt is None:
                raise KeyError(
                    'SMPLPoseMetric needs pred_instances.keypoints and '
                    'gt_instances.lifting_target in every data sample')
            if pred.ndim == 4:  # (1, T, J, 3)
                pred = pred[0]
            if pred.shape != gt.shape or pred.shape[-1] != 3:
                raise ValueError(
                    f'SMPLPoseMetric: predicted joints {pred.shape} and '
                    f'ground truth {gt.shape} must both be (T, J, 3)')
            err = pose_errors(pred, gt, pelvis=self.pelvis, reduce=False)
            result = {k: v.mean(axis=1) for k, v in err.items()}
            if self.pckh_thr is not None:
                head_size = 2 * np.linalg.norm(
                    gt[:, self.neck] - gt[:, self.head], axis=-1)
                hit = err['pel_mpjpe'] < self.pckh_thr * head_size[:, None]
                result['pckh'] = hit.mean(axis=1)
            pv = self._get(sample, 'pred_instances', 'vertices')
            gv = self._get(sample, 'gt_instances', 'vertices')
            if pv is not None and gv is not None:
                result['pve'] = mesh_error(pred, gt, pv, gv,
                                           reduce=False).mean(axis=1)
            self.results.append(result)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Average the per-frame errors of all clips."""
        logger = MMLogger.get_current_instance()
        cat = {
            k: np.concatenate([r[k] for r in results])
            for k in ('mpjpe', 'pel_mpjpe', 'pa_mpjpe')
        }
        s = self.unit_scale
        metrics = {
            'MPJPE': float(cat['mpjpe'].mean() * s),
            'PEL-MPJPE': float(cat['pel_mpjpe'].mean() * s),
            'PA-MPJPE': float(cat['pa_mpjpe'].mean() * s),
        }
        with_pve = sum('pve' in r for r in results)
        if with_pve == len(results):
            metrics['PVE'] = float(
                np.concatenate([r['pve'] for r in results]).mean() * s)
        elif with_pve:
            logger.warning(f'SMPLPoseMetric: only {with_pve} of '
                           f'{len(results)} clips carry meshes; PVE skipped')
        if self.pckh_thr is not None:
            metrics[f'PCKh@{self.pckh_thr:g}'] = float(
                np.concatenate([r['pckh'] for r in results]).mean() * 100)
        logger.info('SMPLPoseMetric over '
                    f'{sum(len(r["mpjpe"]) for r in results)} frames: ' +
                    ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()))
        return metrics
