# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike kinds, spike activity and the firing rate.

The one definition of the firing rate in mmsvf, shared by the operation
counter (:mod:`mmsvf.analysis.counter`) and ``FiringRateHook``.

Spike kinds
-----------
The kind of a spike tensor is its
:class:`~mmsvf.models.neurons.SpikeFormat` ``(D, normalized)``, which every
mmsvf neuron declares (``neuron.output_format``) and marks on its output
(:func:`~mmsvf.models.neurons.mark_spikes`; see
:mod:`mmsvf.models.neurons.modules`):

* ``binary``, ``SpikeFormat(1, False)``: values ``{0, 1}``, activity = the
  number of ones;
* ``integer``, ``SpikeFormat(D, False)``: values ``{0..D}``, activity = the
  sum of the values;
* ``normalized``, ``SpikeFormat(D, True)``: values ``{0, 1/D, .., 1}``,
  activity = ``Σ round(x·D)``.

An integer spike ``s`` stands for ``s`` binary spikes over ``D`` virtual
sub-steps, so the activity counts unit spikes in every kind. A tensor that
carries no mark (a model input, a padded or concatenated copy of spikes, the
tensors of a model without mmsvf neurons) is read from its values
(:func:`classify_tensor`), which also knows ``sign`` spikes ``{-1, 0, 1}``
(activity: the number of non-zeros) that no mmsvf neuron emits.

Firing rate
-----------
``firing_rate = activity / numel``: the mean over *every* element of the
tensor — all time steps, clips, channels and positions alike. For binary
spikes it is the fraction of ones; for integer spikes the mean integer value
(the binary rate over the ``D`` virtual sub-steps times ``D``, so it lies in
``[0, D]``); for normalised spikes the mean of ``x·D``. A rate over several
tensors (a layer over calls, a stage of neurons) is ``Σ activity / Σ numel``.
This is the firing rate of the energy model of Spike-driven Transformer V2
(Yao et al., ICLR 2024) that SpikeVideoFormer (arXiv 2505.10352) uses for its
energy figures: ``SOPs = rate × dense MACs`` of a spike-input layer.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from mmsvf.models.neurons import SpikeFormat, spike_format

__all__ = [
    'SPIKE_KINDS', 'FOLDED_KIND', 'SpikeStats', 'format_kind',
    'spike_activity', 'firing_rate', 'classify_tensor', 'spike_stats',
    'activity_tensor'
]

#: value kinds of spike tensors
SPIKE_KINDS = ('binary', 'integer', 'normalized', 'sign')
#: kind of a real tensor that is a linear image of a spike tensor (conv / BN /
#: pad / reshape / scalar scaling since the last non-linearity): the op it
#: feeds folds with the ops before it into one spike-input linear map
FOLDED_KIND = 'spike-linear'


def format_kind(fmt: SpikeFormat) -> str:
    """Kind name of a spike format: binary, integer or normalized."""
    if fmt.normalized:
        return 'normalized'
    return 'binary' if fmt.max_level == 1 else 'integer'


def spike_activity(spikes: torch.Tensor,
                   fmt: SpikeFormat) -> torch.Tensor:
    """Number of unit spikes in ``spikes`` of format ``fmt`` (see above).

    Stays on the tensor's device (no host synchronisation).

    Args:
        spikes (Tensor): spikes of any shape and floating / bool dtype.
        fmt (SpikeFormat): their format (``neuron.output_format`` or the
            tensor's mark).

    Returns:
        Tensor: 0-dim float64 activity.
    """
    spikes = spikes.detach()
    if fmt.normalized:
        spikes = torch.round(spikes * fmt.max_level)
    return spikes.sum(dtype=torch.float64)


@dataclass
class SpikeStats:
    """Value kind and activity of one tensor.

    Attributes:
        kind (str): ``'binary'``, ``'integer'``, ``'normalized'``, ``'sign'``
            or ``'real'`` (or :data:`FOLDED_KIND` inside the counter).
        level (int): D for integer / normalised spikes, else 1.
        activity (float): spike count (see the module docstring); the number
            of non-zero elements for a real tensor.
        numel (int): number of elements.
    """
    kind: str
    level: int
    activity: float
    numel: int

    @property
    def is_spike(self) -> bool:
        """Spike-driven input: spike values, or a linear image of spikes."""
        return self.kind in SPIKE_KINDS or self.kind == FOLDED_KIND

    @property
    def rate(self) -> float:
        return self.activity / self.numel if self.numel else 0.0


