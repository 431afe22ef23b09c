# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/hamming_vs_cosine.py: Proposition 3.1 measured."""
import csv
import importlib.util
import math
import os.path as osp

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(__file__)))


@pytest.fixture(scope='module')
def hvc():
    path = osp.join(REPO, 'tools/analysis/hamming_vs_cosine.py')
    spec = importlib.util.spec_from_file_location('hamming_vs_cosine', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_hand_computed_case(hvc):
    # 2 of 4 bits agree
    assert hvc.hamming_similarity([1, 0, 1, 1], [1, 1, 0, 1]) == 0.5
    assert hvc.hamming_similarity([[1, 1], [0, 1]], [[1, 1], [1, 0]]
                                  ).tolist() == [1.0, 0.0]
    assert hvc.cosine([1, 0], [1, 1]) == pytest.approx(1 / math.sqrt(2))
    assert hvc.g(np.array([-1.0, 0.0, 0.5, 1.0])).tolist() == pytest.approx(
        [0.0, 0.5, 2 / 3, 1.0])
    row = hvc.summarise([0.0, 0.1, 0.2, 0.3], D=16, delta=0.15)
    assert row['D'] == 16 and row['pairs'] == 4
    assert row['mean_abs_err'] == pytest.approx(0.15)
    # linear interpolation: 0.2 + 0.85 · 0.1
    assert row['p95_abs_err'] == pytest.approx(0.285)
    assert row['max_abs_err'] == pytest.approx(0.3)
    assert row['mean_abs_err_x_sqrtD'] == pytest.approx(0.6)
    assert row['exceed_frac'] == 0.5
    assert row['bound'] == 1.0  # 2·exp(−0.36) > 1: clipped
    assert hvc.summarise([0.0], D=64, delta=0.15)['bound'] == pytest.approx(
        2 * math.exp(-0.0225 * 64))
    assert row['hoeffding_bound'] == pytest.approx(2 * math.exp(-0.72))


def test_orthogonal_vectors_give_half_in_expectation(hvc):
    n, D = 2000, 64
    rows, f_h = hvc.synthetic([D], n, seed=3, cosines=np.zeros(n))
    # each bit agrees with probability 1 − (π/2)/π = 1/2 exactly:
    # the mean of n·D fair bits, σ = 0.5 / sqrt(n·D) ≈ 0.0014
    assert abs(f_h[D].mean() - 0.5) < 4 * 0.5 / math.sqrt(n * D)
    # equal / opposite vectors: every bit agrees / disagrees
    _, f_same = hvc.synthetic([D], 5, seed=3, cosines=np.ones(5))
    _, f_opp = hvc.synthetic([D], 5, seed=3, cosines=-np.ones(5))
    assert f_same[D].tolist() == [1.0] * 5
    assert f_opp[D].tolist() == [0.0] * 5


def test_error_shrinks_like_inverse_sqrt_D(hvc):
    rows, _ = hvc.synthetic([16, 256], 800, seed=0, delta=0.1)
    small, large = rows
    assert large['mean_abs_err'] < small['mean_abs_err'] / 2.5
    ratio = large['mean_abs_err_x_sqrtD'] / small['mean_abs_err_x_sqrtD']
    assert 0.7 < ratio < 1.4
    # the bound holds (it is loose)
    assert large['exceed_frac'] <= large['bound']


def test_csv_schema_and_plot(hvc, tmp_path):
    hvc.main(['--dims', '4', '8', '16', '--pairs', '50', '--seed', '1',
              '--delta', '0.2', '--out', str(tmp_path)])
    with open(tmp_path / 'hamming_vs_cosine.csv') as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == hvc.SYNTH_FIELDS
    assert [int(r['D']) for r in rows] == [4, 8, 16]
    for r in rows:
        assert int(r['pairs']) == 50 and float(r['delta']) == 0.2
        assert float(r['bound']) == pytest.approx(
            min(1, 2 * math.exp(-0.04 * int(r['D']))))
        assert 0 <= float(r['exceed_frac']) <= 1
    assert (tmp_path / 'hamming_vs_cosine.png').stat().st_size > 1000


def test_bad_arguments_are_refused(hvc):
    with pytest.raises(SystemExit):
        hvc.parse_args(['--delta', '1.5'])
    with pytest.raises(SystemExit):
        hvc.parse_args(['--checkpoint', 'x.pth'])


def test_model_mode_rows_per_attention_layer(hvc):
    from mmsvf.models.backbones import SpikeVideoFormer
    torch.manual_seed(0)
    model = SpikeVideoFormer(embed_dims=[8, 16, 32, 32], depths=(1, 1),
                             num_heads=2, attn_mode='hierarchical').train()
    x = torch.rand(1, 3, 2, 32, 32) * 4
    rows = hvc.measure_model(model, [(dict(x=x), 1)], 300, seed=0)
    assert [(r['layer'], r['axis']) for r in rows] == [
        ('block3.0.attn', 'spatial'), ('block3.0.attn_t', 'temporal'),
        ('block4.0.attn', 'spatial'), ('block4.0.attn_t', 'temporal')]
    for r in rows:
        assert r['head_dim'] == 16 and r['pairs'] == 300
        assert 0 < r['q_rate'] < 1 and 0 <= r['mean_f_H'] <= 1
        assert -1 <= r['pearson'] <= 1


def test_rank_correlation_handles_ties(hvc):
    assert hvc.spearman([1, 1, 2, 3], [10, 10, 20, 30]) == pytest.approx(1)
    assert hvc.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)
