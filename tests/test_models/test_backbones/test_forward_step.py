# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeVideoFormer.forward_step: a stream equals the whole clip."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmsvf.models import SpikeVideoFormer, SpikingClsHead
from mmsvf.models.neurons import StreamState

pytestmark = pytest.mark.usefixtures('single_torch_thread')

TINY = dict(embed_dims=[16, 32, 64, 64], depths=(1, 1), num_heads=2)
NEURONS = {'LIF': dict(type='LIF'),
           'IntegerLIF': dict(type='IntegerLIF', max_level=4)}


def clip(B=2, T=4, hw=32, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, 3, T, hw, hw, generator=g) * 2).to(dtype)


def calibrated(model, hw=32):
    """BN statistics from data (fresh BNs silence the deep layers)."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for s in range(2):
            model(clip(T=4, hw=hw, seed=100 + s, dtype=torch.float32))
    return model.double().eval()


def firing(model):
    """Spike rates of every attention output neuron, recorded per call."""
    rates = []
    for name, m in model.named_modules():
        if name.endswith('attn.attn_lif'):
            m.register_forward_hook(
                lambda mod, i, o: rates.append(o.mean().item()))
    return rates


@pytest.mark.parametrize('neuron,attn_mode,out_indices', [
    ('LIF', 'causal', (0, 1, 2, 3)), ('IntegerLIF', 'causal', (3, )),
    ('LIF', 'spatial', (1, 3)), ('IntegerLIF', 'spatial', (0, 2)),
    ('IntegerLIF', 'causal', (1, 2, 3))])
def test_stream_equals_whole_clip(neuron, attn_mode, out_indices):
    torch.manual_seed(0)
    model = calibrated(SpikeVideoFormer(
        attn_mode=attn_mode, neuron=NEURONS[neuron], out_indices=out_indices,
        **TINY))
    rates = firing(model)
    x = clip()
    with torch.no_grad():
        whole = model(x)
        state, fresh_differs = None, False
        for t in range(x.shape[2]):
            outs, state = model.forward_step(x[:, :, t], state)
            assert len(outs) == len(whole) == len(out_indices)
            for a, b in zip(whole, outs):
                assert b.shape == a[:, :, t].shape
                torch.testing.assert_close(b, a[:, :, t], rtol=0, atol=1e-9)
            # the carried state matters: a fresh stream disagrees
            alone, _ = model.forward_step(x[:, :, t])
            fresh_differs |= any(not torch.allclose(a, b)
                                 for a, b in zip(alone, outs))
    assert fresh_differs
    assert state.frames == x.shape[2]
    assert max(rates) > 0  # the attention is not silent


@pytest.mark.parametrize('neuron', sorted(NEURONS))
def test_stream_with_head_equals_recognizer_scores(neuron):
    torch.manual_seed(1)
    model = calibrated(SpikeVideoFormer(attn_mode='causal',
                                        neuron=NEURONS[neuron], **TINY))
    head = SpikingClsHead(5, 64, neuron=NEURONS[neuron], with_kd=True)
    head.double().eval()
    x = clip(T=4)
    with torch.no_grad():
        bstate = hstate = None
        for t in range(4):
            feats, bstate = model.forward_step(x[:, :, t], bstate)
            score, hstate = head.forward_step(feats, hstate)
            ref = head(model(x[:, :, :t + 1]))
            torch.testing.assert_close(score, ref, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match=r'\(B, 64, h, w\)'):
        head.forward_step(torch.zeros(2, 64, 3, 2, 2))


def test_state_size_does_not_grow():
    model = calibrated(SpikeVideoFormer(attn_mode='causal', **TINY))
    head = SpikingClsHead(5, 64).eval()
    model.float()
    g = torch.Generator().manual_seed(3)
    sizes = {}
    bstate = hstate = None
    with torch.no_grad():
        for t in range(1, 65):
            feats, bstate = model.forward_step(
                torch.randn(1, 3, 32, 32, generator=g), bstate)
            _, hstate = head.forward_step(feats, hstate)
            if t in (8, 64):
                sizes[t] = (bstate.numel(), bstate.nbytes(),
                            sorted(bstate.tensors), hstate.numel())
    assert sizes[8] == sizes[64]
    assert bstate.frames == 64
    # every neuron and every attention accumulator is carried
    n_neurons = sum(type(m).__name__ in ('LIF', 'IntegerLIF')
                    for m in model.modules())
    kv = [k for k in bstate.tensors if k.endswith('.attn')]
    assert len(kv) == 2 and bstate.tensors[kv[0]].shape == (1, 2, 32, 32)
    assert len(bstate.tensors) == n_neurons + len(kv)


@pytest.mark.parametrize('attn_mode', ['joint', 'hierarchical',
                                       'factorized'])
def test_modes_that_need_the_clip_refuse(attn_mode):
    model = SpikeVideoFormer(attn_mode=attn_mode, **TINY)
    with pytest.raises(ValueError, match='frame by frame.*later frames'):
        model.forward_step(torch.zeros(1, 3, 32, 32))


def test_bad_frames_raise_clear_errors():
    model = SpikeVideoFormer(attn_mode='causal', **TINY).eval()
    with pytest.raises(ValueError, match=r'one frame of shape \(B, C, H, W'):
        model.forward_step(torch.zeros(1, 3, 2, 32, 32))
    with pytest.raises(ValueError, match='in_channels=3'):
        model.forward_step(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match='divisible by 16'):
        model.forward_step(torch.zeros(1, 3, 32, 40))
    with pytest.raises(TypeError, match='StreamState'):
        model.forward_step(torch.zeros(1, 3, 32, 32), state={})
    with torch.no_grad():
        _, state = model.forward_step(torch.zeros(1, 3, 32, 32))
        with pytest.raises(ValueError, match='does not continue'):
            model.forward_step(torch.zeros(2, 3, 32, 32), state)
    assert isinstance(state, StreamState) and state.frames == 1