def classify_tensor(x: torch.Tensor,
                    levels: Sequence[int] = (),
                    normalized_level: Optional[int] = None) -> SpikeStats:
    """Classify the values of an unmarked ``x`` and measure its activity.

    The fallback of :func:`spike_stats` for tensors without a spike mark.

    Args:
        x (Tensor): any tensor.
        levels (Sequence[int]): the integer spike levels D (> 1) the model's
            integer neurons may emit; integer and normalised spikes are only
            recognised for these D. Binary ``{0, 1}`` and sign ``{-1, 0, 1}``
            tensors need none.
        normalized_level (int, optional): when every neuron of the model is
            a normalised integer neuron of level D, a tensor with values in
            ``{0, 1/D, .., 1}`` — ``{0, 1}`` included, i.e. spikes at the top
            level D — is read as normalised (activity ``x·D``), not binary.

    Returns:
        SpikeStats: the kind, level, activity and element count.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'expected a torch.Tensor, got {type(x).__name__}')
    numel = x.numel()
    if numel == 0:
        return SpikeStats('binary', 1, 0.0, 0)
    x = x.detach()
    if x.dtype == torch.bool:
        return SpikeStats('binary', 1, float(x.sum()), numel)
    if x.is_complex():
        return SpikeStats('real', 1, float((x != 0).sum()), numel)
    if not x.is_floating_point():
        x = x.to(torch.float32)
    levels = sorted({int(d) for d in levels if int(d) > 1})
    lo, hi = (float(v) for v in torch.aminmax(x))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return SpikeStats('real', 1, float((x != 0).sum()), numel)
    if normalized_level is not None and normalized_level > 1 and lo >= 0 \
            and hi <= 1:
        y = x * normalized_level
        if float((y - torch.round(y)).abs().max()) <= 1e-3:
            return SpikeStats(
                'normalized', int(normalized_level),
                float(torch.round(y).sum(dtype=torch.float64)), numel)
    if lo >= 0:
        nonzero = int(torch.count_nonzero(x))
        total = float(x.sum(dtype=torch.float64))
        # on [0, 1] the sum equals the non-zero count iff every non-zero is 1
        if hi <= 1 and total == nonzero:
            return SpikeStats('binary', 1, total, numel)
        if levels and hi <= levels[-1] and bool((x == torch.round(x)).all()):
            level = next(d for d in levels if hi <= d)
            return SpikeStats('integer', level, total, numel)
        if levels and hi <= 1:
            for d in levels:
                y = x * d
                if float((y - torch.round(y)).abs().max()) <= 1e-3:
                    return SpikeStats(
                        'normalized', d,
                        float(torch.round(y).sum(dtype=torch.float64)), numel)
        return SpikeStats('real', 1, float(nonzero), numel)
    if lo >= -1 and hi <= 1:
        nonzero = int(torch.count_nonzero(x))
        if float(x.abs().sum(dtype=torch.float64)) == nonzero:
            return SpikeStats('sign', 1, float(nonzero), numel)
    return SpikeStats('real', 1, float(torch.count_nonzero(x)), numel)


def spike_stats(x: torch.Tensor,
                levels: Sequence[int] = (),
                normalized_level: Optional[int] = None) -> SpikeStats:
    """Kind and activity of ``x``: from its spike mark, else its values.

    Args:
        x (Tensor): any tensor.
        levels, normalized_level: see :func:`classify_tensor` (used only
            when ``x`` carries no mark).

    Returns:
        SpikeStats: the kind, level, activity and element count.
    """
    fmt = spike_format(x)
    if fmt is None:
        return classify_tensor(x, levels, normalized_level)
    return SpikeStats(format_kind(fmt), fmt.max_level,
                      float(spike_activity(x, fmt)), x.numel())


def activity_tensor(x: torch.Tensor, stats: SpikeStats) -> torch.Tensor:
    """Per-element activity (spike count) of a spike tensor, ones if real."""
    if not stats.is_spike:
        return torch.ones_like(x, dtype=torch.float32)
    if stats.kind == FOLDED_KIND:
        return torch.full_like(x, stats.rate, dtype=torch.float32)
    x = x.detach().to(torch.float32)
    if stats.kind == 'normalized':
        return torch.round(x * stats.level)
    return x.abs()


def firing_rate(spikes: torch.Tensor,
                levels: Sequence[int] = (),
                fmt: Optional[SpikeFormat] = None) -> float:
    """Firing rate of a spike tensor: activity / elements (see above).

    The kind comes from ``fmt`` when given, else from the tensor's spike
    mark, else from its values.

    Args:
        spikes (Tensor): spike tensor.
        levels (Sequence[int]): admissible integer levels D (> 1) for an
            unmarked tensor read from its values.
        fmt (SpikeFormat, optional): the format of ``spikes``.

    Returns:
        float: the firing rate (0 for an empty tensor).

    Raises:
        ValueError: when ``spikes`` holds real values (not spikes).
    """
    if fmt is not None:
        numel = spikes.numel()
        return float(spike_activity(spikes, fmt)) / numel if numel else 0.0
    stats = spike_stats(spikes, levels)
    if stats.kind not in SPIKE_KINDS:
        raise ValueError(
            'firing_rate expects a spike tensor (binary, integer {0..D} or '
            f'normalised {{0,1/D,..,1}} with D in {list(levels) or "[]"}); '
            f'the tensor of shape {tuple(spikes.shape)} holds real values')
    return stats.rate
