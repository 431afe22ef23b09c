# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/benchmark_threads.py: the commands it runs and what it
reads back (the benchmark itself is not run in tests)."""
import pytest

from mmsvf_test_utils import load_script

bench = load_script('tools/analysis/benchmark_threads.py',
                    'mmsvf_benchmark_threads')


def test_iteration_times_of_epoch_and_iteration_loops():
    log = ('Epoch(train)  [1][ 7/54]  lr: 1e-3  eta: 0:01:00  time: 0.3000'
           '  data_time: 0.0100\n'
           'Iter(train) [ 10/600]  lr: 2e-3  eta: 0:02:00  time: 0.2500  '
           'data_time: 0.0500\n'
           'Epoch(val) [1][10/18]  eta: 0:00:00  time: 0.9000')
    assert bench.ITER_TIME.findall(log) == [('7', '0.3000'),
                                            ('10', '0.2500')]


@pytest.mark.parametrize('toy', sorted(bench.TOYS))
def test_commands_switch_the_hook_and_point_at_the_data(toy, tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    (root / 'train.txt').write_text(''.join(f'a/{i}.mp4 0\n'
                                            for i in range(80)))
    on = bench.train_cmd(toy, str(root), str(tmp_path / 'w'), 40, True)
    off = bench.train_cmd(toy, str(root), str(tmp_path / 'w'), 40, False)
    index = bench.hook_index(toy)
    assert f'custom_hooks.{index}.enabled=True' in on
    assert f'custom_hooks.{index}.enabled=False' in off
    assert on[1:3] == ['tools/train.py', bench.TOYS[toy]['config']]
    assert any(str(root) in arg for arg in on)
    if toy == 'motion':  # 80 clips / batch 8 = 10 per epoch -> 4 epochs
        assert 'train_cfg.max_epochs=4' in on


def test_fixed_settings_switch_the_hook_off():
    assert bench.SETTINGS['default'] == ({}, True)
    for name in ('omp1', 'omp2', 'passive', 'gomp1e4', 'gomp1e5'):
        assert bench.SETTINGS[name][1] is False
    assert bench.SETTINGS['omp1'][0] == {'OMP_NUM_THREADS': '1'}
