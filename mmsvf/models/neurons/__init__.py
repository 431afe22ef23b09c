# Copyright (c) mmsvf contributors. All rights reserved.
"""Spiking neurons over time-first tensors ``[T, ...]``."""
from .functional import (NEURON_BACKENDS, check_time_first,
                         expand_integer_spikes, integer_lif_multistep,
                         integer_lif_multistep_reference, lif_multistep,
                         lif_multistep_reference, quantize_spikes)
from .modules import LIF, IntegerLIF, build_neuron
from .spike_storage import (SpikeFormat, compact_spike_tensor, decode_spikes,
                            encode_spikes, mark_spikes, spike_format)
from .surrogate import ATanSurrogate, SigmoidSurrogate, get_surrogate

__all__ = [
    'LIF', 'IntegerLIF', 'build_neuron', 'lif_multistep',
    'lif_multistep_reference', 'integer_lif_multistep',
    'integer_lif_multistep_reference', 'expand_integer_spikes',
    'quantize_spikes', 'check_time_first', 'SigmoidSurrogate',
    'ATanSurrogate', 'get_surrogate', 'NEURON_BACKENDS', 'SpikeFormat',
    'mark_spikes', 'spike_format', 'encode_spikes', 'decode_spikes',
    'compact_spike_tensor'
]
