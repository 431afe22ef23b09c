# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/toy_seeds.py: per-seed results and their spread."""
import pytest

from mmsvf_test_utils import load_script

toy_seeds = load_script('tools/analysis/toy_seeds.py', 'mmsvf_toy_seeds')

SEG_TEST_LOG = '\n'.join([
    'Iter(val) [3/3] aAcc: 90.0000  mIoU: 70.0000  mVC8: 90.0000',
    'Loads checkpoint by local backend from path: x.pth',
    'Iter(test) [3/3] aAcc: 95.5000  mIoU: 80.2500  mAcc: 85.0000  '
    'mVC8: 96.5000  mVC16: 96.6000  data_time: 0.1 time: 0.2',
])


def test_parse_metrics_takes_the_test_values():
    text = SEG_TEST_LOG[SEG_TEST_LOG.rfind('Loads checkpoint'):]
    assert toy_seeds.parse_metrics('vspw', text) == {'mIoU': 80.25,
                                                      'mVC8': 96.5}
    pose = ('Epoch(test) [8/8]  smpl/MPJPE: 297.5000  smpl/PA-MPJPE: '
            '97.7000  mmpose/MPJPE: 0.2975  mmpose/P-MPJPE: 0.0977')
    # the mmsvf metric in mm, not mmpose's in metres, nor PA- for MPJPE
    assert toy_seeds.parse_metrics('mmhpsd', pose) == {
        'MPJPE mm': 297.5, 'PA-MPJPE mm': 97.7}
    with pytest.raises(RuntimeError, match='mIoU'):
        toy_seeds.parse_metrics('vspw', 'no metrics here')


def test_summary_lines_min_and_median():
    results = [(0, {'top-1 %': 100.0, 'wall s': 300.0}),
               (1, {'top-1 %': 95.0, 'wall s': 320.0}),
               (2, {'top-1 %': 97.5, 'wall s': 310.0})]
    lines = toy_seeds.summarise('motion', results)
    assert lines[0].endswith('| min 95.00 median 97.50 max 100.00')
    assert lines[1].startswith('wall s') and 'median 310.00' in lines[1]


def test_data_roots_and_options():
    args = toy_seeds.parse_args(['motion', '--data-seed', '2'])
    assert toy_seeds.data_root(args) == 'data/toy_motion_seed2'
    args = toy_seeds.parse_args(['vspw'])
    assert toy_seeds.data_root(args) == 'data/toy_vspw'
    assert toy_seeds.data_options('vspw', 'd/') == [
        f'{s}_dataloader.dataset.data_root=d/'
        for s in ('train', 'val', 'test')]
