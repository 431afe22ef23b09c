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
