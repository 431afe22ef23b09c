# Copyright (c) mmsvf contributors. All rights reserved.
"""Integer neurons and Hamming attention: the binary identity, the exact
semantics of integer Q/K expanded to binary sub-steps, and the backbone's
``attn_neuron`` placement."""
import pytest
import torch

from mmsvf.models import SpikeVideoFormer
from mmsvf.models.attention import SpikeLinearAttention, hamming_attention
from mmsvf.models.attention.core import (
    expanded_hamming_attention,
    thermometer_expand,
)
from mmsvf.models.neurons import (
    LIF,
    IntegerLIF,
    expand_integer_spikes,
    mark_spikes,
)
from svf_fixtures import TINY, set_weights


def _brute_force(q, k, v, pair):
    """``Σ_j pair(q_i, k_j)·v_j`` with the N x N scores written out."""
    scores = torch.stack([torch.stack([pair(qi, kj) for kj in k])
                          for qi in q])
    return scores.to(v.dtype) @ v


def _ints(shape, high, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, high + 1, shape, generator=g).double()


def test_binary_hamming_identity():
    """(2q − 1)·(2k − 1) = d − 2·d_H(q, k) for binary spikes: the linear
    form equals the explicit Hamming scores."""
    d = 6
    q, k, v = (_ints((5, d), 1, s) for s in (0, 1, 2))
    expected = _brute_force(
        q, k, v, lambda a, b: d - 2 * (a != b).sum())
    torch.testing.assert_close(hamming_attention(q, k, v), expected,
                               rtol=0, atol=0)


@pytest.mark.parametrize('D', [1, 2, 4])
def test_expanded_integer_semantics(D):
    """Integer Q/K expanded to D sub-steps: the score of query i and key j
    is ``d·D − 2·‖q_i − k_j‖₁`` (Hamming over the d·D bits)."""
    d = 3
    q, k = _ints((4, d), D, 3), _ints((7, d), D, 4)
    v = _ints((7, 2), D, 5)  # integer values enter linearly
    expected = _brute_force(
        q, k, v, lambda a, b: d * D - 2 * (a - b).abs().sum())
    out = expanded_hamming_attention(q, k, v, D)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    if D == 1:
        torch.testing.assert_close(out, hamming_attention(q, k, v))


def test_thermometer_is_spikeyolo_sub_steps():
    """The channel-axis expansion holds the same bits as SpikeYOLO's
    integer-to-binary sub-steps along time."""
    D = 4
    s = _ints((3, 5), D, 6)  # [T, d]
    along_time = expand_integer_spikes(s, D).view(3, D, 5)
    along_channels = thermometer_expand(s, D).view(3, 5, D)
    torch.testing.assert_close(along_time.transpose(1, 2), along_channels)
    assert torch.equal(thermometer_expand(s, D).view(3, 5, D).sum(-1), s)
    # normalised I-LIF (k / D) expands to the same bits
    torch.testing.assert_close(thermometer_expand(s / D, D, True),
                               thermometer_expand(s, D))


def _marked(shape, D, seed, normalized=False):
    s = _ints(shape, D, seed)
    if normalized:
        s = s / D
    return mark_spikes(s, D, normalized)


@pytest.mark.parametrize('normalized', [False, True])
def test_linear_attention_integer_modes(normalized):
    D, d = 4, 4
    q, k, v = (_marked((1, 6, d), D, s, normalized) for s in (7, 8, 9))
    scale = 1 / 16
    linear = SpikeLinearAttention('hamming', scale)
    expand = SpikeLinearAttention('hamming', scale, integer_qk='expand')
    # 'linear' (default) is the formula on the integer values
    torch.testing.assert_close(linear(q, k, v),
                               hamming_attention(q, k, v) * scale)
    # 'expand' is the Hamming attention of the sub-steps, normalised by D
    lq, lk = (t * D if normalized else t for t in (q, k))
    expected = _brute_force(
        lq[0], lk[0], v[0],
        lambda a, b: d * D - 2 * (a - b).abs().sum())[None] * scale / D
    torch.testing.assert_close(expand(q, k, v), expected)
    assert not torch.allclose(linear(q, k, v), expand(q, k, v))


def test_binary_spikes_same_in_both_modes():
    q, k, v = (_marked((2, 5, 4), 1, s) for s in (10, 11, 12))
    a = SpikeLinearAttention('hamming', 0.125)(q, k, v)
    b = SpikeLinearAttention('hamming', 0.125, integer_qk='expand')(q, k, v)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_expand_needs_marked_spikes():
    q = _ints((5, 4), 4, 0)
    with pytest.raises(ValueError, match='marked as spikes'):
        SpikeLinearAttention('hamming', integer_qk='expand')(q, q, q)
    with pytest.raises(ValueError, match='integer_qk'):
        SpikeLinearAttention('hamming', integer_qk='binary')


