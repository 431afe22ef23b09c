# Copyright (c) mmsvf contributors. All rights reserved.
"""SMPL body model: a safe loader of the model file and linear blend skinning.

The SMPL model file is licence-gated (https://smpl.is.tue.mpg.de) and never
shipped with mmsvf. :class:`SMPLLayer` reads the standard fields of the
official file (``.pkl``, or ``.npz`` holding the same arrays):

* ``v_template (V, 3)``: rest-pose template vertices (metres);
* ``shapedirs (V, 3, B)``: shape blend shapes (``B >= num_betas``);
* ``posedirs (V, 3, 9(J-1))`` (or ``(3V, 9(J-1))``): pose-corrective blend
  shapes;
* ``J_regressor (J, V)``: joint regressor (dense or scipy sparse);
* ``kintree_table (2, J)``: row 0 holds the parent of each joint (the root:
  any value outside ``[0, J)``);
* ``weights (V, J)``: skinning weights;
* ``f (F, 3)``: faces (optional, kept as ``faces``).

SMPL has ``V = 6890`` and ``J = 24``; nothing here hard-codes either (the
test-suite and the toy data use a small synthetic model file with the same
fields, written by ``tools/data/generate_toy_mmhpsd.py``).

``.pkl`` files are read with a restricted unpickler that only accepts numpy
arrays and scipy sparse matrices (the SMPL v1.1.0 files); the v1.0.0 files
pickle ``chumpy`` objects, which are refused with a message saying how to
convert them. The buffers are registered with ``persistent=False`` so model
checkpoints never embed the licence-gated arrays.

This module is a standalone implementation rather than a wrapper of the
``smplx`` package because ``smplx`` 0.1.28 unpickles model files without
restriction, always appends extra joints from hard-coded vertex ids of the
6890-vertex mesh and registers learnable pose/shape parameters by default.
"""
import io
import os.path as osp
import pickle
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from mmsvf.registry import MODELS
from .rotation import axis_angle_to_rotmat

__all__ = [
    'SMPL_JOINT_NAMES', 'SMPL_PARENTS', 'SMPLModelFileError',
    'load_smpl_model_file', 'SMPLLayer',
    'SMPL_CONFIG_KEY'
]

#: config key users set to point at the SMPL model file
SMPL_CONFIG_KEY = 'model.head.smpl_cfg.model_path'

#: the 24 SMPL joints, in model order
SMPL_JOINT_NAMES = ('pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee',
                    'right_knee', 'spine2', 'left_ankle', 'right_ankle',
                    'spine3', 'left_foot', 'right_foot', 'neck',
                    'left_collar', 'right_collar', 'head', 'left_shoulder',
                    'right_shoulder', 'left_elbow', 'right_elbow',
                    'left_wrist', 'right_wrist', 'left_hand', 'right_hand')

#: kinematic parents of the 24 SMPL joints (root: -1)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16,
                17, 18, 19, 20, 21)

_REQUIRED = ('v_template', 'shapedirs', 'posedirs', 'J_regressor',
             'kintree_table', 'weights')


class SMPLModelFileError(ValueError):
    """The SMPL model file is unreadable or has inconsistent fields."""


def _missing_file_message(path):
    return (f'SMPL model file not found: "{path}". The SMPL body model is '
            'licence-gated and not shipped with mmsvf: register at '
            'https://smpl.is.tue.mpg.de, download SMPL for Python (v1.1.0, '
            'e.g. SMPL_MALE.pkl / basicmodel_m_lbs_10_207_0_v1.1.0.pkl) and '
            f'set `{SMPL_CONFIG_KEY}` in the config (for example '
            f'`--cfg-options {SMPL_CONFIG_KEY}=/path/to/SMPL_MALE.pkl`).')


