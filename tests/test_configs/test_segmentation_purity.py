# Copyright (c) mmsvf contributors. All rights reserved.
"""``tools/analysis/energy.py --check-spike-driven`` on every segmentation
config (tiny random clip): the whole segmentor is spike-driven (only the stem
takes real input) with the spiking decoder; the plain-decoder ablations fail
exactly in their decoder."""
from pathlib import Path

import pytest

from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
SEG = sorted((REPO / 'configs' / 'segmentation' / 'spikevideoformer').glob(
    '*.py'))
#: configs whose decoder is not spiking by design
PLAIN = ('plain-fpn-decoder', 'upernet')


def test_every_config_is_covered():
    assert len(SEG) >= 10
    assert sum(any(p in c.name for p in PLAIN) for c in SEG) == 4


@pytest.mark.parametrize('path', SEG, ids=lambda p: p.stem)
def test_segmentor_purity(path, tmp_path):
    energy = load_script('tools/analysis/energy.py')
    argv = [str(path), '--input-shape', '1', '3', '2', '32', '32',
            '--check-spike-driven', '--out', str(tmp_path)]
    report = energy.main(argv)
    status = energy._exit_status(report, energy.parse_args(argv))
    stem = report.stem
    assert [s.split('.')[0] for s in stem] == ['backbone'], stem
    names = [row['name'] for row in report.layers]
    assert any(n.startswith('decode_head.') for n in names)
    violations = report.spike_driven['violations']
    if any(p in path.name for p in PLAIN):
        # the backbone stays spike-driven; every violation is a decoder
        # conv reading real-valued maps
        assert status == 1 and violations
        assert {v['name'].split('.')[0] for v in violations} <= {
            'neck', 'decode_head'}, violations
    else:
        assert status == 0 and report.spike_driven['passed'], violations
