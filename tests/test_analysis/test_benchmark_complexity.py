# Copyright (c) mmsvf contributors. All rights reserved.
import torch

from mmsvf_test_utils import load_script


def test_quick_mode_prints_ratio_lines(capsys, tmp_path):
    bench = load_script('tools/analysis/benchmark_complexity.py')
    bench.main(['--quick', '--in-process', '--json',
                str(tmp_path / 'r.json')])
    out = capsys.readouterr().out
    for name in ('SDHA joint attention (linear)', 'softmax joint attention',
                 'SpikeVideoFormer backbone'):
        assert f'{name}: T=4 vs T=2' in out
    assert (tmp_path / 'r.json').is_file()


def test_softmax_reference_is_full_attention():
    bench = load_script('tools/analysis/benchmark_complexity.py')
    torch.manual_seed(0)
    attn = bench.SoftmaxJointAttention(8, 2)
    x = torch.randn(3, 1, 8, 2, 2)
    y = attn(x)
    tokens = x.permute(1, 0, 3, 4, 2).reshape(1, 12, 8)
    mha = torch.nn.functional.scaled_dot_product_attention
    q, k, v = attn.qkv(tokens).chunk(3, -1)
    q, k, v = (t.reshape(1, 12, 2, 4).transpose(1, 2) for t in (q, k, v))
    ref = attn.proj(mha(q, k, v).transpose(1, 2).reshape(1, 12, 8))
    torch.testing.assert_close(
        y, ref.reshape(1, 3, 2, 2, 8).permute(1, 0, 4, 2, 3),
        rtol=1e-5, atol=1e-5)


def test_core_mode_compares_fast_and_literal_products(capsys, tmp_path):
    bench = load_script('tools/analysis/benchmark_complexity.py')
    res = bench.main(['--core', '--quick', '--json',
                      str(tmp_path / 'core.json')])
    out = capsys.readouterr().out
    for form in ('fast', 'naive'):
        assert f'{form}: T=4 vs T=2: forward' in out
    assert set(res) == {(f, T, m) for f in ('fast', 'naive')
                        for T in (2, 4) for m in ('fwd', 'fwdbwd')}
    # quick sizes: 2 heads x 64 tokens x 8 channels = 4 KiB per tensor;
    # the literal forward allocates 2q-1 beside its output, the fast one
    # only the output (plus d x d matrices)
    nd = 2 * 64 * 8 * 4
    assert res[('naive', 4, 'fwd')]['peak_bytes'] >= 2 * nd
    assert nd <= res[('fast', 4, 'fwd')]['peak_bytes'] < 2 * nd
    assert (tmp_path / 'core.json').is_file()


def test_peak_bytes_counts_new_storages_only():
    bench = load_script('tools/analysis/benchmark_complexity.py')
    x = torch.ones(256)
    with bench.PeakBytes([x]) as peak:
        y = x[:128] * 2          # 512 bytes, live
        del y
        z = torch.ones(64)       # 256 bytes after y was freed
    assert peak.peak == 512 and peak.live == 256
    del z
