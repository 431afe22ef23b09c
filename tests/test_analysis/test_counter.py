# Copyright (c) mmsvf contributors. All rights reserved.
"""Operation counter: firing rates, MACs, SOPs, energy on hand-set toys."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmsvf.analysis import (
    FOLDED_KIND,
    OperationCounter,
    check_spike_driven,
    classify_tensor,
    compute_energy,
    firing_rate,
)
from mmsvf.models.attention import SpikeLinearAttention
from mmsvf.models.neurons import LIF, IntegerLIF


def exact_fraction_spikes(shape, ones, seed=0):
    """A {0,1} tensor with exactly ``ones`` ones at random places."""
    n = math.prod(shape)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    x = torch.zeros(n)
    x[idx[:ones]] = 1.0
    return x.view(shape)


# ---------------------------------------------------------------------------
# firing rates / value kinds
# ---------------------------------------------------------------------------
def test_firing_rate_of_known_tensors():
    x = exact_fraction_spikes((4, 2, 8, 8), ones=128)  # 512 elements
    assert firing_rate(x) == 0.25
    assert classify_tensor(x).kind == 'binary'
    # integer spikes {0..4}: the mean value (= binary rate over D sub-steps
    # times D)
    s = torch.tensor([[0., 1., 2., 4.], [3., 0., 0., 2.]])
    assert firing_rate(s, levels=[4]) == pytest.approx(12 / 8)
    assert classify_tensor(s, [4]).kind == 'integer'
    # normalised integer spikes {0, 1/4, .., 1}: mean x D
    assert firing_rate(s / 4, levels=[4]) == pytest.approx(12 / 8)
    assert classify_tensor(s / 4, [4]).kind == 'normalized'
    # sign spikes: fraction of non-zeros
    sign = torch.tensor([1., -1., 0., 0.])
    assert firing_rate(sign) == 0.5
    assert classify_tensor(sign).kind == 'sign'
    assert firing_rate(torch.zeros(3, 3)) == 0.0
    assert firing_rate(torch.ones(2, 5, dtype=torch.bool)) == 1.0


def test_firing_rate_rejects_real_values():
    with pytest.raises(ValueError, match='real values'):
        firing_rate(torch.tensor([0., 0.5, 1.]))
    # integers are only spikes for a declared level D
    with pytest.raises(ValueError, match='real values'):
        firing_rate(torch.tensor([0., 2., 1.]))
    assert firing_rate(torch.tensor([0., 2., 1.]), levels=[2]) == 1.0
    # above the largest level: real
    assert classify_tensor(torch.tensor([0., 5.]), [4]).kind == 'real'
    assert classify_tensor(torch.tensor([0., float('nan')])).kind == 'real'
    with pytest.raises(TypeError):
        classify_tensor([0, 1])


# ---------------------------------------------------------------------------
# exact MACs / SOPs / energy on a hand-set toy
# ---------------------------------------------------------------------------
class HandSetToy(nn.Module):
    """real x → stem Linear(8→8) → LIF (exactly 25 % spikes) → fc Linear(8→6)
    → LIF (exactly 50 %) → Conv1d(6→5, k=3, pad=1) over N tokens.

    Zero weights and hand-set biases fix every LIF output: a bias of 4 makes
    H = 0.5·4 = 2 ≥ 1 at every step (fire, hard reset to 0), a bias of 0 never
    fires.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(8, 8)
        self.lif1 = LIF()
        self.fc = nn.Linear(8, 6)
        self.lif2 = LIF()
        self.conv = nn.Conv1d(6, 5, 3, padding=1)
        with torch.no_grad():
            for m in (self.stem, self.fc, self.conv):
                m.weight.zero_()
            self.stem.bias.copy_(torch.tensor([4., 0, 0, 0, 4, 0, 0, 0]))
            self.fc.bias.copy_(torch.tensor([4., 4, 4, 0, 0, 0]))

    def forward(self, x):  # x: [T, B, N, 8]
        T, B, N, _ = x.shape
        s1 = self.lif1(self.stem(x))
        s2 = self.lif2(self.fc(s1))
        return self.conv(s2.reshape(T * B, N, 6).transpose(1, 2))


