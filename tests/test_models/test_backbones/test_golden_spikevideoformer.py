# Copyright (c) mmsvf contributors. All rights reserved.
"""Stored golden output of a tiny default-configuration SpikeVideoFormer.

Default configuration (joint space-time Hamming attention, LIF neurons,
8 heads, MLP ratio 4, carried membranes) at tiny widths, eval mode, float64,
weights written key by key from a fixed seed with non-trivial BN statistics
(``tests/svf_fixtures.py``), one fixed seeded clip. The four stage outputs
are stored in ``tests/data/golden_spikevideoformer_tiny.npz``.

Any change to the golden file must be justified in the commit message (a
deliberate change of the model's numerics, checked against the independent
reference of ``test_reference_equivalence.py``, which this test also runs on
the golden input). Regenerate with::

    python tests/test_models/test_backbones/test_golden_spikevideoformer.py \\
        --regenerate

(or ``MMSVF_REGENERATE_GOLDEN=1 pytest <this file>``).
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TESTS = Path(__file__).resolve().parents[2]
if str(TESTS) not in sys.path:  # run as a script
    sys.path.insert(0, str(TESTS))

from reference_svf import ReferenceSVF  # noqa: E402
from svf_fixtures import TINY, set_weights, spike_rates  # noqa: E402

GOLDEN = TESTS / 'data' / 'golden_spikevideoformer_tiny.npz'
SEED = 0


def build():
    from mmsvf.models import SpikeVideoFormer
    torch.manual_seed(SEED)  # deterministic even before set_weights
    model = SpikeVideoFormer(**TINY).double()  # every other arg: default
    set_weights(model, SEED)
    return model.eval()


def golden_input():
    g = torch.Generator().manual_seed(SEED + 1)
    return torch.randn(1, 3, 2, 32, 32, generator=g, dtype=torch.float64)


def forward(model):
    with torch.no_grad():
        return [o.numpy() for o in model(golden_input())]


def regenerate():
    outs = forward(build())
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        GOLDEN, **{f'stage{i}': o for i, o in enumerate(outs)},
        note=np.array('SpikeVideoFormer(embed_dims=[8, 16, 16, 16], '
                      'depths=(1, 1)), eval, float64; see '
                      'test_golden_spikevideoformer.py'))
    print(f'wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)')


pytestmark = pytest.mark.usefixtures('single_torch_thread')


def test_golden_output():
    if os.environ.get('MMSVF_REGENERATE_GOLDEN'):
        regenerate()
    assert GOLDEN.is_file(), f'missing {GOLDEN}: run this file with ' \
        '--regenerate'
    assert GOLDEN.stat().st_size < 50_000
    golden = np.load(GOLDEN)
    model = build()
    rates, handles = spike_rates(model)
    outs = forward(model)
    for h in handles:
        h.remove()
    assert len(outs) == 4
    for i, out in enumerate(outs):
        ref = golden[f'stage{i}']
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=1e-10,
                                   atol=1e-10 * np.abs(ref).max(),
                                   err_msg=f'stage {i}')
    # the stored numbers are not trivial: spikes everywhere, attention too
    for name in ('ConvBlock1_1.0.Conv.lif1', 'downsample3.encode_lif',
                 'block3.0.attn.q_lif', 'block3.0.attn.attn_lif',
                 'block4.0.attn.attn_lif', 'block4.0.mlp.fc2_lif'):
        assert 0.01 < rates[name][0] < 0.99, (name, rates[name])
    # and the independent reference reproduces them
    state = model.state_dict()
    expected = ReferenceSVF(state, TINY['embed_dims'], TINY['depths'])(
        golden_input())
    for i, e in enumerate(expected):
        np.testing.assert_allclose(golden[f'stage{i}'], e.numpy(),
                                   rtol=1e-10,
                                   atol=1e-10 * e.abs().max().item())


if __name__ == '__main__':
    if '--regenerate' not in sys.argv[1:]:
        sys.exit('usage: test_golden_spikevideoformer.py --regenerate')
    regenerate()
