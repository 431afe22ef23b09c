# Copyright (c) mmsvf contributors. All rights reserved.
"""Operation counting, energy (SPEC §9) and spike-driven purity check."""
from .counter import (FOLDED_KIND, SPIKE_ATTENTION_FUNCTIONS, SPIKE_KINDS,
                      LayerRecord, OperationCounter, SpikeStats,
                      classify_tensor, firing_rate, match_layer)
from .energy import (ENERGY_PRESETS, EnergyReport, atomic_write,
                     check_spike_driven, compute_energy,
                     resolve_energy_constants, uniform_rate_for_energy)

__all__ = [
    'OperationCounter', 'LayerRecord', 'SpikeStats', 'classify_tensor',
    'firing_rate', 'match_layer', 'SPIKE_KINDS', 'FOLDED_KIND',
    'SPIKE_ATTENTION_FUNCTIONS', 'ENERGY_PRESETS', 'EnergyReport',
    'compute_energy', 'check_spike_driven', 'resolve_energy_constants',
    'atomic_write', 'uniform_rate_for_energy'
]