def test_hand_computed_macs_sops_energy():
    T, B, N = 2, 3, 4
    model = HandSetToy().eval()
    counter = OperationCounter(model)
    with counter:
        counter.run(torch.randn(T, B, N, 8), num_clips=B)
    layers = {r.name: r for r in counter.records()}
    assert list(layers) == ['stem', 'fc', 'conv']
    assert layers['fc'].firing_rate == 0.25
    assert layers['conv'].firing_rate == 0.5
    assert layers['stem'].firing_rate is None  # real-valued input

    # per clip: stem 2·4·8 outputs × 8 inputs; fc 2·4·6 × 8; conv
    # (2 frames × 5 ch × 4 positions) × 6 in × 3 taps
    stem_macs, fc_macs, conv_macs = 2 * 4 * 8 * 8, 2 * 4 * 6 * 8, \
        2 * 5 * 4 * 6 * 3
    assert (stem_macs, fc_macs, conv_macs) == (512, 384, 720)
    report = compute_energy(counter)
    rows = {r['name']: r for r in report.layers}
    assert rows['stem']['stem'] and rows['stem']['macs'] == 512
    assert rows['stem']['sops'] == 0
    assert rows['fc']['macs'] == 0 and rows['fc']['sops'] == 0.25 * 384
    assert rows['conv']['sops'] == 0.5 * 720
    total = report.total
    assert total['dense_macs'] == 512 + 384 + 720
    assert total['macs'] == 512
    assert total['sops'] == 96 + 360
    # E = 4.6 pJ × 512 + 0.9 pJ × 456 = 2765.6 pJ = 2.7656e-6 mJ per clip
    assert total['energy_mj'] == pytest.approx(2.7656e-6, rel=1e-12)
    assert total['ann_energy_mj'] == pytest.approx(4.6 * 1616 * 1e-9)
    assert report.num_clips == B
    assert report.spike_driven['passed']
    assert report.stem == ['stem']

    fp16 = compute_energy(counter, preset='fp16').total
    assert fp16['energy_mj'] == pytest.approx((1.5 * 512 + 0.4 * 456) * 1e-9)
    int8 = compute_energy(counter, preset='int8').total
    assert int8['energy_mj'] == pytest.approx((0.23 * 512 + 0.03 * 456) *
                                              1e-9)
    custom = compute_energy(counter, e_mac=2.0, e_ac=1.0).total
    assert custom['energy_mj'] == pytest.approx((2 * 512 + 456) * 1e-9)
    ann = compute_energy(counter, mode='ann').total
    assert ann['macs'] == ann['dense_macs'] == 1616 and ann['sops'] == 0
    assert ann['energy_mj'] == pytest.approx(4.6 * 1616 * 1e-9)
    # counts accumulate over passes and stay per clip
    with counter:
        counter.run(torch.randn(T, 1, N, 8), num_clips=1)
    assert compute_energy(counter).total['sops'] == 456
    assert counter.num_clips == B + 1


def test_integer_lif_rate_and_sops():
    """I-LIF input: SOPs = mean integer value × MACs."""
    lif = IntegerLIF(max_level=4, stateful=False)
    fc = nn.Linear(4, 3, bias=False)
    model = nn.Sequential(lif, fc)
    x = torch.tensor([[[0., 1., 2., 4.]], [[3., 0., 0., 2.]]])  # [T=2,1,4]
    counter = OperationCounter(model)
    with counter:
        counter.run(x, num_clips=1)
    rec = counter.records()[0]
    assert rec.kinds == {'integer'}
    assert rec.firing_rate == pytest.approx(12 / 8)
    report = compute_energy(counter, stem=None)
    assert report.total['dense_macs'] == 2 * 3 * 4
    assert report.total['sops'] == pytest.approx(12 / 8 * 24)
    assert report.spike_driven['passed']


def test_normalized_integer_lif_at_top_level_counts_d_spikes():
    """A normalised I-LIF output of only 0 and 1 (= D) is D spikes each."""
    model = nn.Sequential(IntegerLIF(max_level=4, normalize=True,
                                     stateful=False), nn.Linear(4, 2))
    x = torch.tensor([[[10., 0., 0., 10.]]])  # quantised to 4 → 4/4 = 1
    counter = OperationCounter(model)
    with counter:
        counter.run(x, num_clips=1)
    rec = counter.records()[0]
    assert rec.kinds == {'normalized'}
    assert rec.firing_rate == 4 * 0.5
    assert compute_energy(counter, stem=None).total['sops'] == 2 * 8


