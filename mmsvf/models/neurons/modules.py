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
from .backends import requested_backend
from .functional import (
    check_time_first,
    integer_lif_multistep,
    integer_lif_step,
    lif_multistep,
    lif_step,
)
from .params import LIFParameters
from .spike_storage import SpikeFormat, mark_spikes

__all__ = ['SpikingNeuron', 'LIF', 'IntegerLIF', 'build_neuron']


class SpikingNeuron(nn.Module):
    """What every mmsvf spiking neuron is and declares.

    A neuron maps a time-first input ``[T, ...]`` to spikes of the same shape
    and keeps nothing between calls. Consumers rely on this interface, not on
    the concrete class: the compact spike storage reads
    :attr:`output_format`, the firing-rate hook and the energy counter find
    neurons by it.

    Subclasses implement :meth:`multistep` and :attr:`output_format`; the
    base class runs ``reset_each_step`` and marks the output as spikes.

    Args:
        backend (str | None): the requested backend (see
            :func:`~mmsvf.models.neurons.neuron_backend`); None =
            ``$MMSVF_NEURON_BACKEND`` or ``'auto'``.
        reset_each_step (bool): restart the membrane at every time step (no
            temporal integration; the "spatial-only" ablation).

    Attributes:
        is_integer (bool): the spikes are integers ``0..D`` (I-LIF) rather
            than binary; a class attribute.
    """

    is_integer = False
    #: runs with a carried membrane inside :func:`~.streaming.streaming`
    supports_streaming = True

    def __init__(self, backend=None, reset_each_step=False):
        super().__init__()
        if backend is not None:
            requested_backend(backend)  # an unknown name fails here
        self.backend = backend
        self.reset_each_step = bool(reset_each_step)

    @property
    def output_format(self) -> SpikeFormat:
        """How the output spikes are laid out (``max_level``, normalised)."""
        raise NotImplementedError

    def multistep(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes of ``x: [T, ...]``, the membrane starting at rest."""
        raise NotImplementedError

    def step(self, x: torch.Tensor, state=None):
        """One time step with an explicit membrane.

        Args:
            x (Tensor): input of one step, ``[...]`` (no time axis).
            state (Tensor | None): the membrane the previous step returned;
                None = at rest.

        Returns:
            tuple: spikes ``[...]`` (unmarked, as :meth:`multistep`) and the
            new state (None when the neuron carries nothing).
        """
        raise NotImplementedError(
            f'{type(self).__name__} has no single-step form, so it cannot '
            'run frame by frame (streaming)')

    def _stream_forward(self, x, state, key):
        """The time steps of ``x: [T, ...]`` from the carried membrane."""
        check_time_first(x)
        v = None if self.reset_each_step else state.get(key)
        out = []
        for t in range(x.shape[0]):
            s, v_new = self.step(x[t], v)
            if not self.reset_each_step:
                v = v_new
            out.append(s)
        state.set(key, v)
        return torch.stack(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slot = self.__dict__.get('_stream_slot')
        if slot is not None:
            return mark_spikes(self._stream_forward(x, *slot),
                               *self.output_format)
        if self.reset_each_step:
            # every step from rest = T·B one-step samples
            check_time_first(x)
            folded = x.reshape(1, x.shape[0] * x.shape[1], *x.shape[2:])
            s = self.multistep(folded).reshape(x.shape)
        else:
            s = self.multistep(x)
        # consumers may keep the spikes for backward compactly (free to mark)
        return mark_spikes(s, *self.output_format)


@MODELS.register_module()
class LIF(SpikingNeuron):
    """Multi-step leaky integrate-and-fire neuron, time-first.

    SpikingJelly 0.0.0.0.12 ``MultiStepLIFNode`` semantics (the neuron of
    Meta-SpikeFormer and SpikeVideoFormer), per element,
    ``V[0] = v_reset`` (0 for soft reset):

    * charge: ``H[t] = V[t-1] + (X[t] - V[t-1]) / tau`` (``decay_input``)
    * fire:   ``S[t] = Θ(H[t] - v_threshold)``
    * reset:  ``V[t] = H[t]·(1 - S[t]) + v_reset·S[t]`` (hard) or
      ``V[t] = H[t] - v_threshold·S[t]`` (soft, ``v_reset=None``).

    The membrane lives only inside one call: nothing carries over to the next
    forward. The neuron's parameters are one immutable
    :class:`~mmsvf.models.neurons.LIFParameters` (:attr:`params`); its fields
    read as attributes (``lif.tau``).

    Args:
        tau (float): membrane time constant (> 1). Default 2.0.
        v_threshold (float): threshold. Default 1.0.
        v_reset (float | None): reset value; None = soft reset. Default 0.0.
        decay_input (bool): divide the input by ``tau``. Default True.
        detach_reset (bool): no gradient through the reset. Default True.
        surrogate (str): ``'sigmoid'`` or ``'atan'``. Default ``'sigmoid'``.
        alpha (float | None): surrogate sharpness; None = the surrogate's
            default (4.0 for sigmoid, 2.0 for atan).
        backend (str | None): ``'auto'``, ``'numba'``, ``'torch'``,
            ``'inductor'``, ``'triton'`` or ``'reference'`` (see
            :func:`~mmsvf.models.neurons.neuron_backend`); None =
            ``$MMSVF_NEURON_BACKEND`` or ``'auto'``.
        reset_each_step (bool): restart the membrane at every time step
            (no temporal integration; the "spatial-only" ablation).

    Shapes:
        ``x: [T, *]`` float → spikes ``[T, *]`` in ``x.dtype`` with values 0/1.
    """

    def __init__(self, tau=2.0, v_threshold=1.0, v_reset=0.0,
                 decay_input=True, detach_reset=True, surrogate='sigmoid',
                 alpha=None, backend=None, reset_each_step=False):
        super().__init__(backend, reset_each_step)
        self.params = LIFParameters(tau, v_threshold, v_reset, decay_input,
                                    detach_reset, surrogate, alpha)

    @property
    def output_format(self) -> SpikeFormat:
        return SpikeFormat(1, False)

    def multistep(self, x: torch.Tensor) -> torch.Tensor:
        return lif_multistep(x, self.params, self.backend)

    def step(self, x: torch.Tensor, state=None):
        return lif_step(x, state, self.params)

    def extra_repr(self):
        p = self.params
        reset = 'soft' if p.v_reset is None else f'v_reset={p.v_reset}'
        return (f'tau={p.tau}, v_threshold={p.v_threshold}, {reset}, '
                f'surrogate={p.surrogate}')


def _params_field(name):
    return property(lambda self: getattr(self.params, name),
                    doc=f'``params.{name}`` (read-only).')


for _name in ('tau', 'v_threshold', 'v_reset', 'decay_input', 'detach_reset',
              'surrogate', 'alpha'):
    setattr(LIF, _name, _params_field(_name))
del _name


@MODELS.register_module()
class IntegerLIF(SpikingNeuron):
    """Integer LIF (I-LIF, "multispike"; SpikeYOLO ``mem_update``, SDT-V3).

    ``s = round(clamp(u, 0, D))`` with a straight-through gradient on
    ``[0, D]``. ``stateful=True`` is SpikeYOLO's temporal flavour
    ``u[t] = (u[t-1] - s[t-1])·leak + x[t]``; ``stateful=False`` quantises
    every step independently (SDT-V3). ``normalize=True`` divides the output
    by D. At inference an integer spike ``s`` equals ``s`` binary sub-steps
    (:func:`~mmsvf.models.neurons.expand_integer_spikes`).

    Args:
        max_level (int): D, the largest integer spike. Default 4.
        leak (float): membrane leak of the stateful flavour. Default 0.25.
        normalize (bool): output ``s / D``. Default False.
        stateful (bool): temporal (True) or per-step (False). Default True.
        backend (str | None): ``'reference'`` runs the per-step loop,
            ``'triton'`` (and ``'auto'`` on CUDA with Triton installed) the
            Triton kernels, any other backend the fused torch scan.
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
        super().__init__(backend, reset_each_step)
        if int(max_level) != max_level or max_level < 1:
            raise ValueError(f'IntegerLIF max_level must be a positive '
                             f'integer, got {max_level}')
        self.max_level = int(max_level)
        self.leak = float(leak)
        self.normalize = normalize
        self.stateful = stateful

    @property
    def output_format(self) -> SpikeFormat:
        return SpikeFormat(self.max_level, bool(self.normalize))

    def multistep(self, x: torch.Tensor) -> torch.Tensor:
        s = integer_lif_multistep(x, self.max_level, self.leak, self.stateful,
                                  self.backend)
        return s / self.max_level if self.normalize else s

    def step(self, x: torch.Tensor, state=None):
        s, v = integer_lif_step(x, state, self.max_level, self.leak,
                                self.stateful)
        return (s / self.max_level if self.normalize else s), v

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
