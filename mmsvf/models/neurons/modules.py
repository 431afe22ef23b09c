# Copyright (c) mmsvf contributors. All rights reserved.
"""Thin neuron modules over the functional core (no state, no buffers).

Spike kinds have one description, :class:`~.spike_storage.SpikeFormat`
``(max_level D, normalized)``: every neuron declares the format of its output
(``output_format``) and marks each output tensor with it
(:func:`~.spike_storage.mark_spikes`). ``LIF`` emits binary spikes
``SpikeFormat(1, False)``, values ``{0, 1}``; ``IntegerLIF`` integer spikes
``SpikeFormat(D, False)``, values ``{0..D}``, or with ``normalize=True``
``SpikeFormat(D, True)``, values ``{0, 1/D, .., 1}``. Consumers take the kind
from the declaration or the mark instead of guessing it from values: compact
spike storage, and the operation counter and firing rates of
:mod:`mmsvf.analysis` (:func:`mmsvf.analysis.firing_rate`,
``FiringRateHook``).
"""
import torch
from torch import nn

from mmsvf.registry import MODELS, scoped
from .functional import (check_time_first, integer_lif_multistep,
                         lif_multistep)
from .spike_storage import SpikeFormat, mark_spikes
from .surrogate import get_surrogate

__all__ = ['LIF', 'IntegerLIF', 'build_neuron']


def _maybe_per_step(neuron, x, fn):
    """Run ``fn`` on ``x: [T, B, ...]``, folding T into the batch when the
    neuron restarts its membrane at every step."""
    if not neuron.reset_each_step:
        return fn(x)
    check_time_first(x)
    folded = x.reshape(1, x.shape[0] * x.shape[1], *x.shape[2:])
    return fn(folded).reshape(x.shape)


@MODELS.register_module()
class LIF(nn.Module):
    """Multi-step leaky integrate-and-fire neuron, time-first.

    SpikingJelly 0.0.0.0.12 ``MultiStepLIFNode`` semantics (SPEC §2.1), per
    element, ``V[0] = v_reset`` (0 for soft reset):

    * charge: ``H[t] = V[t-1] + (X[t] - V[t-1]) / tau`` (``decay_input``)
    * fire:   ``S[t] = Θ(H[t] - v_threshold)``
    * reset:  ``V[t] = H[t]·(1 - S[t]) + v_reset·S[t]`` (hard) or
      ``V[t] = H[t] - v_threshold·S[t]`` (soft, ``v_reset=None``).

    The membrane lives only inside one call: nothing carries over to the next
    forward.

    Args:
        tau (float): membrane time constant. Default 2.0.
        v_threshold (float): threshold. Default 1.0.
        v_reset (float | None): reset value; None = soft reset. Default 0.0.
        decay_input (bool): divide the input by ``tau``. Default True.
        detach_reset (bool): no gradient through the reset. Default True.
        surrogate (str): ``'sigmoid'`` or ``'atan'``. Default ``'sigmoid'``.
        alpha (float | None): surrogate sharpness; None = the surrogate's
            default (4.0 for sigmoid, 2.0 for atan).
        backend (str | None): ``'auto'``, ``'numba'``, ``'torch'``,
            ``'inductor'`` or ``'reference'`` (see :func:`lif_multistep`);
            None = ``$MMSVF_NEURON_BACKEND`` or ``'auto'``.
        reset_each_step (bool): restart the membrane at every time step
            (no temporal integration; the "spatial-only" ablation).

    Shapes:
        ``x: [T, *]`` float → spikes ``[T, *]`` in ``x.dtype`` with values 0/1.
    """

    is_integer = False
    max_level = 1
    #: kind of the output spikes (see the module docstring)
    output_format = SpikeFormat(1, False)

    def __init__(self, tau=2.0, v_threshold=1.0, v_reset=0.0,
                 decay_input=True, detach_reset=True, surrogate='sigmoid',
                 alpha=None, backend=None, reset_each_step=False):
        super().__init__()
        self.reset_each_step = reset_each_step
        if tau <= 1.0:
            raise ValueError(f'LIF tau must be > 1, got {tau}')
        get_surrogate(surrogate)
        self.tau = float(tau)
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.decay_input = decay_input
        self.detach_reset = detach_reset
        self.surrogate = surrogate
        self.alpha = alpha
        self.backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        backend = self.backend
        if torch.compiler.is_compiling() and backend in (None, 'auto',
                                                         'numba'):
            backend = 'torch'  # Numba kernels are opaque to torch.compile
        s = _maybe_per_step(self, x, lambda u: lif_multistep(
            u, self.tau, self.v_threshold, self.v_reset, self.decay_input,
            self.detach_reset, self.surrogate, self.alpha, backend))
        # consumers may keep the spikes for backward as bool (free to mark)
        return mark_spikes(s, *self.output_format)

    def extra_repr(self):
        reset = 'soft' if self.v_reset is None else f'v_reset={self.v_reset}'
        return (f'tau={self.tau}, v_threshold={self.v_threshold}, {reset}, '
                f'surrogate={self.surrogate}')