# ---------------------------------------------------------------------------
# attention products
# ---------------------------------------------------------------------------
class AttnToy(nn.Module):
    """Spike q, k, v → optional linear attention → Linear on the spikes."""

    def __init__(self, similarity=None):
        super().__init__()
        self.attention = SpikeLinearAttention(similarity) \
            if similarity else None
        self.proj = nn.Linear(3, 3, bias=False)

    def forward(self, q, k, v):
        if self.attention is not None:
            self.attention(q, k, v)
        return self.proj(v)


def _qkv():
    shape = (1, 2, 4, 3)  # B, M heads, N tokens, d
    return (exact_fraction_spikes(shape, 12, seed=1),
            exact_fraction_spikes(shape, 9, seed=2),
            exact_fraction_spikes(shape, 6, seed=3))


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_attention_products_change_totals_by_expected_amount(similarity):
    q, k, v = _qkv()
    totals = {}
    counters = {}
    for sim in (None, similarity):
        counter = OperationCounter(AttnToy(sim))
        with counter:
            counter.run(q, k, v, num_clips=1)
        counters[sim] = counter
        totals[sim] = compute_energy(counter, stem=None).total
    base, att = totals[None], totals[similarity]
    per_product = 2 * 4 * 3 * 3  # heads × N × d²
    assert att['dense_macs'] - base['dense_macs'] == 2 * per_product
    # brute-force accumulate counts per head
    if similarity == 'hamming':
        # every V spike adds a ±1 key column (d entries); (2Q-1)·KV as
        # 2·Q·KV - 1ᵀKV: every Q spike adds a row of KV (d entries)
        kv_sops = float(v.sum()) * 3
    else:
        # K^T V: one accumulate per (key spike, value spike) pair per token
        kv_sops = float(sum(k[0, h, n, i] * v[0, h, n, j]
                            for h in range(2) for n in range(4)
                            for i in range(3) for j in range(3)))
    q_sops = float(q.sum()) * 3
    assert att['sops'] - base['sops'] == pytest.approx(kv_sops + q_sops)
    assert att['macs'] == base['macs'] == 0
    names = [r.name for r in counters[similarity].records()]
    assert names == [f'attention.{similarity}_attention.kTv',
                     f'attention.{similarity}_attention.q_kTv', 'proj']
    rec = counters[similarity].records()
    assert rec[0].firing_rate == 0.25  # rate of V (6 / 24)
    assert rec[1].firing_rate == 0.5  # rate of Q (12 / 24)
    assert compute_energy(counters[similarity],
                          stem=None).spike_driven['passed']


def test_attention_with_real_query_is_impure():
    q, k, v = _qkv()
    counter = OperationCounter(AttnToy('hamming'))
    with counter:
        counter.run(q * 0.3, k, v, num_clips=1)
    bad = check_spike_driven(counter, stem=None)
    assert [b['name'] for b in bad] == ['attention.hamming_attention.q_kTv']
    report = compute_energy(counter, stem=None)
    row = report.layers[1]
    assert row['macs'] == row['dense_macs'] == 72 and row['sops'] == 0


def test_generic_matmul_and_softmax_attention_counts():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2)
            self.w = nn.Parameter(torch.randn(6, 5))

        def forward(self, x, s):
            a = s @ self.w  # spike × weight: 2·3·5 outputs × 6
            b = torch.einsum('bij,bjk->bik', s, s.transpose(1, 2))
            seq = torch.randn(5, 1, 8)  # L=5, N=1, E=8
            self.mha(seq, seq, seq)
            qh = torch.randn(1, 2, 5, 4)
            F.scaled_dot_product_attention(qh, qh, qh)
            return a, b

    s = exact_fraction_spikes((2, 3, 6), 9)  # rate 0.25
    counter = OperationCounter(Mixed())
    with counter:
        counter.run(torch.zeros(1), s, num_clips=1)
    rec = {r.name: r for r in counter.records()}
    assert rec['matmul'].dense_macs == 2 * 3 * 5 * 6
    assert rec['matmul'].sops == 0.25 * 180
    # two spike operands: exact number of non-zero products
    exact = float(torch.einsum('bij,bjk->bik', s, s.transpose(1, 2)).sum())
    assert rec['einsum'].dense_macs == 2 * 3 * 3 * 6
    assert rec['einsum'].sops == exact
    # nn.MultiheadAttention: 4 projections L·E² + QKᵀ and AV 2·L·S·E
    assert rec['mha'].dense_macs == 4 * 5 * 64 + 2 * 5 * 5 * 8
    assert rec['mha'].kinds == {'real'}
    assert rec['scaled_dot_product_attention'].dense_macs == 2 * (2 * 5 * 5 *
                                                                  4)
    assert not counter.uncounted
    bad = {b['name'] for b in check_spike_driven(counter, stem=None)}
    assert bad == {'mha', 'scaled_dot_product_attention'}


