# Copyright (c) mmsvf contributors. All rights reserved.
"""Per-frame SMPL parameter regression head (the first author's SNN pose
tracker, JimmyZou/HumanPoseTracking_SNN ``model_snn/spiking_model.py``
``Regressor`` / ``SpikePoseNet``; losses of ``utils/loss_funcs.py``)."""
import copy
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import nn

from mmsvf.registry import MODELS, scoped
from .rotation import axis_angle_to_rotmat, rot6d_to_rotmat, rotmat_to_rot6d
from .smpl import SMPL_CONFIG_KEY

__all__ = ['SMPLRegressionHead']


def _build(cfg):
    """Build an mmsvf component whatever the caller's default scope is."""
    return MODELS.build(scoped(copy.deepcopy(dict(cfg))))


@MODELS.register_module()
class SMPLRegressionHead(BaseModule):
    """Regress SMPL pose, shape and translation for every frame of a clip.

    Per frame, the pooled feature goes through three Linears: pose
    (``num_joints × 6``, 6-D rotations mapped to rotation matrices by
    Gram-Schmidt), shape β (``num_betas``) and translation (3, metres, camera
    frame). The SMPL layer then gives ``num_joints`` joints and the mesh
    vertices, both translated; the joints are projected with the frame's
    intrinsics for the 2-D loss.

    As in the author's ``SpikePoseNet`` the translation is added to the
    joints and vertices **detached** (``detach_transl=True``): it is learnt
    from the translation loss only, and the joint losses (3-D and projected
    2-D) shape pose and β without pulling the translation.

    The Linears start with small weights (std ``init_std``) and biases that
    give identity joint rotations, the global orientation
    ``init_global_orient`` (axis-angle), zero β and the translation
    ``init_transl``. Both inits matter with the recipe's small regressor lr
    (1e-4): an upright person in MMHPSD's y-down camera frame has a global
    orientation near ``(π, 0, 0)``, and ``init_transl`` should be about the
    training set's mean translation.

    Args:
        in_channels (int): Channels of the pooled feature.
        smpl_cfg (dict): Config of the body layer, default
            ``dict(type='SMPLLayer', model_path=None)``;
            ``model_path`` must point at the (licence-gated) SMPL file.
        num_joints (int): Joints of the body model. Default 24.
        num_betas (int): Shape coefficients. Default 10.
        dropout (float): Dropout on the pooled feature. Default 0.
        init_std (float): Std of the Linear weights at init. Default 0.01.
        init_transl (Sequence[float]): Translation bias at init (metres).
            Default ``(0, 0, 0)``.
        init_global_orient (Sequence[float]): Axis-angle of the root
            rotation at init. Default ``(0, 0, 0)``.
        detach_transl (bool): add the translation to joints and vertices
            without gradient (the author's choice). Default True.
        loss_rot (dict): Geodesic rotation loss (weight 10).
        loss_transl (dict): Translation MSE (weight 50).
        loss_beta (dict): β MSE (weight 1).
        loss_joints3d (dict): 3-D joint MSE (weight 1).
        loss_joints2d (dict): 2-D projected joint MSE (weight 10).
        init_cfg (dict, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int,
                 smpl_cfg: Optional[dict] = None,
                 num_joints: int = 24,
                 num_betas: int = 10,
                 dropout: float = 0.,
                 init_std: float = 0.01,
                 init_transl: Sequence[float] = (0., 0., 0.),
                 init_global_orient: Sequence[float] = (0., 0., 0.),
                 detach_transl: bool = True,
                 loss_rot: dict = dict(
                     type='GeodesicRotationLoss', loss_weight=10.),
                 loss_transl: dict = dict(type='PoseMSELoss', loss_weight=50.),
                 loss_beta: dict = dict(type='PoseMSELoss', loss_weight=1.),
                 loss_joints3d: dict = dict(
                     type='PoseMSELoss', loss_weight=1.),
                 loss_joints2d: dict = dict(
                     type='ProjectedJointsMSELoss', loss_weight=10.),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        smpl_cfg = dict(smpl_cfg or {})
        smpl_cfg.setdefault('type', 'SMPLLayer')
        if smpl_cfg.get('model_path') is None:
            raise FileNotFoundError(
                'SMPLRegressionHead needs the SMPL body model file: set '
                f'`{SMPL_CONFIG_KEY}` (e.g. `--cfg-options '
                f'{SMPL_CONFIG_KEY}=/path/to/SMPL_MALE.pkl`). The model is '
                'licence-gated and not shipped with mmsvf; download SMPL for '
                'Python from https://smpl.is.tue.mpg.de.')
        smpl_cfg.setdefault('num_betas', num_betas)
        self.smpl = _build(smpl_cfg)
        if self.smpl.num_joints != num_joints:
            raise ValueError(
                f'SMPL model file {self.smpl.model_path} has '
                f'{self.smpl.num_joints} joints, the head expects '
                f'num_joints={num_joints}.')
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.num_betas = num_betas
        self.init_std = init_std
        self.detach_transl = bool(detach_transl)
        self.init_transl = tuple(float(v) for v in init_transl)
        self.init_global_orient = tuple(float(v) for v in init_global_orient)
        if len(self.init_transl) != 3 or len(self.init_global_orient) != 3:
            raise ValueError('init_transl and init_global_orient need 3 '
                             f'values, got {init_transl}, '
                             f'{init_global_orient}')
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc_pose = nn.Linear(in_channels, num_joints * 6)
        self.fc_beta = nn.Linear(in_channels, num_betas)
        self.fc_transl = nn.Linear(in_channels, 3)
        self.loss_rot = _build(loss_rot)
        self.loss_transl = _build(loss_transl)
        self.loss_beta = _build(loss_beta)
        self.loss_joints3d = _build(loss_joints3d)
        self.loss_joints2d = _build(loss_joints2d)
        self._init_linears()

    def _init_linears(self):
        for fc in (self.fc_pose, self.fc_beta, self.fc_transl):
            nn.init.normal_(fc.weight, std=self.init_std)
        bias = torch.tensor([1., 0., 0., 0., 1., 0.]).repeat(self.num_joints)
        bias[:6] = rotmat_to_rot6d(
            axis_angle_to_rotmat(torch.tensor(self.init_global_orient)))
        with torch.no_grad():
            self.fc_pose.bias.copy_(bias)
            self.fc_beta.bias.zero_()
            self.fc_transl.bias.copy_(torch.tensor(self.init_transl))

    def init_weights(self):
        """Keep the identity-rotation init unless an init_cfg says
        otherwise."""
        super().init_weights()
        if self.init_cfg is None:
            self._init_linears()

    def forward(self,
                feats: torch.Tensor,
                return_vertices: bool = True) -> Dict[str, torch.Tensor]:
        """Regress SMPL parameters and pose the body.

        Args:
            feats (Tensor): ``(B, T, C)`` per-frame pooled features.
            return_vertices (bool): Also skin the mesh.

        Returns:
            dict: ``rotmat (B, T, J, 3, 3)``, ``betas (B, T, num_betas)``,
            ``transl (B, T, 3)``, ``joints (B, T, J, 3)`` (translated) and,
            when requested, ``vertices (B, T, V, 3)``.
        """
        if feats.dim() != 3 or feats.shape[-1] != self.in_channels:
            raise ValueError(
                f'SMPLRegressionHead expects (B, T, {self.in_channels}) '
                f'features, got {tuple(feats.shape)}')
        b, t = feats.shape[:2]
        x = self.dropout(feats)
        rotmat = rot6d_to_rotmat(
            self.fc_pose(x).reshape(b, t, self.num_joints, 6))
        betas = self.fc_beta(x)
        transl = self.fc_transl(x)
        # the author's SpikePoseNet: joints3d + trans.detach()
        body = self.smpl(betas, rotmat=rotmat,
                         transl=transl.detach() if self.detach_transl
                         else transl,
                         return_vertices=return_vertices)
        out = dict(rotmat=rotmat, betas=betas, transl=transl,
                   joints=body['joints'])
        if return_vertices:
            out['vertices'] = body['vertices']
        return out

    @staticmethod
    def _stack(data_samples, field, device):
        values = []
        for ds in data_samples:
            labels = ds.get('gt_instance_labels', None)
            if labels is None or field not in labels:
                raise KeyError(
                    f'SMPLRegressionHead: data sample lacks '
                    f'gt_instance_labels.{field} (use PackClipPoseInputs)')
            values.append(torch.as_tensor(labels.get(field)))
        return torch.stack(values).to(device=device, dtype=torch.float32)

    def loss(self, feats: torch.Tensor, data_samples: Sequence) -> dict:
        """Compute the five losses (plus a detached ``mpjpe`` in metres).

        Args:
            feats (Tensor): ``(B, T, C)`` pooled features.
            data_samples (Sequence[PoseDataSample]): with
                ``gt_instance_labels`` ``body_pose (T, 3J)``,
                ``betas (T, num_betas)``, ``transl (T, 3)``,
                ``joints3d (T, J, 3)``, ``joints2d (T, J, 2)``,
                ``joints_visible (T, J)`` and metainfo ``intrinsics (4,)``
                and ``img_shape (H, W)``.

        Returns:
            dict: ``loss_rot``, ``loss_transl``, ``loss_beta``,
            ``loss_joints3d``, ``loss_joints2d`` and ``mpjpe``.
        """
        pred = self.forward(feats, return_vertices=False)
        device = feats.device
        body_pose = self._stack(data_samples, 'body_pose', device)
        b, t = body_pose.shape[:2]
        gt_rot = axis_angle_to_rotmat(
            body_pose.reshape(b, t, self.num_joints, 3))
        gt_betas = self._stack(data_samples, 'betas', device)
        gt_transl = self._stack(data_samples, 'transl', device)
        gt_j3d = self._stack(data_samples, 'joints3d', device)
        gt_j2d = self._stack(data_samples, 'joints2d', device)
        visible = self._stack(data_samples, 'joints_visible',
                              device).unsqueeze(-1)
        intrinsics = torch.stack([
            torch.as_tensor(ds.metainfo['intrinsics'], dtype=torch.float32)
            for ds in data_samples
        ]).to(device)
        image_size = torch.tensor(
            [[ds.metainfo['img_shape'][1], ds.metainfo['img_shape'][0]]
             for ds in data_samples],
            dtype=torch.float32,
            device=device)
        losses = dict(
            loss_rot=self.loss_rot(pred['rotmat'], gt_rot),
            loss_transl=self.loss_transl(pred['transl'], gt_transl),
            loss_beta=self.loss_beta(pred['betas'], gt_betas[..., :self.
                                                             num_betas]),
            loss_joints3d=self.loss_joints3d(
                pred['joints'], gt_j3d, weight=visible),
            loss_joints2d=self.loss_joints2d(
                pred['joints'], gt_j2d, intrinsics, image_size,
                weight=visible))
        with torch.no_grad():
            err = (pred['joints'] - gt_j3d).norm(dim=-1)
            losses['mpjpe'] = (err * visible[..., 0]).sum() / visible.sum(
            ).clamp(min=1)
        return losses

    def predict(self,
                feats: torch.Tensor,
                data_samples: Optional[Sequence] = None,
                gt_vertices: bool = True) -> List[InstanceData]:
        """Predict per-frame joints, mesh and SMPL parameters.

        Args:
            feats (Tensor): ``(B, T, C)`` pooled features.
            data_samples (Sequence[PoseDataSample], optional): when given
                and ``gt_vertices`` is True, the ground-truth mesh is skinned
                from ``gt_instance_labels`` (``body_pose``, ``betas``,
                ``transl``) and stored as ``gt_instances.vertices`` (for the
                PVE metric).
            gt_vertices (bool): See ``data_samples``.

        Returns:
            list[InstanceData]: one per clip, T "instances" (frames) with
            numpy ``keypoints (T, J, 3)`` (metres, camera frame),
            ``keypoint_scores (T, J)``, ``vertices (T, V, 3)``,
            ``rotmat (T, J, 3, 3)``, ``betas (T, num_betas)``,
            ``transl (T, 3)``.
        """
        pred = self.forward(feats, return_vertices=True)
        preds = []
        for i in range(feats.shape[0]):
            inst = InstanceData()
            joints = pred['joints'][i].detach().cpu().numpy()
            inst.keypoints = joints
            inst.keypoint_scores = np.ones(joints.shape[:2], np.float32)
            inst.vertices = pred['vertices'][i].detach().cpu().numpy()
            inst.rotmat = pred['rotmat'][i].detach().cpu().numpy()
            inst.betas = pred['betas'][i].detach().cpu().numpy()
            inst.transl = pred['transl'][i].detach().cpu().numpy()
            preds.append(inst)
        if data_samples is not None and gt_vertices:
            for ds in data_samples:
                labels = ds.get('gt_instance_labels', None)
                if labels is None or not all(
                        k in labels for k in ('body_pose', 'betas', 'transl')):
                    continue
                device = feats.device
                out = self.smpl(
                    torch.as_tensor(labels.betas).to(device)[..., :self.
                                                             num_betas],
                    pose=torch.as_tensor(labels.body_pose).to(device),
                    transl=torch.as_tensor(labels.transl).to(device))
                ds.gt_instances.vertices = out['vertices'].cpu().numpy()
        return preds
