# Copyright (c) mmsvf contributors. All rights reserved.
"""Video pose & shape estimator: SpikeVideoFormer + SMPL regression."""
from typing import Dict, Optional

import torch
from mmpose.models.pose_estimators.base import BasePoseEstimator

from mmsvf.registry import MODELS, scoped
from ..neurons import build_neuron

__all__ = ['SpikePoseEstimator', 'POOL_MODES']

#: per-frame pooling of the backbone map before the SMPL head
POOL_MODES = ('spikes', 'membrane')


@MODELS.register_module()
class SpikePoseEstimator(BasePoseEstimator):
    """Per-frame SMPL pose and shape tracking from a video clip.

    Data flow: clips ``(B, T, C, H, W)`` (from
    :class:`ClipPoseDataPreprocessor`) → permuted to NCTHW
    ``(B, C, T, H, W)`` → backbone (SpikeVideoFormer: every frame is one SNN
    time step) → last feature map ``(B, C', T, H/16, W/16)`` (membrane) →
    per-frame pooling → ``(B, T, C')`` → :class:`SMPLRegressionHead`.

    Pooling (``pool``): ``'spikes'`` (default, the author's choice in
    HumanPoseTracking_SNN ``SpikePoseNet``, which average-pools the spike
    output of its last spiking layer) passes the map through ``pool_neuron``
    and averages the spikes over space — per-frame firing rates;
    ``'membrane'`` averages the membrane map itself (what Meta-SpikeFormer's
    classification head pools before its own neuron).

    It subclasses mmpose's ``BasePoseEstimator`` (``forward`` with modes
    ``loss`` / ``predict`` / ``tensor``, ``metainfo``), and its predictions are
    ``PoseDataSample`` objects whose ``pred_instances`` / ``gt_instances``
    hold one "instance" per frame, so mmpose's ``MPJPE`` metric and mmsvf's
    ``SMPLPoseMetric`` read them directly.

    Args:
        backbone (dict): Backbone config (NCTHW in, tuple of NCTHW out).
        head (dict): :class:`SMPLRegressionHead` config.
        feature_index (int): Which backbone output to pool. Default -1.
        pool (str): ``'spikes'`` or ``'membrane'`` (see above).
        pool_neuron (dict): neuron of ``'spikes'`` pooling. Default LIF.
        train_cfg (dict, optional): Unused.
        test_cfg (dict, optional): ``gt_vertices`` (bool, default True):
            skin the ground-truth mesh during ``predict`` (for PVE).
        data_preprocessor (dict, optional): Default
            ``ClipPoseDataPreprocessor`` without normalisation.
        metainfo (dict, optional): mmpose dataset meta information.
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 feature_index: int = -1,
                 pool: str = 'spikes',
                 pool_neuron: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 metainfo: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClipPoseDataPreprocessor')
        # mmpose's base class builds through mmpose's registry; resolve
        # unprefixed types in mmsvf's scope whatever the default scope is
        backbone, head, data_preprocessor = (
            scoped(cfg) for cfg in (backbone, head, data_preprocessor))
        super().__init__(
            backbone=backbone,
            head=head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            metainfo=metainfo,
            init_cfg=init_cfg)
        self.feature_index = feature_index
        if pool not in POOL_MODES:
            raise ValueError(f'SpikePoseEstimator: pool={pool!r}; expected '
                             f'one of {POOL_MODES}')
        self.pool = pool
        if pool == 'spikes':
            self.pool_lif = build_neuron(pool_neuron or dict(type='LIF'))

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Backbone features pooled per frame.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)`` clips.

        Returns:
            Tensor: ``(B, T, C')`` pooled features of the selected stage.
        """
        if inputs.dim() != 5:
            raise ValueError('SpikePoseEstimator expects clips (B, T, C, H, '
                             f'W), got {tuple(inputs.shape)}')
        feats = self.backbone(inputs.permute(0, 2, 1, 3, 4).contiguous())
        if isinstance(feats, (list, tuple)):
            feats = feats[self.feature_index]
        if feats.dim() != 5 or feats.shape[2] != inputs.shape[1]:
            raise ValueError(
                'SpikePoseEstimator: the backbone must return NCTHW maps with '
                f'T={inputs.shape[1]}, got {tuple(feats.shape)}')
        if self.pool == 'spikes':
            # time-first for the neuron: it integrates over the frames
            spikes = self.pool_lif(feats.permute(2, 0, 1, 3, 4))
            return spikes.mean(dim=(3, 4)).transpose(0, 1)
        return feats.mean(dim=(3, 4)).transpose(1, 2)

    def _forward(self,
                 inputs: torch.Tensor,
                 data_samples=None) -> Dict[str, torch.Tensor]:
        """``tensor`` mode: the head's raw outputs.

        Returns:
            dict: ``rotmat (B, T, J, 3, 3)``, ``betas (B, T, 10)``,
            ``transl (B, T, 3)``, ``joints (B, T, J, 3)``,
            ``vertices (B, T, V, 3)``.
        """
        return self.head.forward(self.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        """Losses of a batch (see :meth:`SMPLRegressionHead.loss`)."""
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: torch.Tensor, data_samples) -> list:
        """Fill ``pred_instances`` of every data sample.

        Returns:
            list[PoseDataSample]: the input samples with ``pred_instances``
            (see :meth:`SMPLRegressionHead.predict`).
        """
        preds = self.head.predict(
            self.extract_feat(inputs), data_samples,
            gt_vertices=self.test_cfg.get('gt_vertices', True))
        for ds, pred in zip(data_samples, preds):
            ds.pred_instances = pred
        return data_samples
