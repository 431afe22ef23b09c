# Copyright (c) mmsvf contributors. All rights reserved.
"""The attention modules against a hand-written computation on their own
q / k / v spikes: the roles of q and k (swapping them is detected), the
Hamming scale 1/(2C) with C the module's width, the output thresholds
(1.0 after BN for Hamming, 0.5 for dot) -- SpikeVideoFormer paper §3.3
(Eq. 9-10) and ``metaspikformer.py`` (``3D_ham`` / ``3D_dot`` / ``2D``)."""
import pytest
import torch

from mmsvf.models.attention import (
    FactorizedSpikeAttention,
    SpikeDrivenAttention,
)
from reference_svf import lif_steps, naive_attention
from svf_fixtures import set_weights

DIM, HEADS = 16, 2


pytestmark = pytest.mark.usefixtures('single_torch_thread')


def capture(module, names):
    """Forward hooks keeping the outputs of the named submodules."""
    out, handles = {}, []
    for n in names:
        handles.append(getattr(module, n).register_forward_hook(
            lambda m, a, o, n=n: out.__setitem__(n, o.detach().clone())))
    return out, handles


def tail(module, y, similarity):
    """Scale, [attn_bn] (eval: running statistics), output LIF,
    ``proj_conv`` -- written out with the paper's constants."""
    if similarity == 'hamming':
        y = y / (2 * DIM)  # C = 16: the module's full width
        bn = module.attn_bn
        shape = (1, 1, -1, 1, 1)
        y = ((y - bn.running_mean.view(shape)) /
             torch.sqrt(bn.running_var.view(shape) + bn.eps) *
             bn.weight.view(shape) + bn.bias.view(shape))
        s = lif_steps(y, v_threshold=1.0)
    else:
        s = lif_steps(y * 0.125, v_threshold=0.5)
    return module.proj_conv(s.flatten(0, 1)).reshape(s.shape), s


#: dot products of many tokens saturate the output neuron: sparser q/k/v
DOT_QKV_SHIFT = dict(joint=-1.2, spatial=-0.9, temporal=0.0,
                     factorized=-1.2)


def make(cls, similarity, axis=None):
    torch.manual_seed(0)
    kwargs = {} if axis is None else dict(axis=axis)
    m = cls(DIM, HEADS, similarity=similarity, **kwargs).double()
    set_weights(m, 3, 'joint', similarity)
    if similarity == 'dot':
        with torch.no_grad():
            for n in ('q', 'k', 'v', 'q_t', 'k_t', 'v_t'):
                if hasattr(m, f'{n}_conv'):
                    getattr(m, f'{n}_conv')[1].bias.add_(
                        DOT_QKV_SHIFT[axis or 'factorized'])
    return m.eval()


def clip(seed=0):
    g = torch.Generator().manual_seed(seed)
    # [T, B, C, H, W] membranes
    return torch.randn(3, 2, DIM, 4, 4, generator=g,
                       dtype=torch.float64) * 1.5 + 1.0


def rate(s):
    return (s != 0).double().mean().item()


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
@pytest.mark.parametrize('axis', ['joint', 'spatial', 'temporal'])
def test_spike_driven_attention_q_k_roles(axis, similarity):
    m = make(SpikeDrivenAttention, similarity, axis=axis)
    spikes, handles = capture(m, ['q_lif', 'k_lif', 'v_lif'])
    with torch.no_grad():
        out = m(clip())
    for h in handles:
        h.remove()
    q, k, v = spikes['q_lif'], spikes['k_lif'], spikes['v_lif']
    assert 0.05 < rate(q) < 0.95 and 0.05 < rate(k) < 0.95
    assert 0.05 < rate(v) < 0.95
    assert not torch.equal(q, k)
    with torch.no_grad():
        expected, s = tail(m, naive_attention(q, k, v, axis, HEADS,
                                              similarity), similarity)
        swapped, s_swapped = tail(m, naive_attention(k, q, v, axis, HEADS,
                                                     similarity), similarity)
    assert 0.02 < rate(s) < 0.98  # the output neuron is not saturated
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    # the check can tell q from k: with them swapped the spikes differ
    assert not torch.equal(s, s_swapped)
    assert not torch.allclose(out, swapped)


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_factorized_attention_branches(similarity):
    m = make(FactorizedSpikeAttention, similarity)
    names = ['q_lif', 'k_lif', 'v_lif', 'q_t_lif', 'k_t_lif', 'v_t_lif']
    sp, handles = capture(m, names)
    with torch.no_grad():
        out = m(clip(1))
    for h in handles:
        h.remove()

    def both(q, k, q_t, k_t):
        return (naive_attention(q, k, sp['v_lif'], 'spatial', HEADS,
                                similarity) +
                naive_attention(q_t, k_t, sp['v_t_lif'], 'temporal', HEADS,
                                similarity))

    with torch.no_grad():
        expected, s = tail(m, both(sp['q_lif'], sp['k_lif'], sp['q_t_lif'],
                                   sp['k_t_lif']), similarity)
        swapped, _ = tail(m, both(sp['k_lif'], sp['q_lif'], sp['k_t_lif'],
                                  sp['q_t_lif']), similarity)
    assert 0.02 < rate(s) < 0.98
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(out, swapped)
