# Copyright (c) mmsvf contributors. All rights reserved.
"""Frame-causal spike attention: the cumulative products, their step form,
the module and its compact storage."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmsvf.models.attention import (
    CausalSpikeAttention,
    SpikeCausalLinearAttention,
    SpikeDrivenAttention,
    causal_attention_step,
    causal_dot_attention,
    causal_hamming_attention,
)
from mmsvf.models.neurons import LIF, StreamState, mark_spikes, streaming


def lively(module, seed=0):
    """BN scales and shifts that make every neuron fire (fresh BNs leave
    the projections silent)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.weight.data = torch.rand(m.weight.shape, generator=g,
                                       dtype=m.weight.dtype) * 2 + 1
            m.bias.data = torch.rand(m.bias.shape, generator=g,
                                     dtype=m.bias.dtype) * 0.5
    return module


def spikes(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < 0.3).to(dtype)


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_causal_products_equal_block_causal_masked_scores(similarity):
    T, B, M, N, d = 4, 2, 3, 5, 6
    q, k, v = (spikes(T, B, M, N, d, seed=s) for s in range(3))
    fn = causal_hamming_attention if similarity == 'hamming' \
        else causal_dot_attention
    out = fn(q, k, v)
    # explicit T·N x T·N scores with a block-causal (frame) mask
    flat = [t.permute(1, 2, 0, 3, 4).reshape(B, M, T * N, d)
            for t in (q, k, v)]
    qf, kf, vf = flat
    if similarity == 'hamming':
        qf, kf = 2 * qf - 1, 2 * kf - 1
    frame = torch.arange(T).repeat_interleave(N)
    mask = (frame[None, :] <= frame[:, None]).double()
    ref = ((qf @ kf.transpose(-2, -1)) * mask) @ vf
    ref = ref.reshape(B, M, T, N, d).permute(2, 0, 1, 3, 4)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    # the last frame sees the whole clip, the first only itself
    assert not torch.equal(out[0], ref.new_zeros(()).expand_as(out[0]))


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_step_recurrence_equals_cumulative_products(similarity):
    q, k, v = (spikes(5, 2, 3, 7, 4, seed=s) for s in (3, 4, 5))
    fn = causal_hamming_attention if similarity == 'hamming' \
        else causal_dot_attention
    whole = fn(q, k, v)
    kv = None
    for t in range(5):
        out, kv = causal_attention_step(q[t], k[t], v[t], kv, similarity)
        assert kv.shape == (2, 3, 4, 4)  # d x d per head, whatever t
        torch.testing.assert_close(out, whole[t], rtol=0, atol=0)
    with pytest.raises(ValueError, match='similarity'):
        causal_attention_step(q[0], k[0], v[0], None, 'cosine')


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_compact_causal_attention_identical_gradients(similarity):
    x = torch.randn(3, 4, 2, 2, 10, 8) * 3
    results = []
    for compact in (False, True):
        att = SpikeCausalLinearAttention(similarity, scale=0.1)
        att.compact_spikes = compact
        xs = [x[i].clone().requires_grad_() for i in range(3)]
        q, k, v = (mark_spikes(LIF()(t)) for t in xs)
        y = att(q, k, v)
        y.backward(torch.linspace(-1, 1, y.numel()).view_as(y))
        results.append([y.detach()] + [t.grad for t in xs])
    for a, b in zip(*results):
        assert torch.equal(a, b)
    assert results[0][1].abs().sum() > 0


def test_causal_products_exact_under_autocast():
    q, k, v = (spikes(3, 1, 2, 300, 8, seed=s, dtype=torch.float32)
               for s in range(3))
    att = SpikeCausalLinearAttention('hamming', scale=1.0)
    ref = att(q, k, v)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = att(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert out.dtype == torch.bfloat16
    # integer sums of up to 900 terms: float32 inside, then one rounding
    torch.testing.assert_close(out.float(), ref.bfloat16().float())


def test_module_same_keys_as_joint_and_frame_causal():
    torch.manual_seed(0)
    joint = SpikeDrivenAttention(16, 2, 'joint')
    causal = CausalSpikeAttention(16, 2)
    assert joint.state_dict().keys() == causal.state_dict().keys()
    lively(joint)
    causal.load_state_dict(joint.state_dict())
    causal.eval(), joint.eval()
    x = torch.randn(4, 2, 16, 4, 4, dtype=torch.float64) * 3
    causal.double(), joint.double()
    with torch.no_grad():
        y = causal(x)
        # frame 0 alone: causal == joint on a one-frame clip
        torch.testing.assert_close(y[:1], joint(x[:1]), rtol=0, atol=0)
        x2 = x.clone()
        x2[2] += torch.randn_like(x2[2]) * 3
        y2 = causal(x2)
    assert torch.equal(y[:2], y2[:2])
    assert not torch.equal(y[2:], y2[2:])


def test_module_streaming_carries_running_kv():
    torch.manual_seed(1)
    att = lively(CausalSpikeAttention(16, 2)).double().eval()
    x = torch.randn(5, 2, 16, 4, 4, dtype=torch.float64) * 3
    state = StreamState()
    with torch.no_grad():
        whole = att(x)
        for t in range(5):
            with streaming(att, state):
                y = att(x[t:t + 1])
            torch.testing.assert_close(y[0], whole[t], rtol=0, atol=0)
    assert state.tensors[''].shape == (2, 2, 8, 8)  # B, M, d, d
    with streaming(att, state), pytest.raises(RuntimeError,
                                              match='already streaming'):
        with streaming(att, state):
            pass
