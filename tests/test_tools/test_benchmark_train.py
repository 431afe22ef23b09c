# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/benchmark_train.py runs and prints its ratios."""
import subprocess
import sys
from pathlib import Path

from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_quick_runs_and_prints_ratios(capsys):
    bench = load_script('tools/analysis/benchmark_train.py',
                        'benchmark_train')
    out = bench.main(['--quick', '--isolation', 'none', '--threads', '1'])
    text = capsys.readouterr().out
    assert len(out['results']) == 6  # 3 configurations x T in {2, 4}
    for r in out['results']:
        assert r['time'] > 0 and r['peak'] >= 0 and r['abs_peak'] > 0
    for T in (2, 4):
        assert f'T={T}: (a) vs (c) speed: ' in text
        assert f'T={T}: (b) vs (a) peak memory: ' in text
    assert '(a) T4/T2 time: ' in text and 'memory: ' in text
    assert {'speed_a_vs_c_T2', 'mem_b_vs_a_T4', 'time_T_ratio'} <= set(
        out['ratios'])


def test_benchmark_worker_process(tmp_path):
    """The default isolation: a fresh worker process per run."""
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/analysis/benchmark_train.py'),
         '--quick', '--configs', 'a', '--threads', '1', '--json', str(out)],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '(a) T4/T2 time: ' in proc.stdout
    assert out.is_file()


def test_benchmark_fast_depthwise_configuration(capsys):
    """(d) is (a) with the channels-last depthwise kernel, switched on in
    its backbone only, and gets its own ratio lines."""
    bench = load_script('tools/analysis/benchmark_train.py',
                        'benchmark_train')
    args = bench.parse_args(['--quick'])
    fast = {cfg: [m.fast_depthwise for m in bench.build_model(
        args, cfg).modules() if hasattr(m, 'fast_depthwise')]
        for cfg in 'acd'}
    assert fast['d'] and all(fast['d'])
    assert not any(fast['a']) and not any(fast['c'])
    out = bench.main(['--quick', '--isolation', 'none', '--threads', '1',
                      '--configs', 'a', 'c', 'd', '--frames', '2'])
    text = capsys.readouterr().out
    assert 'T=2: (d) vs (c) speed: ' in text and ', (d) vs (a): ' in text
    assert {'speed_d_vs_c_T2', 'speed_d_vs_a_T2'} <= set(out['ratios'])