def test_expand_gradient_compact_equals_plain():
    """Straight-through gradient of the expansion (1/D per bit), the same
    with and without compact spike storage."""
    D = 4
    grads = []
    for compact in (False, True):
        ts = [mark_spikes(_ints((1, 6, 4), D, s).requires_grad_(True), D)
              for s in (13, 14, 15)]
        att = SpikeLinearAttention('hamming', 0.1, integer_qk='expand')
        att.compact_spikes = compact
        w = torch.linspace(-1, 1, 24, dtype=torch.float64).view(1, 6, 4)
        (att(*ts) * w).sum().backward()
        grads.append([t.grad for t in ts])
    for a, b in zip(*grads):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b)


# ------------------------------------------------------------ placement
def _attn_modules(model):
    return [m for n, m in model.named_modules() if n.endswith('.attn')]


@pytest.mark.parametrize('similarity,attn_thr', [('hamming', 1.0),
                                                 ('dot', 0.5)])
def test_backbone_attn_neuron_placement(similarity, attn_thr):
    model = SpikeVideoFormer(neuron=dict(type='IntegerLIF', max_level=4),
                             attn_neuron=dict(type='LIF'),
                             similarity=similarity, **TINY)
    for attn in _attn_modules(model):
        assert isinstance(attn.head_lif, IntegerLIF)
        for name in ('q_lif', 'k_lif', 'v_lif', 'attn_lif'):
            assert isinstance(getattr(attn, name), LIF), name
        assert attn.attn_lif.v_threshold == attn_thr
    assert isinstance(model.block3[0].mlp.fc1_lif, IntegerLIF)
    assert isinstance(model.downsample1_2.encode_lif, IntegerLIF)
    # the attention products see binary Q, K, V
    seen = []
    core = model.block3[0].attn.attention
    handle = core.register_forward_hook(
        lambda m, args, out: seen.append(torch.cat(
            [a.flatten() for a in args])))
    with torch.no_grad():
        model(torch.randn(1, 3, 2, 32, 32) * 3)
    handle.remove()
    assert set(seen[0].unique().tolist()) <= {0.0, 1.0}


def test_backbone_attn_neuron_factorized_and_hierarchical():
    for mode in ('factorized', 'hierarchical'):
        model = SpikeVideoFormer(neuron=dict(type='IntegerLIF'),
                                 attn_neuron=dict(type='LIF'),
                                 attn_mode=mode, reset_each_frame=True,
                                 **TINY)
        lifs = [m for n, m in model.named_modules()
                if n.startswith('block') and n.rsplit('.', 1)[-1] in (
                    'q_lif', 'k_t_lif', 'attn_lif')]
        assert lifs and all(isinstance(m, LIF) and m.reset_each_step
                            for m in lifs)


def test_default_attn_neuron_is_the_neuron():
    """attn_neuron=None builds the same network as naming the neuron: the
    default numerics do not move."""
    cfg = dict(neuron=dict(type='IntegerLIF', max_level=4), **TINY)
    torch.manual_seed(0)
    a = SpikeVideoFormer(**cfg).eval()
    torch.manual_seed(0)
    b = SpikeVideoFormer(attn_neuron=dict(type='IntegerLIF', max_level=4),
                         **cfg).eval()
    x = torch.randn(1, 3, 2, 32, 32)
    with torch.no_grad():
        for o1, o2 in zip(a(x), b(x)):
            assert torch.equal(o1, o2)


def test_integer_qk_expand_changes_integer_attention_only():
    cfg = dict(neuron=dict(type='IntegerLIF', max_level=4), **TINY)
    x = torch.randn(1, 3, 2, 32, 32, dtype=torch.float64) * 2
    outs = {}
    for mode, attn_neuron in (('linear', None), ('expand', None),
                              ('linear', dict(type='LIF')),
                              ('expand', dict(type='LIF'))):
        model = SpikeVideoFormer(integer_qk=mode, attn_neuron=attn_neuron,
                                 **cfg).double().eval()
        set_weights(model, 0, integer=True)
        with torch.no_grad():
            outs[mode, attn_neuron is None] = model(x)[-1]
    # integer Q/K: the two readings differ; binary Q/K: no difference
    assert not torch.allclose(outs['linear', True], outs['expand', True])
    assert torch.equal(outs['linear', False], outs['expand', False])


def test_bad_attn_neuron_names_the_argument():
    with pytest.raises(ValueError, match='attn_neuron'):
        SpikeVideoFormer(attn_neuron='LIF', **TINY)
    with pytest.raises(ValueError, match='integer_qk'):
        SpikeVideoFormer(integer_qk='sub-steps', **TINY)
