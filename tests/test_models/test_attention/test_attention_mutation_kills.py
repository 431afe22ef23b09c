# Copyright (c) mmsvf contributors. All rights reserved.
"""Tests written against mutants that survived the attention tests
(``tools/dev/mutation_check.sh attention``, docs/testing.md).

The compact-spike path of :class:`SpikeLinearAttention` (``q, k, v`` kept as
bool / uint8 codes for backward) was only exercised through whole blocks in
``test_speed_memory.py``: here its outputs and gradients are compared
bitwise with the plain path, for every subset of inputs that needs a
gradient.
"""
import itertools

import pytest
import torch

from mmsvf.models.attention import (
    FactorizedSpikeAttention,
    SpikeDrivenAttention,
    SpikeLinearAttention,
    from_tokens,
    to_tokens,
)
from mmsvf.models.attention.core import dot_attention, hamming_attention
from mmsvf.models.neurons import LIF, SpikeFormat, mark_spikes, spike_format


def _spikes(gen, shape, max_level, dtype):
    s = torch.randint(0, max_level + 1, shape, generator=gen).to(dtype)
    if max_level > 1:
        s = s / max_level  # I-LIF normalize=True
    return s


def _run(attn, qkv, needs, grad_out, mark, max_level, autocast=False):
    inputs = []
    for t, n in zip(qkv, needs):
        t = t.clone().requires_grad_(n)
        # the neuron's output: marked spikes; a leaf copy is marked
        # through an identity op so it has a base to carry the mark
        t = t * 1
        if mark:
            mark_spikes(t, max_level, max_level > 1)
        inputs.append(t)
        if n:
            t.retain_grad()
    # forward under autocast, backward outside it (as AmpOptimWrapper does)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        out = attn(*inputs)
    (out * grad_out).sum().backward()
    return out, [t.grad for t in inputs], out.grad_fn


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
@pytest.mark.parametrize('max_level', [1, 4])
@pytest.mark.parametrize('needs', [
    n for n in itertools.product([True, False], repeat=3) if any(n)
])
def test_compact_path_equals_plain_path(similarity, max_level, needs):
    gen = torch.Generator().manual_seed(21)
    shape = (2, 3, 10, 8)  # (B, heads, N, d)
    qkv = [_spikes(gen, shape, max_level, torch.float32) for _ in range(3)]
    grad_out = torch.randn(shape, generator=gen)
    attn = SpikeLinearAttention(similarity, scale=0.125)
    out_c, grads_c, fn_c = _run(attn, qkv, needs, grad_out, True, max_level)
    out_p, grads_p, fn_p = _run(attn, qkv, needs, grad_out, False, max_level)
    assert 'CompactAttention' in type(fn_c).__name__
    assert 'CompactAttention' not in type(fn_p).__name__
    assert torch.equal(out_c, out_p)
    for gc, gp, n in zip(grads_c, grads_p, needs):
        if n:
            assert gc is not None and torch.equal(gc, gp)
            assert gc.abs().sum() > 0
        else:
            assert gc is None and gp is None


def test_compact_path_under_autocast_and_double():
    gen = torch.Generator().manual_seed(22)
    shape = (1, 2, 12, 4)
    attn = SpikeLinearAttention('hamming', scale=0.5)
    needs = (True, True, True)
    for dtype in (torch.bfloat16, torch.float64):
        qkv = [_spikes(gen, shape, 1, dtype) for _ in range(3)]
        grad_out = torch.randn(shape, generator=gen).to(dtype)
        bf16 = dtype == torch.bfloat16
        out_c, grads_c, _ = _run(attn, qkv, needs, grad_out, True, 1, bf16)
        out_p, grads_p, _ = _run(attn, qkv, needs, grad_out, False, 1, bf16)
        assert out_c.dtype == dtype
        assert torch.equal(out_c, out_p)
        for gc, gp in zip(grads_c, grads_p):
            assert gc.dtype == dtype and torch.equal(gc, gp)


@pytest.mark.parametrize('shape', [(7, 3), (2, 7, 3), (2, 2, 2, 7, 3)],
                         ids=['2d', '3d', '5d'])
def test_products_on_any_leading_shape(shape):
    """``(..., N, d)``: the transpose is of the last two axes for any rank."""
    gen = torch.Generator().manual_seed(23)
    q, k, v = ((torch.rand(shape, generator=gen) > 0.5).double()
               for _ in range(3))
    expected_dot = torch.einsum('...id,...jd,...je->...ie', q, k, v)
    expected_ham = torch.einsum('...id,...jd,...je->...ie', 2 * q - 1,
                                2 * k - 1, v)
    assert torch.equal(dot_attention(q, k, v), expected_dot)
    assert torch.equal(hamming_attention(q, k, v), expected_ham)


