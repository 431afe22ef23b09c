# Copyright (c) mmsvf contributors. All rights reserved.
"""Operation counting, energy and spike-driven purity check.

* :mod:`.spikes`: spike kinds, activity and the firing rate (the one
  definition, shared with ``FiringRateHook``);
* :mod:`.counter`: :class:`OperationCounter` (how ops are seen and named);
* :mod:`.layer_rules`: dense MACs and SOPs of every counted op;
* :mod:`.energy`: energy, purity check; :mod:`.report`: the report writers.
"""
from mmsvf.utils.fileio import atomic_write
from .counter import (
                      SPIKE_ATTENTION_MODULES,
                      LayerRecord,
                      OperationCounter,
                      match_layer,
)
from .energy import (
                      ENERGY_PRESETS,
                      check_spike_driven,
                      compute_energy,
                      resolve_energy_constants,
                      uniform_rate_for_energy,
)
from .report import EnergyReport
from .spikes import (
                      FOLDED_KIND,
                      SPIKE_KINDS,
                      SpikeStats,
                      classify_tensor,
                      firing_rate,
                      spike_activity,
                      spike_stats,
)

__all__ = [
    'OperationCounter', 'LayerRecord', 'SpikeStats', 'classify_tensor',
    'firing_rate', 'spike_activity', 'spike_stats', 'match_layer',
    'SPIKE_KINDS', 'FOLDED_KIND', 'SPIKE_ATTENTION_MODULES',
    'ENERGY_PRESETS', 'EnergyReport', 'compute_energy', 'check_spike_driven',
    'resolve_energy_constants', 'atomic_write', 'uniform_rate_for_energy'
]
