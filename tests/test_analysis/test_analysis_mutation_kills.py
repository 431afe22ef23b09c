# Copyright (c) mmsvf contributors. All rights reserved.
"""Tests written against mutants that survived the analysis tests
(``tools/dev/mutation_check.sh analysis``, docs/testing.md): op handlers the
backbone never calls (transposed convolution, einsum forms, softmax
attention), ``firing_rate`` of every spike kind, and the operand rates and
broadcast batch of the linear-attention records.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmsvf.analysis.counter import OperationCounter, firing_rate
from mmsvf.analysis.energy import compute_energy, uniform_rate_for_energy
from mmsvf.models.attention import SpikeLinearAttention


class _Fn(nn.Module):

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def _count(model, *inputs):
    counter = OperationCounter(model)
    with counter:
        with torch.no_grad():
            model(*inputs)
    return counter


def test_conv_transpose_macs_and_sops():
    conv = nn.ConvTranspose2d(3, 5, 3, stride=2)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(2, 3, 4, 6, generator=gen) > 0.6).float()
    rec, = _count(conv, x).records()
    # every input element scatters into out_channels x kH x kW outputs
    dense = x.numel() * 5 * 9
    assert rec.op == 'conv_transpose2d' and rec.dense_macs == dense
    assert rec.sops == pytest.approx(float(x.mean()) * dense)
    assert rec.spike_driven and rec.input_shape == (2, 3, 4, 6)


@pytest.mark.parametrize('call', [
    lambda a, b: torch.einsum('bij,bjk->bik', a, b),
    lambda a, b: torch.einsum('b i j , b j k -> b i k', a, b),
    lambda a, b: torch.einsum('bij,bjk->bik', [a, b]),
    lambda a, b: torch.einsum('bij,bjk', a, b),  # implicit output
], ids=['plain', 'spaces', 'list', 'implicit'])
def test_einsum_macs(call):
    a = torch.rand(2, 3, 4)
    b = torch.rand(2, 4, 5)
    rec, = _count(_Fn(call), a, b).records()
    assert rec.op == 'einsum' and rec.dense_macs == 2 * 3 * 4 * 5
    assert rec.real_macs == rec.dense_macs


def test_einsum_forms_left_uncounted():
    a, b, c = torch.rand(2, 3), torch.rand(3, 4), torch.rand(4, 5)
    model = _Fn(lambda a, b, c: (torch.einsum('ij,jk,kl->il', a, b, c),
                                 torch.einsum('...j,jk->...k', a, b),
                                 torch.einsum('ij,jk,kl->il', a, b, c)))
    counter = _count(model, a, b, c)
    assert not counter.records()
    assert counter.uncounted == {
        "einsum 'ij,jk,kl->il' with 3 operand(s)": 2,
        "einsum '...j,jk->...k' with 2 operand(s)": 1}


@pytest.mark.parametrize('kw', [False, True], ids=['args', 'kwargs'])
def test_sdpa_macs(kw):
    q = torch.rand(2, 3, 7, 4)
    k = torch.rand(2, 3, 5, 4)
    v = torch.rand(2, 3, 5, 6)
    fn = (lambda q, k, v: F.scaled_dot_product_attention(
        query=q, key=k, value=v)) if kw else F.scaled_dot_product_attention
    rec, = _count(_Fn(fn), q, k, v).records()
    assert rec.op == 'scaled_dot_product_attention'
    # QKᵀ: 7 x 5 x 4, AV: 7 x 5 x 6, per (batch, head)
    assert rec.dense_macs == 2 * 3 * (7 * 5 * 4 + 7 * 5 * 6)
    assert rec.real_macs == rec.dense_macs and not rec.spike_driven
    assert rec.input_shape == (2, 3, 7, 4) and 'softmax' in rec.note


@pytest.mark.parametrize('batched', [True, False])
def test_multi_head_attention_macs(batched):
    E, L, S, N = 8, 5, 7, 3
    mha = nn.MultiheadAttention(E, 2, kdim=6, vdim=4)
    q = torch.rand(L, N, E) if batched else torch.rand(L, E)
    k = torch.rand(S, N, 6) if batched else torch.rand(S, 6)
    v = torch.rand(S, N, 4) if batched else torch.rand(S, 4)
    n = N if batched else 1
    counter = _count(_Fn(lambda q, k, v: mha(q, k, v)), q, k, v)
    rec, = [r for r in counter.records() if r.op == 'multi_head_attention']
    expected = (L * n * E * E + S * n * E * 6 + S * n * E * 4 +  # q, k, v
                2 * n * L * S * E +  # QKᵀ and AV over all heads
                L * n * E * E)  # output projection
    assert rec.dense_macs == expected and rec.real_macs == expected


def test_firing_rate_of_every_kind():
    binary = torch.tensor([0., 1., 1., 0.])
    integer = torch.tensor([0., 3., 4., 1.])
    normalized = integer / 4
    sign = torch.tensor([0., -1., 1., 1.])
    assert firing_rate(binary) == 0.5
    assert firing_rate(integer, levels=[4]) == 2.0  # mean value
    assert firing_rate(normalized, levels=[4]) == 2.0  # mean x D
    assert firing_rate(sign) == 0.75
    with pytest.raises(ValueError, match='real values'):
        firing_rate(torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r'\[\]'):
        firing_rate(integer)  # no admissible level


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_linear_attention_operand_rates_and_broadcast_batch(similarity):
    gen = torch.Generator().manual_seed(1)
    q = (torch.rand(2, 1, 6, 4, generator=gen) > 0.5).float()
    k = (torch.rand(1, 3, 5, 4, generator=gen) > 0.5).float()
    v = (torch.rand(1, 3, 5, 2, generator=gen) > 0.5).float()
    attn = SpikeLinearAttention(similarity)
    counter = OperationCounter(attn)
    with counter:
        with torch.no_grad():
            attn(q, k, v)
            attn(q, k, v)
    recs = {r.name.rsplit('.', 1)[-1]: r for r in counter.records()}
    kv, qkv = recs['kTv'], recs['q_kTv']
    lead = 2 * 3  # q's and k/v's batch axes broadcast
    assert kv.dense_macs == 2 * lead * 5 * 4 * 2
    assert qkv.dense_macs == 2 * lead * 6 * 4 * 2
    assert kv.calls == qkv.calls == 2
    assert kv.input_shape == (1, 3, 5, 2)  # V is the rate operand
    assert qkv.input_shape == (2, 1, 6, 4)
    assert kv.operand_rates == {
        'k': [2 * float(k.sum()), 2 * k.numel()],
        'v': [2 * float(v.sum()), 2 * v.numel()]}


def test_reset_forgets_everything():
    conv = nn.Conv2d(2, 3, 3)
    counter = OperationCounter(conv)
    with counter:
        counter.run(torch.rand(2, 2, 5, 5))
    assert counter.num_clips == 2 and counter.records()
    counter.uncounted['x'] += 1
    counter.reset()
    assert counter.num_clips == 0 and not counter.records()
    assert not counter.uncounted


def test_uniform_rate_for_energy_target_range():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 1))
    counter = OperationCounter(model)
    x = torch.rand(1, 2, 6, 6)
    with counter:
        counter.run((x > 0.5).float())  # spikes into the first conv only
    report = compute_energy(counter, stem=[])
    # zero is a valid target: below the MAC part alone, so a negative rate
    rate = uniform_rate_for_energy(report, 0.0)
    assert rate is not None and rate < 0
    for bad in (-1e-9, math.inf, math.nan):
        with pytest.raises(ValueError, match='finite non-negative'):
            uniform_rate_for_energy(report, bad)


def test_counts_accumulate_over_calls():
    """Two passes: every sum doubles (not the last call's value)."""
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(1, 2, 5, 5, generator=gen) > 0.5).float()
    a = (torch.rand(3, 4, generator=gen) > 0.5).float()
    b = torch.rand(4, 2, generator=gen)
    model = _Fn(lambda x, a, b: (conv(x), a @ b))
    conv = nn.Conv2d(2, 3, 3)
    once = _count(model, x, a, b)
    twice = OperationCounter(model)
    with twice:
        with torch.no_grad():
            model(x, a, b)
            model(x, a, b)
    for r1, r2 in zip(once.records(), twice.records()):
        assert r1.name == r2.name and r2.calls == 2 * r1.calls
        assert r2.sops == pytest.approx(2 * r1.sops) and r1.sops > 0
        assert r2.activity == 2 * r1.activity and r1.activity > 0
        assert r2.numel == 2 * r1.numel