# ---------------------------------------------------------------------------
# purity check
# ---------------------------------------------------------------------------
class PurityToy(nn.Module):
    """stem conv (real) → LIF → conv_a → LIF → conv_b fed ``feed``."""

    def __init__(self, feed):
        super().__init__()
        self.feed = feed
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.lif = LIF(v_threshold=0.1)
        self.conv_a = nn.Conv2d(4, 4, 1)
        self.lif2 = LIF(v_threshold=0.1)
        self.conv_b = nn.Conv2d(4, 4, 1)
        self.conv_c = nn.Conv2d(4, 4, 1)

    def forward(self, x):  # [T, B, 3, H, W]
        T, B = x.shape[:2]
        u = self.stem(x.flatten(0, 1))
        s = self.lif(u.view(T, B, *u.shape[1:])).flatten(0, 1)
        a = self.conv_a(s)
        if self.feed == 'spikes':
            return self.conv_b(self.lif2(a.view(T, B, *a.shape[1:]))
                               .flatten(0, 1))
        if self.feed == 'real':  # a non-linearity of the stem's output
            return self.conv_b(torch.sigmoid(u))
        # 'chain': conv_b and conv_c after conv_a with BN-free linear ops
        # only: one foldable spike-input linear map
        return self.conv_c(self.conv_b(F.pad(a, [1, 1, 1, 1]) * 0.5))


@pytest.mark.parametrize('feed', ['spikes', 'real', 'chain'])
def test_purity_check(feed):
    torch.manual_seed(0)
    model = PurityToy(feed)
    counter = OperationCounter(model)
    with counter:
        counter.run(torch.randn(2, 1, 3, 6, 6), num_clips=1)
    lenient = check_spike_driven(counter)
    strict = check_spike_driven(counter, strict=True)
    assert counter.records()[1].firing_rate > 0  # the check is not vacuous
    if feed == 'spikes':
        assert lenient == [] and strict == []
    elif feed == 'real':
        assert [b['name'] for b in lenient] == ['conv_b']
        assert lenient[0]['input_kind'] == 'real'
        report = compute_energy(counter)
        row = {r['name']: r for r in report.layers}['conv_b']
        assert row['macs'] == row['dense_macs'] and row['sops'] == 0
        assert not report.spike_driven['passed']
    else:
        assert lenient == []
        assert [b['name'] for b in strict] == ['conv_b', 'conv_c']
        assert strict[0]['input_kind'] == FOLDED_KIND
        rec = {r.name: r for r in counter.records()}
        # charged at the firing rate of the spikes that started the chain
        assert rec['conv_b'].firing_rate == pytest.approx(
            rec['conv_a'].firing_rate)
        assert rec['conv_c'].sops == pytest.approx(
            rec['conv_a'].firing_rate * rec['conv_c'].dense_macs)
    # without a stem exemption the real-input stem is listed too
    names = [b['name'] for b in check_spike_driven(counter, stem=None)]
    assert names[0] == 'stem'
    # an explicit stem by dotted suffix or glob
    assert check_spike_driven(counter, stem=['st*']) == lenient
    with pytest.raises(ValueError, match='matches no counted layer'):
        check_spike_driven(counter, stem=['no_such_layer'])


def test_counter_errors_and_removes_its_hooks():
    import mmsvf.models.attention.core as core
    original = core.hamming_attention
    with pytest.raises(TypeError, match='nn.Module'):
        OperationCounter(lambda x: x)
    model = AttnToy('hamming')
    counter = OperationCounter(model)
    with pytest.raises(ValueError, match='no clip'):
        compute_energy(counter)
    with pytest.raises(ValueError, match='non-negative integer'):
        counter.add_clips(-1)
    with counter:
        # the attention module is hooked; no function is replaced
        assert core.hamming_attention is original
        assert model.attention._forward_hooks
        assert counter.attention_modules == ['attention']
        with pytest.raises(RuntimeError, match='already active'):
            counter.__enter__()
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    # an attention module of unknown similarity is refused
    model.attention.similarity = 'cosine'
    with pytest.raises(ValueError, match='similarity'):
        OperationCounter(model).__enter__()
    assert not model.attention._forward_pre_hooks
    counter = OperationCounter(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match='no operation'):
        check_spike_driven(counter)
    counter.run(torch.ones(3, 2))
    with pytest.raises(ValueError, match='mode'):
        compute_energy(counter, mode='cnn')
    with pytest.raises(ValueError, match='preset'):
        compute_energy(counter, preset='fp64')
    with pytest.raises(ValueError, match='E_AC'):
        compute_energy(counter, e_ac=-1)