@MODELS.register_module()
class IntegerLIF(nn.Module):
    """Integer LIF (I-LIF, "multispike"), SPEC §2.2.

    ``s = round(clamp(u, 0, D))`` with a straight-through gradient on
    ``[0, D]``. ``stateful=True`` is SpikeYOLO's temporal flavour
    ``u[t] = (u[t-1] - s[t-1])·leak + x[t]``; ``stateful=False`` quantises every
    step independently (SDT-V3). ``normalize=True`` divides the output by D.
    At inference an integer spike ``s`` equals ``s`` binary sub-steps
    (:func:`~mmsvf.models.neurons.expand_integer_spikes`).

    Args:
        max_level (int): D, the largest integer spike. Default 4.
        leak (float): membrane leak of the stateful flavour. Default 0.25.
        normalize (bool): output ``s / D``. Default False.
        stateful (bool): temporal (True) or per-step (False). Default True.
        backend (str | None): as :class:`LIF`.
        reset_each_step (bool): as :class:`LIF`.
        v_threshold: accepted and ignored, so a backbone can ask any neuron
            for a threshold (I-LIF has none besides the quantiser).

    Shapes:
        ``x: [T, *]`` float → ``[T, *]`` with values in ``{0, …, D}`` (or
        ``{0, 1/D, …, 1}``).
    """

    is_integer = True

    def __init__(self, max_level=4, leak=0.25, normalize=False,
                 stateful=True, backend=None, reset_each_step=False,
                 v_threshold=None):
        super().__init__()
        self.reset_each_step = reset_each_step
        if int(max_level) != max_level or max_level < 1:
            raise ValueError(f'IntegerLIF max_level must be a positive '
                             f'integer, got {max_level}')
        self.max_level = int(max_level)
        self.leak = float(leak)
        self.normalize = normalize
        self.stateful = stateful
        self.backend = backend

    @property
    def output_format(self) -> SpikeFormat:
        """Kind of the output spikes (see the module docstring)."""
        return SpikeFormat(self.max_level, bool(self.normalize))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = _maybe_per_step(self, x, lambda u: integer_lif_multistep(
            u, self.max_level, self.leak, self.stateful, self.backend))
        if self.normalize:
            s = s / self.max_level
        return mark_spikes(s, *self.output_format)

    def extra_repr(self):
        return (f'max_level={self.max_level}, leak={self.leak}, '
                f'normalize={self.normalize}, stateful={self.stateful}')


def build_neuron(cfg, **overrides):
    """Build a neuron from ``cfg`` (a dict with ``type``) plus overrides.

    ``overrides`` (e.g. ``v_threshold=0.5`` for the dot-product attention
    neuron) are applied when the neuron type takes them. An unprefixed type
    registered in mmsvf (``'LIF'``) is built in the ``mmsvf`` scope whatever
    the current default scope is, so mmsvf modules built from an
    mmaction / mmseg / mmpose-scoped config (``type='mmsvf.X'`` does not carry
    its scope to nested builds) still find their neurons
    (docs/registry_and_scope.md).
    """
    cfg = dict(cfg or dict(type='LIF'))
    cfg.update(overrides)
    if isinstance(cfg.get('type'), str) and cfg['type'] in MODELS.module_dict:
        cfg = scoped(cfg)
    return MODELS.build(cfg)


