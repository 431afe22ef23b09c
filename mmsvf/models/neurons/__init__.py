# Copyright (c) mmsvf contributors. All rights reserved.
"""Spiking neurons over time-first tensors ``[T, ...]``."""
from .backends import (
                       CONCRETE_BACKENDS,
                       NEURON_BACKENDS,
                       available_backends,
                       neuron_backend,
)
from .functional import (
                       check_time_first,
                       expand_integer_spikes,
                       integer_lif_multistep,
                       integer_lif_multistep_reference,
                       integer_lif_step,
                       lif_multistep,
                       lif_multistep_reference,
                       lif_step,
                       quantize_spikes,
)
from .modules import LIF, IntegerLIF, SpikingNeuron, build_neuron
from .params import LIFParameters
from .spike_storage import (
                       SpikeFormat,
                       compact_spike_tensor,
                       decode_spikes,
                       encode_spikes,
                       mark_spikes,
                       spike_format,
)
from .streaming import StreamState, streaming
from .surrogate import (
                       ATanSurrogate,
                       SigmoidSurrogate,
                       SurrogateSpike,
                       get_surrogate,
)

__all__ = [
    'LIF', 'IntegerLIF', 'SpikingNeuron', 'LIFParameters', 'build_neuron',
    'lif_multistep', 'lif_multistep_reference', 'integer_lif_multistep',
    'integer_lif_multistep_reference', 'expand_integer_spikes',
    'quantize_spikes', 'check_time_first', 'SurrogateSpike',
    'SigmoidSurrogate', 'ATanSurrogate', 'get_surrogate', 'NEURON_BACKENDS',
    'CONCRETE_BACKENDS', 'neuron_backend', 'available_backends',
    'SpikeFormat', 'mark_spikes', 'spike_format', 'encode_spikes',
    'decode_spikes', 'compact_spike_tensor', 'lif_step', 'integer_lif_step',
    'StreamState', 'streaming'
]
