# Copyright (c) mmsvf contributors. All rights reserved.
"""Per-layer energy of a hand-set network, as literals: a real-input layer
costs MACs x E_MAC, a spike-input layer SOPs x E_AC (45 nm fp32: E_MAC =
4.6 pJ, E_AC = 0.9 pJ; Horowitz 2014, as in the Spike-driven Transformer
papers and SpikeVideoFormer's energy estimate)."""
import pytest
import torch
from torch import nn

from mmsvf.analysis import OperationCounter, compute_energy
from mmsvf.analysis.energy import ENERGY_PRESETS
from mmsvf.models.neurons import LIF


class Toy(nn.Module):
    """real x -> stem Linear(8 -> 8) -> LIF (exactly 25 % spikes) ->
    fc Linear(8 -> 6).

    Zero weights; a stem bias of 4 makes H = 4 / 2 = 2 >= 1 at every step
    (fire, hard reset to 0), a bias of 0 never fires: 2 of 8 channels.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(8, 8)
        self.lif = LIF()
        self.fc = nn.Linear(8, 6)
        with torch.no_grad():
            self.stem.weight.zero_()
            self.fc.weight.zero_()
            self.stem.bias.copy_(torch.tensor([4., 0, 0, 0, 4, 0, 0, 0]))

    def forward(self, x):  # [T, B, N, 8]
        return self.fc(self.lif(self.stem(x)))


def test_fp32_constants():
    assert ENERGY_PRESETS['fp32'] == (4.6, 0.9)


def test_per_layer_energy_literals():
    T, B, N = 2, 3, 4
    counter = OperationCounter(Toy().eval())
    with counter:
        counter.run(torch.randn(T, B, N, 8), num_clips=B)
    rows = {r['name']: r for r in compute_energy(counter).layers}
    assert set(rows) == {'stem', 'fc'}
    # stem, real input: per clip 2 frames x 4 tokens x 8 outputs x 8 inputs
    # = 512 MACs at 4.6 pJ = 2355.2 pJ = 2.3552e-6 mJ
    stem = rows['stem']
    assert (stem['macs'], stem['sops']) == (512, 0)
    assert stem['energy_mj'] == pytest.approx(2.3552e-6, rel=1e-12)
    # fc, spike input at rate 1/4: 2 x 4 x 6 x 8 = 384 dense MACs -> 96 SOPs
    # at 0.9 pJ = 86.4 pJ = 8.64e-8 mJ (at E_MAC it would be 4.416e-7)
    fc = rows['fc']
    assert fc['firing_rate'] == 0.25
    assert (fc['dense_macs'], fc['macs'], fc['sops']) == (384, 0, 96)
    assert fc['energy_mj'] == pytest.approx(8.64e-8, rel=1e-12)
    # ANN reference: every layer at E_MAC
    ann = {r['name']: r for r in compute_energy(counter, mode='ann').layers}
    assert ann['fc']['energy_mj'] == pytest.approx(384 * 4.6e-9, rel=1e-12)
