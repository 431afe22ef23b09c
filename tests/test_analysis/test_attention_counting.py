# Copyright (c) mmsvf contributors. All rights reserved.
"""The counter's forward hooks on ``SpikeLinearAttention``: the two products
of ``Q·(KᵀV)`` against their closed form ``O(T·N·d²)`` (SpikeVideoFormer
§3.3, Eq. 9-10), counted once, from the marks of the q/k/v neurons."""
import pytest
import torch
from torch import nn

from mmsvf.analysis import OperationCounter, compute_energy
from mmsvf.models.attention import SpikeDrivenAttention, SpikeLinearAttention
from mmsvf.models.layers import DepthwiseConv2d, set_fast_depthwise


def _count_sdha(similarity, neuron=None, T=2, B=1, C=8, M=2, H=3, W=3):
    """Run a tiny attention module under a counter; also capture the q, k,
    v spikes its neurons emit."""
    torch.manual_seed(0)
    attn = SpikeDrivenAttention(C, num_heads=M, axis='joint',
                                similarity=similarity,
                                neuron=neuron or dict(type='LIF')).train()
    spikes = {}
    for name in 'qkv':
        getattr(attn, f'{name}_lif').register_forward_hook(
            lambda m, a, out, name=name: spikes.__setitem__(name, out))
    counter = OperationCounter(attn)
    with counter:
        # a strong input: train-mode BN makes every neuron fire somewhere
        counter.run(3 * torch.randn(T, B, C, H, W), num_clips=B)
    records = {r.name: r for r in counter.records()}
    return counter, records, spikes


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_sdha_products_match_closed_form(similarity):
    T, B, C, M, H, W = 2, 1, 8, 2, 3, 3
    counter, rec, s = _count_sdha(similarity, T=T, B=B, C=C, M=M, H=H, W=W)
    kv = rec[f'attention.{similarity}_attention.kTv']
    qkv = rec[f'attention.{similarity}_attention.q_kTv']
    N, d = T * H * W, C // M  # joint tokens, head width
    # N·d² per head and product: linear in T
    assert kv.dense_macs == qkv.dense_macs == B * M * N * d * d == 576
    assert kv.calls == qkv.calls == 1
    assert counter.attention_modules == ['attention']
    q, k, v = (s[n] for n in 'qkv')
    assert 0 < float(v.mean()) < 1 and 0 < float(q.mean()) < 1
    if similarity == 'hamming':
        # every V spike adds a ±1 key column of d entries
        assert kv.sops == pytest.approx(float(v.sum()) * d, rel=1e-12)
    else:
        # one accumulate per (key spike, value spike) pair of a token/head
        kt = q.new_zeros(())
        for h in range(M):
            ch = slice(h * d, (h + 1) * d)
            kt = kt + (k[:, :, ch].sum(2) * v[:, :, ch].sum(2)).sum()
        assert kv.sops == pytest.approx(float(kt), rel=1e-12)
    # every Q spike adds a row of KV (d entries)
    assert qkv.sops == pytest.approx(float(q.sum()) * d, rel=1e-12)
    assert kv.firing_rate == pytest.approx(float(v.mean()))
    assert qkv.firing_rate == pytest.approx(float(q.mean()))
    assert kv.kinds == {'binary'} and qkv.kinds == {'binary'}
    # the arithmetic inside the module is not counted a second time
    assert not [r for r in rec.values() if r.op == 'matmul']
    assert compute_energy(counter).spike_driven['passed']


def test_attention_dense_macs_linear_in_t():
    one = _count_sdha('hamming', T=1)[1]
    three = _count_sdha('hamming', T=3)[1]
    for part in ('kTv', 'q_kTv'):
        name = f'attention.hamming_attention.{part}'
        assert three[name].dense_macs == 3 * one[name].dense_macs


def test_integer_spikes_are_read_from_the_neuron_marks():
    """I-LIF q, k, v: the kind comes from the mark, the activity counts
    ``s`` unit spikes for a value ``s``."""
    counter, rec, s = _count_sdha('hamming',
                                  neuron=dict(type='IntegerLIF', max_level=4,
                                              stateful=False))
    q, v = s['q'], s['v']
    d = 8 // 2  # C // M
    assert float(q.max()) > 1  # real integer spikes, not only 0/1
    kv = rec['attention.hamming_attention.kTv']
    qkv = rec['attention.hamming_attention.q_kTv']
    assert kv.kinds == {'integer'} and qkv.kinds == {'integer'}
    assert kv.sops == pytest.approx(float(v.sum()) * d, rel=1e-12)
    assert qkv.firing_rate == pytest.approx(float(q.mean()))


class _Twice(nn.Module):

    def __init__(self):
        super().__init__()
        self.attention = SpikeLinearAttention('dot')
        self.proj = nn.Linear(3, 3)

    def forward(self, q, k, v, bad=False):
        if bad:  # mismatched token counts: the products raise
            self.attention(q, k[..., :1, :], v)
        self.attention(q, k=k, v=v)  # keywords are bound too
        return self.proj(v)


def test_failed_attention_call_leaves_the_counter_usable():
    gen = torch.Generator().manual_seed(0)
    q, k, v = ((torch.rand(1, 2, 4, 3, generator=gen) > 0.5).float()
               for _ in range(3))
    model = _Twice()
    counter = OperationCounter(model)
    with counter:
        with pytest.raises(RuntimeError):
            model(q, k, v, bad=True)
        assert counter._suppress == 0 and not counter._attention_calls
        counter.run(q, k, v, num_clips=1)
    names = [r.name for r in counter.records()]
    assert names == ['attention.dot_attention.kTv',
                     'attention.dot_attention.q_kTv', 'proj']
    assert counter.records()[0].calls == 1  # the failed call is not counted
    assert counter.records()[2].sops > 0


def test_attention_with_unexpected_arguments_is_reported():
    class Odd(SpikeLinearAttention):
        def forward(self, qkv):
            return super().forward(*qkv)

    q = (torch.rand(1, 1, 4, 2) > 0.5).float()
    model = Odd('hamming')
    counter = OperationCounter(model)
    with counter:
        counter.run((q, q, q), num_clips=1)
    assert not counter.records()
    assert counter.uncounted == {
        'hamming_attention call with unexpected arguments': 1}


def test_counter_sees_channels_last_depthwise_convs_and_restores_them():
    """With fast_depthwise, RepConv's depthwise conv runs channels-last on
    CPU; while counting it takes nn.Conv2d's call (counted, its folded input
    kept: the block stays spike-driven) and afterwards the fast kernel is
    back."""
    torch.manual_seed(0)
    attn = SpikeDrivenAttention(8, num_heads=2, axis='joint').train()
    dw = [m for m in attn.modules() if isinstance(m, DepthwiseConv2d)]
    assert dw and set_fast_depthwise(attn, True) >= len(dw)
    counter = OperationCounter(attn)
    counter.run(3 * torch.randn(2, 1, 8, 3, 3), num_clips=1)
    assert all(m.fast_depthwise for m in dw)
    records = {r.module: r for r in counter.records()}
    for name, m in attn.named_modules():
        if m in dw:
            assert records[name].calls == 1
            assert 'real' not in records[name].kinds
    assert compute_energy(counter).spike_driven['passed']
