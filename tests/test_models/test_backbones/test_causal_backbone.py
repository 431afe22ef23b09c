# Copyright (c) mmsvf contributors. All rights reserved.
"""attn_mode='causal': frame-causal outputs, training like 'joint'."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmsvf.models import SpikeVideoFormer
from mmsvf.registry import MODELS

pytestmark = pytest.mark.usefixtures('single_torch_thread')

TINY = dict(embed_dims=[16, 32, 64, 64], num_heads=2)


def clip(B=1, T=4, hw=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, T, hw, hw, generator=g) * 2


def calibrated(model, T=4, hw=32):
    """Give BN layers data statistics (fresh BNs silence deep layers)."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for s in range(2):
            model(clip(B=2, T=T, hw=hw, seed=100 + s))
    return model.eval()


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_changing_a_frame_changes_no_earlier_output(similarity):
    model = calibrated(SpikeVideoFormer(attn_mode='causal',
                                        similarity=similarity, **TINY))
    T = 4
    x = clip(T=T, seed=6)
    with torch.no_grad():
        ox = model(x)
        for changed in (1, 2):
            y = x.clone()
            y[:, :, changed] = torch.randn_like(y[:, :, changed]) * 2
            oy = model(y)
            for a, b in zip(ox, oy):
                for t in range(changed):
                    assert torch.equal(a[:, :, t], b[:, :, t]), (changed, t)
                assert not torch.equal(a[:, :, changed], b[:, :, changed])


def test_joint_checkpoint_loads_and_only_joint_sees_the_future():
    causal = calibrated(SpikeVideoFormer(attn_mode='causal', **TINY))
    assert type(causal.block3[0].attn).__name__ == 'CausalSpikeAttention'
    joint = SpikeVideoFormer(attn_mode='joint', **TINY)
    # same keys: a joint checkpoint loads strictly
    joint.load_state_dict(causal.state_dict(), strict=True)
    causal.double(), joint.double().eval()
    x = clip(T=4, seed=3).double()
    with torch.no_grad():
        oc, oj = causal(x)[-1], joint(x)[-1]
        o1c, o1j = causal(x[:, :, :1])[-1], joint(x[:, :, :1])[-1]
    # a one-frame clip: the same model
    torch.testing.assert_close(o1c, o1j, rtol=0, atol=1e-12)
    # frame 0 of the clip: causal sees frame 0 only, joint all four
    torch.testing.assert_close(oc[:, :, 0], o1c[:, :, 0], rtol=0,
                               atol=1e-12)
    assert (oj[:, :, 0] - o1j[:, :, 0]).abs().max() > 1e-3


def test_registry_and_config_alias():
    model = MODELS.build(dict(type='SpikeVideoFormer', attn_mode='causal',
                              similarity='dot', **TINY))
    assert model.attn_mode == 'causal' and model.similarity == 'dot'


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_checkpointing_and_compact_spikes_keep_gradients(similarity):
    grads = []
    for with_cp, compact in ((False, False), (True, True)):
        torch.manual_seed(0)
        model = SpikeVideoFormer(attn_mode='causal', similarity=similarity,
                                 depths=(2, 1), with_cp=with_cp,
                                 compact_spikes=compact, **TINY).train()
        outs = model(clip(B=2, T=2, hw=64))
        sum(o.square().mean() for o in outs).backward()
        grads.append({n: p.grad.clone()
                      for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-5,
                                   atol=1e-6, msg=n)
    attn = [n for n in grads[0] if '.attn.q_conv' in n]
    assert attn and any(grads[0][n].abs().sum() > 0 for n in attn)


def test_trains_under_autocast():
    torch.manual_seed(0)
    model = SpikeVideoFormer(attn_mode='causal', depths=(1, 1),
                             **TINY).train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(clip(B=2, T=2, hw=64))
        loss = sum(o.float().square().mean() for o in outs)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
