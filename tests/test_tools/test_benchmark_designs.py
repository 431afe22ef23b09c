# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/benchmark_designs.py: CSV schema on a tiny grid."""
import csv
import importlib.util
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(__file__)))


@pytest.fixture(scope='module')
def bd():
    path = osp.join(REPO, 'tools/analysis/benchmark_designs.py')
    spec = importlib.util.spec_from_file_location('benchmark_designs', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_csv_schema_on_a_tiny_grid(bd, tmp_path):
    rows, _, _ = bd.main([
        '--frames', '2', '--grids', '2', '4', '--dim', '8', '--heads', '2',
        '--depth', '1', '--designs', 'joint', 'causal', 'factorized',
        'softmax', '--max-softmax-gib', '1e-9', '--out', str(tmp_path)])
    with open(tmp_path / 'designs.csv') as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == bd.FIELDS
    # every design x point x with_cp has a row, ordered by tokens
    assert len(got) == 4 * 2 * 2
    assert [r['design'] for r in got[::4]] == ['joint', 'causal',
                                               'factorized', 'softmax']
    assert [r['grid'] for r in got[:4]] == ['2x2', '4x4'] * 2
    for r in got:
        assert int(r['tokens']) == 2 * int(r['grid'].split('x')[0])**2
        assert r['with_cp'] in ('True', 'False')
        if r['design'] == 'softmax':  # the tiny cap skips it
            assert r['status'].startswith('skipped: scores')
        else:
            assert r['status'] == 'ok'
            assert float(r['fwd_bwd_ms']) > 0
            assert float(r['peak_mib']) >= 0
    assert (tmp_path / 'designs.png').stat().st_size > 1000
    back = bd.read_csv(tmp_path / 'designs.csv')
    assert [(r['design'], r['T'], r['with_cp']) for r in back] == [
        (r['design'], r['T'], r['with_cp']) for r in rows]


def test_linear_fit_and_extrapolation(bd):
    a, b, res = bd.fit_linear([1, 2, 4], [10 + 3 * x for x in (1, 2, 4)])
    assert (a, b) == pytest.approx((10, 3)) and res < 1e-12
    # 16 B/param + a + batch·b·T·res²
    assert bd.predict(100, 50, 2, 8, 4, 16) == 1600 + 50 + 8 * 2 * 4 * 256
    budget = bd.predict(100, 50, 2, 8, 4, 16)
    assert bd.max_frames(100, 50, 2, 8, 16, budget) == 4
    assert bd.max_frames(100, 50, 2, 8, 16, budget - 1) == 3
    assert bd.max_res(100, 50, 2, 8, 4, budget) == 16


def test_saved_profile_is_linear_in_T_and_smaller_with_cp(bd):
    import torch

    from mmsvf.models.backbones import SpikeVideoFormer
    torch.manual_seed(0)
    model = SpikeVideoFormer(embed_dims=[8, 16, 32, 32], depths=(1, 1),
                             num_heads=2, out_indices=(3, )).train()
    names = [n for n, _ in bd.backbone_layers(model)]
    assert names[:2] == ['downsample1_1', 'ConvBlock1_1.0']
    assert names[-1] == 'block4.0' and len(names) == 11
    kept = {}
    for T in (2, 4):
        saved, inputs = bd.saved_profile(model,
                                         torch.randn(1, 3, T, 32, 32))
        assert set(saved) == set(names) == set(inputs)
        kept[T] = [bd.activation_bytes(saved, inputs, cp)
                   for cp in (False, True)]
        # the stem's input: 1·3·T·32·32 float32
        assert inputs['downsample1_1'] == 3 * T * 32 * 32 * 4
    assert kept[4][0] == pytest.approx(2 * kept[2][0], rel=0.05)
    assert kept[4][1] < kept[4][0] / 2
