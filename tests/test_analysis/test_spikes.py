# Copyright (c) mmsvf contributors. All rights reserved.
"""The one firing-rate definition (mmsvf.analysis.spikes): spike kinds from
the neurons' marks, activity of every kind, and the counter using it."""
import torch
from torch import nn

from mmsvf.analysis import (
    OperationCounter,
    classify_tensor,
    firing_rate,
    spike_activity,
    spike_stats,
)
from mmsvf.models.neurons import LIF, IntegerLIF, SpikeFormat, mark_spikes


def test_neurons_declare_and_mark_their_format():
    assert LIF().output_format == SpikeFormat(1, False)
    assert IntegerLIF(max_level=3).output_format == SpikeFormat(3, False)
    assert IntegerLIF(max_level=3, normalize=True).output_format == \
        SpikeFormat(3, True)
    x = torch.tensor([[0., 2., 5.]])  # [T=1, 3]
    s = IntegerLIF(max_level=3, normalize=True, stateful=False)(x)
    assert spike_stats(s).kind == 'normalized'
    assert spike_stats(s).level == 3


def test_spike_activity_of_every_format():
    s = torch.tensor([0., 1., 2., 4., 3., 0.])
    assert spike_activity(s, SpikeFormat(4)).item() == 10
    # normalised: Σ round(x·D), exact where sum(x)·D is not an integer sum
    n = torch.tensor([1., 2., 2., 1., 0.]) / 3
    act = spike_activity(n, SpikeFormat(3, True))
    assert act.dtype == torch.float64 and act.dim() == 0
    assert act.item() == 6.0
    binary = torch.tensor([True, False, True])
    assert spike_activity(binary, SpikeFormat()).item() == 2
    assert firing_rate(n, fmt=SpikeFormat(3, True)) == 6 / 5
    assert firing_rate(torch.zeros(0), fmt=SpikeFormat()) == 0.0


def test_the_mark_decides_the_kind_not_the_values():
    # integer spikes that happen to be 0/1 only: integer by the mark
    s = mark_spikes(torch.tensor([0., 1., 1., 0.]), 4)
    assert classify_tensor(s.clone()).kind == 'binary'  # unmarked copy
    stats = spike_stats(s)
    assert (stats.kind, stats.level, stats.activity) == ('integer', 4, 2.0)
    # normalised spikes at the top level D: 0/1 values, each 1 = D spikes
    n = mark_spikes(torch.tensor([0., 1., 1., 0.]), 4, True)
    assert spike_stats(n).kind == 'normalized'
    assert firing_rate(n) == 2.0
    assert firing_rate(n.clone()) == 0.5  # by value: binary
    # views of marked spikes keep the mark; an in-place change drops it
    assert spike_stats(n.view(2, 2)).kind == 'normalized'
    n.mul_(1)
    assert spike_stats(n).kind == 'binary'


def test_rate_is_the_mean_over_every_element():
    # [T=2, B=2, C=2]: 3 spikes in 8 elements, whatever the axis
    s = mark_spikes(torch.tensor([[[1., 0.], [0., 0.]],
                                  [[1., 1.], [0., 0.]]]))
    assert firing_rate(s) == 3 / 8
    assert firing_rate(s[:, 0]) == 3 / 4


class _MixedLevels(nn.Module):
    """A binary LIF and a normalised I-LIF (D = 4) feeding two layers."""

    def __init__(self):
        super().__init__()
        self.lif = LIF()
        self.ilif = IntegerLIF(max_level=4, normalize=True, stateful=False)
        self.fc_a = nn.Linear(4, 2, bias=False)
        self.fc_b = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.fc_a(self.lif(x)), self.fc_b(self.ilif(x))


def test_counter_uses_the_marks_in_a_mixed_model():
    """Normalised spikes at the top level are D spikes each; from values
    alone a mixed model reads them as binary (rate 4x too low)."""
    x = torch.tensor([[[10., 0., 0., 10.]]])  # I-LIF: 4/4 = 1 twice
    counter = OperationCounter(_MixedLevels())
    with counter:
        counter.run(x, num_clips=1)
    assert counter.normalized_level is None  # the LIF is not normalised
    rec = {r.name: r for r in counter.records()}
    assert rec['fc_a'].kinds == {'binary'} and rec['fc_a'].firing_rate == 0.5
    assert rec['fc_b'].kinds == {'normalized'}
    assert rec['fc_b'].firing_rate == 4 * 0.5
    assert rec['fc_b'].sops == 4 * 0.5 * 8