def test_defaults():
    attn = SpikeLinearAttention()
    assert (attn.similarity, attn.scale, attn.compact_spikes) == (
        'hamming', 1.0, True)
    sda = SpikeDrivenAttention(16)
    assert (sda.num_heads, sda.axis, sda.similarity) == (8, 'joint',
                                                         'hamming')
    fsa = FactorizedSpikeAttention(16)
    assert (fsa.num_heads, fsa.similarity) == (8, 'hamming')


@pytest.mark.parametrize('similarity,attn_threshold', [('hamming', 1.0),
                                                       ('dot', 0.5)])
@pytest.mark.parametrize('cls', [SpikeDrivenAttention,
                                 FactorizedSpikeAttention])
def test_neuron_config_reaches_every_neuron(cls, similarity, attn_threshold):
    neuron = dict(type='LIF', tau=3.0, v_threshold=0.7)
    module = cls(8, num_heads=2, similarity=similarity, neuron=neuron)
    assert module.similarity == similarity
    lifs = {n: m for n, m in module.named_modules() if isinstance(m, LIF)}
    names = ['head_lif', 'q_lif', 'k_lif', 'v_lif', 'attn_lif']
    if cls is FactorizedSpikeAttention:
        names += ['q_t_lif', 'k_t_lif', 'v_t_lif']
    assert sorted(lifs) == sorted(names)
    for name, lif in lifs.items():
        assert lif.tau == 3.0, name
        # the attention neuron's threshold is the similarity's
        assert lif.v_threshold == (attn_threshold if name == 'attn_lif'
                                   else 0.7), name


@pytest.mark.parametrize('axis', ['joint', 'spatial', 'temporal'])
@pytest.mark.parametrize('fmt', [(1, False), (4, True)])
def test_token_layout_keeps_the_spike_mark(axis, fmt):
    gen = torch.Generator().manual_seed(24)
    x = torch.randint(0, fmt[0] + 1, (2, 3, 4, 2, 5), generator=gen).float()
    if fmt[1]:
        x = x / fmt[0]
    mark_spikes(x, *fmt)
    y = to_tokens(x, axis, num_heads=2)
    assert spike_format(y) == SpikeFormat(*fmt)
    assert torch.equal(from_tokens(y, axis, x.shape), x)
    assert spike_format(to_tokens(x + 0, axis, 2)) is None  # unmarked copy


def test_compact_path_only_when_asked_and_needed():
    gen = torch.Generator().manual_seed(25)
    shape = (1, 2, 9, 4)
    qkv = [_spikes(gen, shape, 1, torch.float32) for _ in range(3)]
    grad_out = torch.randn(shape, generator=gen)
    attn = SpikeLinearAttention('dot')
    attn.compact_spikes = False  # set_compact_spikes(model, False)
    _, _, fn = _run(attn, qkv, (True, ) * 3, grad_out, True, 1)
    assert 'CompactAttention' not in type(fn).__name__
    # no backward to serve (no_grad, or no input needing a gradient): the
    # spikes are not encoded (no code cached on the neuron output)
    attn.compact_spikes = True
    for grad_enabled, needs in ((False, True), (True, False)):
        q, k, v = (mark_spikes(t.clone().requires_grad_(needs) * 1)
                   for t in qkv)
        with torch.set_grad_enabled(grad_enabled):
            attn(q, k, v)
        assert not any(hasattr(t._base if t._base is not None else t,
                               '_mmsvf_spike_code') for t in (q, k, v))


def test_bf16_inputs_are_multiplied_in_float32():
    """Entries of KᵀV are integer sums over N tokens: above 256 they are not
    bf16 numbers, so the products run in float32 (then the result is
    rounded once)."""
    gen = torch.Generator().manual_seed(26)
    shape = (1, 1, 700, 4)
    q, k, v = ((torch.rand(shape, generator=gen) > 0.3).double()
               for _ in range(3))
    for similarity in ('hamming', 'dot'):
        attn = SpikeLinearAttention(similarity, scale=0.125)
        exact = attn(q, k, v).to(torch.bfloat16)
        out = attn(q.bfloat16(), k.bfloat16(), v.bfloat16())
        assert out.dtype == torch.bfloat16
        assert torch.equal(out, exact), similarity
