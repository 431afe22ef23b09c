# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/benchmark_gpu.py: its CPU-runnable modes and schema."""
import json

from mmsvf_test_utils import load_script


def test_dry_run_lists_every_section_and_backend(capsys):
    bench = load_script('tools/analysis/benchmark_gpu.py')
    res = bench.main(['--dry-run'])
    out = capsys.readouterr().out
    assert res['schema'] == bench.SCHEMA_VERSION
    for T in (4, 8, 16, 32):
        assert f'neurons T={T}: 16777216 neurons/step' in out
    for backend in ('reference', 'torch', 'inductor', 'triton',
                    'spikingjelly'):
        assert backend in out
    assert 'sdha: dim 512, heads 8, 14² tokens/frame, batch 8, ' \
        'T [8, 16, 32, 64]' in out
    assert 'train: large at 224², T=8, batch 8, amp bf16' in out
    assert 'max_frames: with_cp, batch 8' in out


def test_cpu_quick_run_fills_the_schema(capsys, tmp_path):
    bench = load_script('tools/analysis/benchmark_gpu.py')
    res = bench.main(['--device', 'cpu', '--quick', '--json',
                      str(tmp_path / 'gpu.json')])
    out = capsys.readouterr().out
    assert json.loads((tmp_path / 'gpu.json').read_text())['schema'] == 1
    assert set(res['sections']) == set(bench.SECTIONS)
    neurons = res['sections']['neurons']
    assert 'error' not in neurons and neurons['copy_bandwidth_gbs'] > 0
    rows = neurons['rows']
    assert {(r['kind'], r['backend']) for r in rows} == {
        (k, b) for k, bs in bench.NEURON_BACKENDS.items() for b in bs}
    for r in rows:
        assert r['T'] in (1, 3) and r['floor_ms'] > 0
        assert 'error' not in r, r
        # measured, or skipped with a reason (no CUDA here)
        assert ('ms' in r) != ('skipped' in r), r
    measured = {(r['kind'], r['backend']) for r in rows if 'ms' in r}
    assert {('LIF', 'reference'), ('LIF', 'torch'),
            ('IntegerLIF', 'torch')} <= measured
    sdha = res['sections']['sdha']['rows']
    assert [r['T'] for r in sdha] == [2, 4]
    assert all(r['ms'] > 0 and 'time_vs_first' in r for r in sdha)
    train = res['sections']['train']['rows']
    assert [r['with_cp'] for r in train] == [False, True]
    for r in train:
        assert 'error' not in r, r
        assert r['ms'] > 0 and r['dense_macs_per_clip'] > 0
        assert r['tflops'] > 0
    # the same network with and without checkpointing: the same MACs
    assert train[0]['dense_macs_per_clip'] == train[1]['dense_macs_per_clip']
    mf = res['sections']['max_frames']
    assert mf['max_frames'] == 4 and mf['status'] == 'capped'
    for head in ('[neurons]', '[sdha]', '[train]', '[max_frames]'):
        assert head in out
