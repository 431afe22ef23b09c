# Copyright (c) mmsvf contributors. All rights reserved.
"""The counter on the SpikeVideoFormer backbone: analytic MACs
and the spike-driven purity check in every attention mode."""
import pytest
import torch

from mmsvf.analysis import OperationCounter, compute_energy
from mmsvf.models.backbones import SpikeVideoFormer


def analytic_macs(dims, H, W, T=1, heads=8, attn_mode='joint',
                  depths=(6, 2), mlp_ratio=4):
    """Dense MACs of the backbone from Meta-SpikeFormer's layers.

    Per frame (every term is per output pixel / token, times pixels):

    * stem ``Conv 7x7 s2, 3→C/2``: ``(H/2)(W/2)·(C/2)·3·49``;
    * CNN block (d): SepConv ``1x1 d→2d + dw 7x7 on 2d + 1x1 2d→d`` =
      ``4d² + 98d``, ChannelConv ``3x3 d→4d + 3x3 4d→d`` = ``72d²``;
    * downsample ``3x3 i→o`` at its output resolution: ``9·i·o``;
    * RepConv(d, d) ``1x1 + dw 3x3 + 1x1`` = ``2d² + 9d``; an attention has
      4 (q, k, v, proj; factorized: 7) and the two linear-attention products
      ``KᵀV`` and ``Q(KᵀV)``, ``M·d_h² = d²/M`` per token each (factorized
      and hierarchical: a spatial and a temporal pair); hierarchical has a
      second full attention module;
    * MLP ``1x1 d→4d + 1x1 4d→d`` = ``8d²``.

    BatchNorm (folded at inference), biases, neurons and the ``1/(2C)``
    scaling are not counted; T multiplies everything (joint attention is
    linear in T).
    """
    c0, c1, c2, c3 = dims
    stem = c0 // 2

    def px(s):
        return (H // s) * (W // s)

    def conv_block(d, n):
        return n * (4 * d * d + 98 * d + 72 * d * d)

    def down(i, o, n, k=3):
        return n * o * i * k * k

    def repconv(d, n):
        return n * (2 * d * d + 9 * d)

    def products(d, n):
        assert d % heads == 0
        return 2 * n * d * (d // heads)

    def block(d, n):
        if attn_mode in ('joint', 'spatial'):
            attn = 4 * repconv(d, n) + products(d, n)
        elif attn_mode == 'hierarchical':
            attn = 2 * (4 * repconv(d, n) + products(d, n))
        else:  # factorized
            attn = 7 * repconv(d, n) + 2 * products(d, n)
        return attn + n * 2 * d * int(d * mlp_ratio)

    frame = (px(2) * stem * 3 * 49 + conv_block(stem, px(2)) +
             down(stem, c0, px(4)) + conv_block(c0, px(4)) +
             down(c0, c1, px(8)) + 2 * conv_block(c1, px(8)) +
             down(c1, c2, px(16)) + depths[0] * block(c2, px(16)) +
             down(c2, c3, px(16)) + depths[1] * block(c3, px(16)))
    return T * frame


def test_analytic_formula_reproduces_spec_figures():
    """Analytic: Small 6.47 G (stem 0.059 G), Large 24.8 G (stem 0.118 G) per
    224² frame (attention products included)."""
    small = analytic_macs([64, 128, 256, 360], 224, 224)
    large = analytic_macs([128, 256, 512, 640], 224, 224)
    assert round(small / 1e9, 2) == 6.47
    assert round(large / 1e9, 1) == 24.8
    assert 112 * 112 * 32 * 3 * 49 == 59_006_976  # small stem
    assert 112 * 112 * 64 * 3 * 49 == 118_013_952  # large stem


def test_small_backbone_macs_at_224_equal_analytic():
    torch.manual_seed(0)
    model = SpikeVideoFormer(arch='small').eval()
    counter = OperationCounter(model)
    with counter:
        counter.run(torch.randn(1, 3, 1, 224, 224))
    report = compute_energy(counter)
    assert report.total['dense_macs'] == analytic_macs(
        [64, 128, 256, 360], 224, 224) == 6_472_421_760
    assert report.stem == ['downsample1_1.encode_conv']
    assert report.total['macs'] == 59_006_976  # only the stem at E_MAC
    products = [r for r in report.layers if 'attention' in r['op']]
    assert len(products) == 2 * 8  # KᵀV and Q(KᵀV) in 8 blocks
    assert sum(r['dense_macs'] for r in products) == \
        6 * 2 * 196 * 256 * 32 + 2 * 2 * 196 * 360 * 45
    assert report.spike_driven['passed']


TINY = [16, 32, 64, 72]


LIF = dict(type='LIF')
ILIF = dict(type='IntegerLIF', max_level=4)
MODES = ['joint', 'spatial', 'hierarchical', 'factorized']


# every mode with both similarities (LIF), and every mode with I-LIF
@pytest.mark.parametrize(
    'attn_mode,similarity,neuron',
    [(m, s, LIF) for m in MODES for s in ('hamming', 'dot')] +
    [(m, s, ILIF) for m, s in zip(MODES, ['hamming', 'dot'] * 2)],
    ids=lambda v: v['type'] if isinstance(v, dict) else str(v))
def test_backbone_is_spike_driven_in_every_mode(attn_mode, similarity,
                                                neuron):
    torch.manual_seed(0)
    model = SpikeVideoFormer(embed_dims=TINY, depths=(1, 1),
                             attn_mode=attn_mode, similarity=similarity,
                             neuron=neuron)
    # train-mode BN normalises every layer's input so that spikes reach the
    # attention (at random init the eval-mode network is nearly silent,
    # which would make the check vacuous)
    model.train()
    counter = OperationCounter(model)
    with counter:
        counter.run(torch.randn(1, 3, 2, 32, 32))
    report = compute_energy(counter, check=True)
    assert report.spike_driven['passed'], report.spike_driven['violations']
    assert report.stem == ['downsample1_1.encode_conv']
    products = [r for r in report.layers if 'attention' in r['op']]
    expected = {'joint': 4, 'spatial': 4, 'hierarchical': 8,
                'factorized': 8}[attn_mode]
    assert len(products) == expected
    assert all(r['op'].startswith(similarity) for r in products)
    assert all(r['firing_rate'] > 0 for r in products)
    kinds = {r['input_kind'] for r in report.layers if not r['stem']}
    spike_kind = 'binary' if neuron['type'] == 'LIF' else 'integer'
    assert spike_kind in kinds and 'real' not in kinds
    assert report.total['dense_macs'] == analytic_macs(
        TINY, 32, 32, T=2, attn_mode=attn_mode, depths=(1, 1))
    assert 0 < report.total['energy_mj'] < report.total['ann_energy_mj']


def test_dense_macs_linear_in_clip_length():
    """Joint attention over T·H·W tokens costs O(T): dense MACs ∝ T."""
    torch.manual_seed(0)
    model = SpikeVideoFormer(embed_dims=TINY, depths=(1, 1)).eval()
    totals = []
    for T in (1, 3):
        counter = OperationCounter(model)
        with counter:
            counter.run(torch.randn(1, 3, T, 32, 32))
        totals.append(compute_energy(counter).total['dense_macs'])
    assert totals[1] == 3 * totals[0]
    assert totals[0] == analytic_macs(TINY, 32, 32, depths=(1, 1))