# ---------------------------------------------------------------------------
# assumed firing rate, rate for a target energy, partial accounting
# ---------------------------------------------------------------------------
def _hand_set_counter():
    counter = OperationCounter(HandSetToy().eval())
    with counter:
        counter.run(torch.randn(2, 3, 4, 8), num_clips=3)
    return counter


def test_assumed_firing_rate_and_rate_for_target_energy():
    from mmsvf.analysis import uniform_rate_for_energy
    counter = _hand_set_counter()
    measured = compute_energy(counter)
    t = measured.total
    # spike-driven ops: fc (384 dense MACs) and conv (720); the stem is MACs
    assert t['spike_dense_macs'] == 384 + 720
    assert t['effective_firing_rate'] == pytest.approx(456 / 1104)
    assert t['assumed_firing_rate'] is None
    what_if = compute_energy(counter, assume_firing_rate=0.1)
    w = what_if.total
    assert w['assumed_firing_rate'] == 0.1
    assert w['sops'] == pytest.approx(0.1 * 1104)
    assert w['macs'] == 512 and w['dense_macs'] == t['dense_macs']
    assert w['energy_mj'] == pytest.approx((4.6 * 512 + 0.9 * 110.4) * 1e-9)
    rows = {r['name']: r for r in what_if.layers}
    assert rows['fc']['sops'] == pytest.approx(38.4)
    assert rows['fc']['firing_rate'] == 0.25  # the measured rate is kept
    assert 'ASSUMED uniform firing rate 0.1' in what_if.table()
    # the rate that reproduces an energy: exact inverse of the above
    assert uniform_rate_for_energy(measured, w['energy_mj']) == \
        pytest.approx(0.1)
    assert uniform_rate_for_energy(measured, t['energy_mj']) == \
        pytest.approx(t['effective_firing_rate'])
    # below the stem's own energy: negative (unreachable)
    assert uniform_rate_for_energy(measured, 1e-9) < 0
    # binary spikes cannot fire at a rate above 1; the ANN has no SOPs
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        compute_energy(counter, assume_firing_rate=1.5)
    with pytest.raises(ValueError, match='SNN mode'):
        compute_energy(counter, mode='ann', assume_firing_rate=0.1)
    with pytest.raises(ValueError, match='SNN-mode'):
        uniform_rate_for_energy(compute_energy(counter, mode='ann'), 1.0)


def test_assumed_rate_up_to_the_integer_level():
    model = nn.Sequential(IntegerLIF(max_level=4, stateful=False),
                          nn.Linear(4, 3, bias=False))
    counter = OperationCounter(model)
    with counter:
        counter.run(torch.ones(2, 1, 4), num_clips=1)
    report = compute_energy(counter, stem=None, assume_firing_rate=2.5)
    assert report.total['sops'] == 2.5 * 24
    with pytest.raises(ValueError, match=r'\[0, 4\]'):
        compute_energy(counter, stem=None, assume_firing_rate=4.5)


def test_include_accounts_for_part_of_the_model():
    counter = _hand_set_counter()
    full = compute_energy(counter)
    assert set(full.groups) == {'stem', 'fc', 'conv'}
    assert full.groups['fc']['sops'] == 96
    part = compute_energy(counter, include=['fc', 'conv'])
    # the auto stem is the first included op only when its input is real:
    # fc takes spikes, so nothing is charged as MACs
    assert part.stem == [] and part.total['macs'] == 0
    assert part.total['dense_macs'] == 384 + 720
    assert part.total['sops'] == 456
    assert [r['name'] for r in part.layers] == ['fc', 'conv']
    assert part.spike_driven['passed']
    assert part.meta['include'] == ['fc', 'conv']
    with pytest.raises(ValueError, match='matches no counted layer'):
        compute_energy(counter, include=['backbone'])
