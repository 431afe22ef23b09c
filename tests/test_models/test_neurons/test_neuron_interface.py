# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikingNeuron: the interface consumers use instead of duck typing."""
import torch

from mmsvf.models.neurons import (
    LIF,
    IntegerLIF,
    SpikeFormat,
    SpikingNeuron,
    spike_format,
)


def test_neurons_declare_their_output_format():
    assert isinstance(LIF(), SpikingNeuron)
    assert isinstance(IntegerLIF(), SpikingNeuron)
    assert LIF().output_format == SpikeFormat(1, False)
    assert IntegerLIF(max_level=3).output_format == SpikeFormat(3, False)
    assert IntegerLIF(normalize=True).output_format == SpikeFormat(4, True)
    assert (LIF.is_integer, IntegerLIF.is_integer) == (False, True)
    # binary neurons no longer pretend to have integer levels
    assert not hasattr(LIF(), 'max_level')


class _Doubler(SpikingNeuron):
    """A neuron written against the interface only: fires where 2x >= 1."""

    @property
    def output_format(self):
        return SpikeFormat(1, False)

    def multistep(self, x):
        # integrates over time: fires once the running sum reaches 1
        return (torch.cumsum(2 * x, 0) >= 1).to(x.dtype)


def test_base_class_runs_reset_each_step_and_marks_spikes():
    x = torch.tensor([[0.3], [0.3], [0.3]])
    assert _Doubler()(x).view(-1).tolist() == [0, 1, 1]
    # restarted at every step: no step alone reaches the threshold
    neuron = _Doubler(reset_each_step=True)
    out = neuron(torch.full((3, 2, 1), 0.3))
    assert out.shape == (3, 2, 1) and not out.any()
    assert spike_format(out) == SpikeFormat(1, False)
