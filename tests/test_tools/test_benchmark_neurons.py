# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/benchmark_neurons.py runs and reports its ratios."""
import re

from mmsvf_test_utils import load_script


def load_tool():
    return load_script('tools/analysis/benchmark_neurons.py')


def test_quick_run_prints_table_and_ratios(capsys):
    tool = load_tool()
    rows = tool.main(['--quick', '--backends', 'torch'])
    out = capsys.readouterr().out
    assert [row['T'] for row in rows] == [2, 4]
    for row in rows:  # the naive and default paths are always timed
        for key in ('reference', 'torch', 'auto', 'floor', 'traffic'):
            assert row[key] > 0
        assert row['faults'] is None or row['faults'] >= 0
    assert 'N = 2048 neurons' in out and '"auto" runs "numba"' in out
    for T, row in zip((2, 4), rows):
        match = re.search(
            rf'T = +{T}: default vs naive: ([0-9.]+)x, '
            r'default / floor: ([0-9.]+)x \(memory traffic alone: '
            r'([0-9.]+)x; default / traffic: ([0-9.]+)x\)', out)
        assert match, out
        # the printed ratios are the measured ones
        assert float(match.group(1)) == round(
            row['reference'] / row['auto'], 1)
        assert float(match.group(2)) == round(row['auto'] / row['floor'], 1)
        assert float(match.group(3)) == round(
            row['traffic'] / row['floor'], 1)
        assert float(match.group(4)) == round(
            row['auto'] / row['traffic'], 1)


def test_arguments():
    tool = load_tool()
    args = tool.parse_args([])
    assert args.neurons == 65536 and args.steps == [4, 8, 16, 32]
    assert args.backends == ['reference', 'torch', 'auto']
    args = tool.parse_args(['--backends', 'numba', '--neurons', '10'])
    assert args.backends == ['numba', 'reference', 'auto']
    assert args.neurons == 10