class _SMPLUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays and scipy sparse matrices."""

    _NUMPY = {('numpy', 'ndarray'), ('numpy', 'dtype'),
              ('numpy.core.multiarray', '_reconstruct'),
              ('numpy._core.multiarray', '_reconstruct'),
              ('numpy.core.multiarray', 'scalar'),
              ('numpy._core.multiarray', 'scalar'),
              ('copy_reg', '_reconstructor'), ('copyreg', '_reconstructor'),
              ('__builtin__', 'object'), ('builtins', 'object'),
              # bytes of numpy arrays pickled by Python 3 with protocol 2
              ('_codecs', 'encode')}
    _SPARSE = ('csc_matrix', 'csr_matrix', 'coo_matrix')

    def __init__(self, file, path):
        super().__init__(file, encoding='latin1')
        self.path = path

    def find_class(self, module, name):
        if (module, name) in self._NUMPY or module == 'numpy.dtypes':
            return super().find_class(module, name)
        if module.startswith('scipy.sparse') and name in self._SPARSE:
            return super().find_class(module, name)
        if module.startswith('chumpy'):
            raise SMPLModelFileError(
                f'{self.path}: this SMPL file pickles chumpy objects '
                f'({module}.{name}), i.e. it is an SMPL v1.0.0 file. Use the '
                'chumpy-free SMPL v1.1.0 file from '
                'https://smpl.is.tue.mpg.de, or convert the arrays once '
                'to a .npz with the fields '
                f'{", ".join(_REQUIRED)}.')
        raise SMPLModelFileError(
            f'{self.path}: refusing to unpickle "{module}.{name}"; an SMPL '
            'model file holds only numpy arrays and scipy sparse matrices.')


def _to_dense(value, path, key):
    if hasattr(value, 'toarray'):  # scipy sparse
        value = value.toarray()
    try:
        arr = np.asarray(value)
    except Exception as err:  # pragma: no cover - exotic objects
        raise SMPLModelFileError(f'{path}: field "{key}" is not an array '
                                 f'({type(value).__name__}).') from err
    if arr.dtype == object:
        raise SMPLModelFileError(
            f'{path}: field "{key}" is an object array; store it as a dense '
            'numeric array.')
    return arr


def load_smpl_model_file(path: str) -> Dict[str, np.ndarray]:
    """Read and validate an SMPL model file.

    Args:
        path (str): ``.pkl`` or ``.npz`` file with the fields of the module
            docstring.

    Returns:
        dict: ``v_template (V, 3)``, ``shapedirs (V, 3, B)``,
        ``posedirs (V, 3, P)``, ``J_regressor (J, V)``, ``parents (J,)``
        (root ``-1``), ``weights (V, J)`` as float64/int64 arrays, and
        ``faces (F, 3)`` when the file has ``f``.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message names the
            config key and where the file comes from).
        SMPLModelFileError: a field is missing or has a wrong shape (the
            message names the file and the field).
    """
    if path is None or not osp.isfile(str(path)):
        raise FileNotFoundError(_missing_file_message(path))
    path = str(path)
    if path.endswith('.npz'):
        try:
            with np.load(path, allow_pickle=False) as npz:
                raw = {k: npz[k] for k in npz.files
                       if k in _REQUIRED or k == 'f'}
        except ValueError as err:
            raise SMPLModelFileError(
                f'{path}: an SMPL .npz must hold plain numeric arrays '
                f'(fields {", ".join(_REQUIRED)}): {err}') from err
    elif path.endswith('.pkl'):
        with open(path, 'rb') as f:
            raw = _SMPLUnpickler(io.BytesIO(f.read()), path).load()
        if not isinstance(raw, dict):
            raise SMPLModelFileError(
                f'{path}: expected a pickled dict of arrays, got '
                f'{type(raw).__name__}.')
    else:
        raise SMPLModelFileError(
            f'{path}: unknown SMPL model file type; expected .pkl or .npz.')

    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise SMPLModelFileError(
            f'{path}: SMPL model file lacks field(s) {", ".join(missing)}.')
    arrays = {k: _to_dense(raw[k], path, k) for k in _REQUIRED}

    v_template = arrays['v_template'].astype(np.float64)
    if v_template.ndim != 2 or v_template.shape[1] != 3:
        raise SMPLModelFileError(f'{path}: field "v_template" must be (V, 3),'
                                 f' got {v_template.shape}.')
    num_verts = v_template.shape[0]
    j_reg = arrays['J_regressor'].astype(np.float64)
    if j_reg.ndim != 2 or j_reg.shape[1] != num_verts:
        raise SMPLModelFileError(
            f'{path}: field "J_regressor" must be (J, {num_verts}), got '
            f'{j_reg.shape}.')
    num_joints = j_reg.shape[0]
    shapedirs = arrays['shapedirs'].astype(np.float64)
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (num_verts, 3):
        raise SMPLModelFileError(
            f'{path}: field "shapedirs" must be ({num_verts}, 3, B), got '
            f'{shapedirs.shape}.')
    num_pose = 9 * (num_joints - 1)
    posedirs = arrays['posedirs'].astype(np.float64)
    if posedirs.shape == (3 * num_verts, num_pose):
        posedirs = posedirs.reshape(num_verts, 3, num_pose)
    if posedirs.shape != (num_verts, 3, num_pose):
        raise SMPLModelFileError(
            f'{path}: field "posedirs" must be ({num_verts}, 3, {num_pose}), '
            f'got {posedirs.shape}.')
    weights = arrays['weights'].astype(np.float64)
    if weights.shape != (num_verts, num_joints):
        raise SMPLModelFileError(
            f'{path}: field "weights" must be ({num_verts}, {num_joints}), '
            f'got {weights.shape}.')
    kintree = arrays['kintree_table']
    if kintree.ndim != 2 or kintree.shape != (2, num_joints):
        raise SMPLModelFileError(
            f'{path}: field "kintree_table" must be (2, {num_joints}), got '
            f'{kintree.shape}.')
    parents = kintree[0].astype(np.int64)
    parents[(parents < 0) | (parents >= num_joints)] = -1
    roots = np.flatnonzero(parents < 0)
    if roots.tolist() != [0] or np.any(
            parents[1:] >= np.arange(1, num_joints)):
        raise SMPLModelFileError(
            f'{path}: field "kintree_table" must list joint 0 as the only '
            'root and every parent before its child.')
    out = dict(v_template=v_template, shapedirs=shapedirs, posedirs=posedirs,
               J_regressor=j_reg, parents=parents, weights=weights)
    if 'f' in raw:
        out['faces'] = _to_dense(raw['f'], path, 'f').astype(np.int64)
    return out


@MODELS.register_module()
class SMPLLayer(nn.Module):
    """SMPL forward kinematics and linear blend skinning (no parameters).

    Args:
        model_path (str): SMPL model file (``.pkl``/``.npz``, see the module
            docstring). Set it in configs as
            ``model.head.smpl_cfg.model_path``.
        num_betas (int): Number of shape coefficients used. Default 10.

    Attributes:
        num_joints (int): ``J`` (24 for SMPL).
        num_vertices (int): ``V`` (6890 for SMPL), from the model file.
        parents (tuple[int]): kinematic parent of each joint (root ``-1``).
        faces (np.ndarray | None): ``(F, 3)`` triangle indices.
    """

    def __init__(self, model_path: str, num_betas: int = 10):
        super().__init__()
        model = load_smpl_model_file(model_path)
        if model['shapedirs'].shape[2] < num_betas:
            raise SMPLModelFileError(
                f'{model_path}: field "shapedirs" has '
                f'{model["shapedirs"].shape[2]} shape directions, '
                f'num_betas={num_betas} requested.')
        self.model_path = str(model_path)
        self.num_betas = num_betas
        self.num_vertices = model['v_template'].shape[0]
        self.num_joints = model['J_regressor'].shape[0]
        self.parents = tuple(int(p) for p in model['parents'])
        self.faces = model.get('faces')

        def buf(name, arr):
            self.register_buffer(
                name, torch.as_tensor(arr, dtype=torch.float32),
                persistent=False)

        buf('v_template', model['v_template'])
        buf('shapedirs', model['shapedirs'][:, :, :num_betas])
        # (P, 3V) so that pose_feature @ posedirs gives the vertex offsets
        buf('posedirs', model['posedirs'].reshape(-1, model['posedirs'].shape[
            -1]).T)
        buf('J_regressor', model['J_regressor'])
        buf('lbs_weights', model['weights'])

    def extra_repr(self):
        return (f'model_path={self.model_path!r}, num_joints='
                f'{self.num_joints}, num_vertices={self.num_vertices}, '
                f'num_betas={self.num_betas}')

    def forward(self,
                betas: torch.Tensor,
                rotmat: Optional[torch.Tensor] = None,
                pose: Optional[torch.Tensor] = None,
                transl: Optional[torch.Tensor] = None,
                return_vertices: bool = True) -> Dict[str, torch.Tensor]:
        """Pose and shape the body.

        Args:
            betas (Tensor): ``(..., num_betas)`` shape coefficients.
            rotmat (Tensor, optional): ``(..., J, 3, 3)`` joint rotations
                (local, relative to the parent; joint 0 is the global
                orientation).
            pose (Tensor, optional): ``(..., 3J)`` axis-angle rotations (SMPL
                ``body_pose`` incl. global orientation); used when ``rotmat``
                is None.
            transl (Tensor, optional): ``(..., 3)`` translation added to
                joints and vertices.
            return_vertices (bool): Skip skinning when False.

        Returns:
            dict: ``joints (..., J, 3)``, ``vertices (..., V, 3)`` (when
            requested) and ``rotmat (..., J, 3, 3)``.
        """
        J, V = self.num_joints, self.num_vertices
        if rotmat is None:
            if pose is None:
                raise ValueError('SMPLLayer needs `rotmat` or `pose`.')
            if pose.shape[-1] != 3 * J:
                raise ValueError(f'SMPLLayer: pose must be (..., {3 * J}), '
                                 f'got {tuple(pose.shape)}.')
            rotmat = axis_angle_to_rotmat(pose.reshape(*pose.shape[:-1], J,
                                                       3))
        if rotmat.shape[-3:] != (J, 3, 3):
            raise ValueError(f'SMPLLayer: rotmat must be (..., {J}, 3, 3), '
                             f'got {tuple(rotmat.shape)}.')
        lead = rotmat.shape[:-3]
        if betas.shape[-1] != self.num_betas or betas.shape[:-1] != lead:
            raise ValueError(
                f'SMPLLayer: betas must be {(*lead, self.num_betas)}, got '
                f'{tuple(betas.shape)}.')
        rot = rotmat.reshape(-1, J, 3, 3).to(self.v_template.dtype)
        beta = betas.reshape(-1, self.num_betas).to(self.v_template.dtype)
        n = rot.shape[0]

        v_shaped = self.v_template + torch.einsum('nb,vcb->nvc', beta,
                                                  self.shapedirs)
        rest_joints = torch.einsum('jv,nvc->njc', self.J_regressor, v_shaped)

        # forward kinematics: world transforms of every joint
        world_rot, world_pos = [rot[:, 0]], [rest_joints[:, 0]]
        for j in range(1, J):
            p = self.parents[j]
            bone = rest_joints[:, j] - rest_joints[:, p]
            world_pos.append(world_pos[p] +
                             (world_rot[p] @ bone.unsqueeze(-1)).squeeze(-1))
            world_rot.append(world_rot[p] @ rot[:, j])
        world_rot = torch.stack(world_rot, dim=1)  # (n, J, 3, 3)
        joints = torch.stack(world_pos, dim=1)  # (n, J, 3)

        out = dict(rotmat=rotmat)
        if return_vertices:
            eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
            pose_feature = (rot[:, 1:] - eye).reshape(n, -1)
            v_posed = v_shaped + (pose_feature @ self.posedirs).reshape(
                n, V, 3)
            # skinning transform of joint j: x -> R_j x + (p_j - R_j r_j)
            offset = joints - (world_rot @ rest_joints.unsqueeze(-1)).squeeze(
                -1)
            blend_rot = torch.einsum('vj,njab->nvab', self.lbs_weights,
                                     world_rot)
            blend_off = torch.einsum('vj,nja->nva', self.lbs_weights, offset)
            verts = (blend_rot @ v_posed.unsqueeze(-1)).squeeze(-1) + blend_off
            out['vertices'] = verts.reshape(*lead, V, 3)
        out['joints'] = joints.reshape(*lead, J, 3)
        if transl is not None:
            if transl.shape != (*lead, 3):
                raise ValueError(f'SMPLLayer: transl must be {(*lead, 3)}, '
                                 f'got {tuple(transl.shape)}.')
            out['joints'] = out['joints'] + transl.unsqueeze(-2)
            if return_vertices:
                out['vertices'] = out['vertices'] + transl.unsqueeze(-2)
        return out
