# Copyright (c) mmsvf contributors. All rights reserved.
"""Pose head details of the author's HumanPoseTracking_SNN: translation
detached where it is added to the joints; spikes vs membrane pooling."""
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from mmsvf.models.neurons import LIF
from mmsvf.registry import MODELS
from mmsvf_test_utils import load_script

make_synthetic_smpl = load_script(
    'tools/data/generate_toy_mmhpsd.py').make_synthetic_smpl


@pytest.fixture(scope='module')
def smpl_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('smpl') / 'toy_smpl.npz'
    np.savez(path, **make_synthetic_smpl())
    return str(path)


def _head(smpl_file, **kwargs):
    with DefaultScope.overwrite_default_scope('mmsvf'):
        return MODELS.build(dict(
            type='SMPLRegressionHead', in_channels=8,
            init_transl=(0., 0., 3.5), smpl_cfg=dict(model_path=smpl_file),
            **kwargs))


@pytest.mark.parametrize('detach', [True, False])
def test_joint_loss_reaches_no_translation_parameter(smpl_file, detach):
    head = _head(smpl_file, detach_transl=detach)
    feats = torch.randn(2, 3, 8)
    out = head(feats, return_vertices=True)
    target = torch.randn_like(out['joints'])
    # the joint and vertex losses only (3-D; the 2-D loss projects the same
    # joints)
    loss = ((out['joints'] - target)**2).mean() + out['vertices'].mean()
    params = [head.fc_transl.weight, head.fc_transl.bias,
              head.fc_pose.weight, head.fc_beta.weight]
    grads = torch.autograd.grad(loss, params, allow_unused=True,
                                retain_graph=True)
    transl_reached = any(g is not None and g.abs().sum() > 0
                         for g in grads[:2])
    assert transl_reached is not detach
    assert grads[2].abs().sum() > 0 and grads[3].abs().sum() > 0
    # the translation is still in the joints, and learnt from its own loss
    torch.testing.assert_close(
        out['joints'] - head.smpl(out['betas'], rotmat=out['rotmat'],
                                  return_vertices=False)['joints'],
        out['transl'].detach().unsqueeze(-2).expand_as(out['joints']))
    g = torch.autograd.grad(out['transl'].sum(), head.fc_transl.bias)[0]
    assert g.abs().sum() > 0


def _estimator(smpl_file, **kwargs):
    with DefaultScope.overwrite_default_scope('mmsvf'):
        return MODELS.build(dict(
            type='SpikePoseEstimator',
            backbone=dict(type='SpikeVideoFormer',
                          embed_dims=[16, 32, 64, 64], depths=(1, 1),
                          num_heads=2, in_channels=1, out_indices=(3, )),
            head=dict(type='SMPLRegressionHead', in_channels=64,
                      smpl_cfg=dict(model_path=smpl_file)),
            **kwargs)).eval()


def test_pooling_options(smpl_file):
    spikes = _estimator(smpl_file)  # the author's choice is the default
    assert spikes.pool == 'spikes' and isinstance(spikes.pool_lif, LIF)
    membrane = _estimator(smpl_file, pool='membrane')
    membrane.load_state_dict(spikes.state_dict())
    x = torch.randn(2, 3, 1, 32, 32) * 3  # B, T, C, H, W
    with torch.no_grad():
        fmap = spikes.backbone(x.permute(0, 2, 1, 3, 4))[-1]  # B C T h w
        rates = spikes.extract_feat(x)
        means = membrane.extract_feat(x)
    torch.testing.assert_close(means, fmap.mean(dim=(3, 4)).transpose(1, 2))
    expected = LIF()(fmap.permute(2, 0, 1, 3, 4)).mean(dim=(3, 4))
    torch.testing.assert_close(rates, expected.transpose(0, 1))
    assert rates.shape == (2, 3, 64)
    assert ((rates >= 0) & (rates <= 1)).all()
    assert not torch.allclose(rates, means)
    with pytest.raises(ValueError, match='pool'):
        _estimator(smpl_file, pool='max')