def test_matmul_forms_and_spike_by_spike_products():
    gen = torch.Generator().manual_seed(3)
    a = (torch.rand(3, 4, generator=gen) > 0.5).float()
    b = (torch.rand(4, 2, generator=gen) > 0.5).float()
    bias = torch.rand(3, 2, generator=gen)
    b3 = torch.rand(2, 3, 4, generator=gen)
    c3 = (torch.rand(2, 4, 5, generator=gen) > 0.5).float()

    counter = _count(_Fn(lambda a, b: (
        a @ b,  # both operands spikes: exact coincidence count
        torch.addmm(bias, a, b),
        torch.addmm(bias, mat1=a, mat2=b),
        torch.baddbmm(torch.zeros(2, 3, 5), b3, c3),
        b.__rmatmul__(a))), a, b)  # a @ b through __rmatmul__
    recs = counter.records()
    ops = [r.name for r in recs]
    assert ops == ['matmul', 'matmul_1', 'matmul_2', 'matmul_3',
                   'matmul_4'], ops
    coincidences = float((a @ b).sum())  # Σ over products of two spikes
    for r in (recs[0], recs[1], recs[2], recs[4]):
        assert r.dense_macs == 3 * 2 * 4
        assert r.sops == coincidences, r.name
    assert recs[3].dense_macs == 2 * 3 * 5 * 4
    assert recs[3].sops == pytest.approx(float(c3.mean()) * 2 * 3 * 5 * 4)
    assert not counter.uncounted


