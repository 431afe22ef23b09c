# Copyright (c) mmsvf contributors. All rights reserved.
import pickle

import cv2
import numpy as np
import pytest
import torch
from scipy import sparse

from mmsvf.models.pose import (
    SMPLLayer,
    SMPLModelFileError,
    axis_angle_to_rotmat,
    rot6d_to_rotmat,
    rotmat_to_rot6d,
)
from mmsvf_test_utils import load_script

make_synthetic_smpl = load_script(
    'tools/data/generate_toy_mmhpsd.py').make_synthetic_smpl


@pytest.fixture(scope='module')
def smpl_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('smpl') / 'toy_smpl.npz'
    np.savez(path, **make_synthetic_smpl(verts_per_joint=2, seed=1))
    return path


def test_rot6d_gives_rotations():
    x = torch.randn(1000, 6) * torch.tensor([10., 1, 0.1, 3, 0.01, 5])
    rot = rot6d_to_rotmat(x)
    eye = torch.eye(3).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye, atol=1e-5,
                               rtol=0)
    torch.testing.assert_close(torch.det(rot), torch.ones(1000), atol=1e-5,
                               rtol=0)
    # first column is the normalised first vector (Gram-Schmidt)
    torch.testing.assert_close(rot[:, :, 0],
                               x[:, :3] / x[:, :3].norm(dim=1, keepdim=True))
    # rotations survive the round trip
    torch.testing.assert_close(rot6d_to_rotmat(rotmat_to_rot6d(rot)), rot,
                               atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='6'):
        rot6d_to_rotmat(torch.zeros(3, 5))


def test_axis_angle_matches_opencv_and_is_smooth_at_zero():
    aa = np.random.default_rng(0).normal(size=(20, 3))
    ours = axis_angle_to_rotmat(torch.tensor(aa)).numpy()
    ref = np.stack([cv2.Rodrigues(v)[0] for v in aa])
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    zero = torch.zeros(2, 3, requires_grad=True)
    rot = axis_angle_to_rotmat(zero)
    torch.testing.assert_close(rot, torch.eye(3).expand(2, 3, 3))
    rot.sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_zero_pose_and_shape_give_template(smpl_file):
    layer = SMPLLayer(str(smpl_file))
    model = np.load(smpl_file)
    assert layer.num_joints == 24
    assert layer.num_vertices == len(model['v_template']) == 48
    out = layer(torch.zeros(2, 10), pose=torch.zeros(2, 72))
    template_joints = model['J_regressor'] @ model['v_template']
    np.testing.assert_allclose(out['joints'][0].numpy(), template_joints,
                               atol=1e-6)
    np.testing.assert_allclose(out['vertices'][1].numpy(),
                               model['v_template'], atol=1e-6)
    # licence-gated arrays never reach checkpoints
    assert layer.state_dict() == {}


def test_global_rotation_rotates_about_the_root(smpl_file):
    layer = SMPLLayer(str(smpl_file))
    rest = layer(torch.zeros(1, 10), pose=torch.zeros(1, 72))
    aa = np.array([0.3, -1.1, 0.7])
    pose = torch.zeros(1, 72)
    pose[0, :3] = torch.tensor(aa)
    transl = torch.tensor([[0.5, -0.2, 3.0]])
    out = layer(torch.zeros(1, 10), pose=pose, transl=transl)
    rot = cv2.Rodrigues(aa)[0]
    root = rest['joints'][0, 0].numpy()
    for key in ('joints', 'vertices'):
        expected = (rest[key][0].numpy() - root) @ rot.T + root + \
            transl.numpy()
        np.testing.assert_allclose(out[key][0].numpy(), expected, atol=1e-5)


def test_rotmat_and_axis_angle_inputs_agree(smpl_file):
    layer = SMPLLayer(str(smpl_file))
    pose = torch.randn(2, 3, 72) * 0.4
    betas = torch.randn(2, 3, 10)
    a = layer(betas, pose=pose)
    b = layer(betas, rotmat=axis_angle_to_rotmat(pose.reshape(2, 3, 24, 3)))
    assert a['vertices'].shape == (2, 3, 48, 3)
    torch.testing.assert_close(a['joints'], b['joints'])
    # a knee bend moves the foot but not the other leg
    bent = pose.clone()
    bent[..., 4 * 3] += 1.0  # left knee about x
    c = layer(betas, pose=bent)
    assert (c['joints'][..., 7, :] - a['joints'][..., 7, :]).norm() > 0.1
    torch.testing.assert_close(c['joints'][..., 8, :], a['joints'][..., 8, :])
    with pytest.raises(ValueError, match='betas'):
        layer(torch.zeros(2, 3, 9), pose=pose)


def test_pkl_with_sparse_regressor_loads(smpl_file, tmp_path):
    model = dict(np.load(smpl_file))
    model['J_regressor'] = sparse.csc_matrix(model['J_regressor'])
    model['bs_style'] = 'lbs'
    path = tmp_path / 'SMPL_TOY.pkl'
    with open(path, 'wb') as f:
        pickle.dump(model, f, protocol=2)
    pose = torch.randn(1, 72) * 0.3
    a = SMPLLayer(str(path))(torch.ones(1, 10), pose=pose)
    b = SMPLLayer(str(smpl_file))(torch.ones(1, 10), pose=pose)
    torch.testing.assert_close(a['vertices'], b['vertices'])


def test_model_file_errors(smpl_file, tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        SMPLLayer(str(tmp_path / 'SMPL_MALE.pkl'))
    msg = str(err.value)
    assert 'model.head.smpl_cfg.model_path' in msg
    assert 'smpl.is.tue.mpg.de' in msg
    # chumpy (SMPL v1.0.0) and arbitrary globals are refused, not executed
    chumpy = tmp_path / 'v100.pkl'
    chumpy.write_bytes(b'\x80\x02cchumpy.ch\nCh\n)\x81.')
    with pytest.raises(SMPLModelFileError, match='chumpy'):
        SMPLLayer(str(chumpy))
    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(b'cos\nsystem\n(S"echo hi"\ntR.')
    with pytest.raises(SMPLModelFileError, match='os.system'):
        SMPLLayer(str(evil))
    # a field with the wrong shape names the file and the field
    model = dict(np.load(smpl_file))
    model['weights'] = model['weights'][:, :20]
    bad = tmp_path / 'bad.npz'
    np.savez(bad, **model)
    with pytest.raises(SMPLModelFileError, match=r'bad\.npz.*"weights"'):
        SMPLLayer(str(bad))
    del model['weights']
    np.savez(bad, **model)
    with pytest.raises(SMPLModelFileError, match='weights'):
        SMPLLayer(str(bad))