@pytest.mark.parametrize('x,kind,activity', [
    (torch.zeros(0, 3), 'binary', 0.0),
    (torch.tensor([[0, 1], [1, 1]]), 'binary', 3.0),  # an integer dtype
    (torch.tensor([0, 2, 4]), 'integer', 6.0),
    (torch.tensor([1 + 1j, 0j]), 'real', 1.0),  # complex: never spikes
], ids=['empty', 'int-binary', 'int-levels', 'complex'])
def test_classify_unusual_tensors(x, kind, activity):
    from mmsvf.analysis.counter import classify_tensor
    stats = classify_tensor(x, levels=[4])
    assert (stats.kind, stats.activity, stats.numel) == (kind, activity,
                                                         x.numel())


def test_add_clips_accepts_zero():
    counter = OperationCounter(nn.Identity())
    counter.add_clips(0)
    counter.add_clips(3)
    assert counter.num_clips == 3
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match='non-negative integer'):
            counter.add_clips(bad)


def test_conv_transpose_weight_by_keyword():
    w = torch.rand(3, 5, 3, 3)
    x = torch.rand(1, 3, 4, 4)
    rec, = _count(_Fn(lambda x: F.conv_transpose2d(x, weight=w)),
                  x).records()
    assert rec.dense_macs == x.numel() * 5 * 9


def test_report_fields():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 1))
    counter = OperationCounter(model)
    with counter:
        counter.run(torch.rand(2, 2, 6, 6))  # real input: stem + a real op
    report = compute_energy(counter)
    assert [row['calls'] for row in report.layers] == [1, 1]
    violation, = report.spike_driven['violations']
    assert violation['name'] == '2' and violation['input_shape'] == [
        2, 4, 4, 4]
    assert compute_energy(counter, check=False).spike_driven is None
    # the table lists max_rows rows, and says how many it left out
    assert 'more)' not in report.table(max_rows=2)
    assert '(1 more)' in report.table(max_rows=1)


def test_csv_total_row(tmp_path):
    import csv
    model = nn.Sequential(nn.Conv2d(2, 4, 3))
    counter = OperationCounter(model)
    with counter:
        counter.run((torch.rand(1, 2, 6, 6) > 0.5).float())
    report = compute_energy(counter, stem=[])
    report.write_csv(str(tmp_path / 'e.csv'))
    rows = list(csv.DictReader(open(tmp_path / 'e.csv')))
    total = rows[-1]
    assert float(total['sops']) == pytest.approx(report.total['sops'])
    assert float(total['sops']) > 0
