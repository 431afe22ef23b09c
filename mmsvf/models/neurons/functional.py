# Copyright (c) mmsvf contributors. All rights reserved.
"""Functional neuron core over time-first tensors ``[T, ...]``.

charge → fire → reset, with no state outside one call: the membrane starts at
its resting value at ``t = 0`` of every call. The LIF's parameters travel as
one :class:`~.params.LIFParameters`; the functions also take its fields as
keywords (``lif_multistep(x, tau=3.0)``).

Two LIF paths compute the same numbers:

* :func:`lif_multistep_reference` — a per-step loop recorded by autograd, the
  exact order of operations of SpikingJelly 0.0.0.0.12 ``MultiStepLIFNode``.
  Always available, used by tests as the ground truth.
* :func:`lif_multistep` — the default: a custom
  :class:`torch.autograd.Function` that runs the forward scan without building
  a graph. The ``'torch'`` and ``'inductor'`` backends keep only the
  pre-spike membrane ``H`` for backward (spikes are recomputed from it as
  ``H >= v_threshold``) and run the backward recurrence as one fused
  ``addcmul`` per step; ``'inductor'`` compiles both scans with
  ``torch.compile``. On CPU (float32/64) the default runs both scans as fused
  Numba kernels (:mod:`.numba_kernels`), which keep only the input and re-run
  the forward scan block by block inside backward.

:mod:`.backends` decides which backend runs.
"""
import torch

from . import numba_kernels
from .backends import NEURON_BACKENDS, requested_backend, resolve_backend
from .params import LIFParameters, lif_parameters
from .surrogate import heaviside

__all__ = [
    'check_time_first', 'lif_multistep', 'lif_multistep_reference',
    'integer_lif_multistep', 'integer_lif_multistep_reference',
    'expand_integer_spikes', 'quantize_spikes', 'NEURON_BACKENDS',
    'lif_step', 'integer_lif_step'
]


def check_time_first(x, name='input'):
    """Validate a time-first tensor ``[T, ...]`` (T >= 1, floating dtype)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(x)}')
    if x.dim() < 2:
        raise ValueError(
            f'{name} must be time-first with shape [T, ...] (at least 2-D: a '
            f'time axis and neurons); got shape {tuple(x.shape)}')
    if x.shape[0] == 0:
        raise ValueError(f'{name} has T = 0 time steps (shape '
                         f'{tuple(x.shape)}); expected T >= 1')
    if not x.is_floating_point():
        raise ValueError(f'{name} must be a floating-point tensor (membrane '
                         f'input); got dtype {x.dtype}')


# --------------------------------------------------------------------------
# LIF: reference path (per-step autograd, SpikingJelly order of operations)
# --------------------------------------------------------------------------
def _charge(v, x, p: LIFParameters):
    """``H[t]`` from ``V[t-1]`` and ``X[t]`` (SpikingJelly's four forms)."""
    if p.decay_input:
        if p.v_reset is None or p.v_reset == 0.:
            return v + (x - v) / p.tau
        return v + (x - (v - p.v_reset)) / p.tau
    if p.v_reset is None or p.v_reset == 0.:
        return v * (1. - 1. / p.tau) + x
    return v - (v - p.v_reset) / p.tau + x


def lif_multistep_reference(x, params=None, **kwargs):
    """LIF over ``x: [T, ...]`` with a per-step autograd graph.

    Args:
        x (Tensor): input current ``[T, ...]``, floating point.
        params (LIFParameters | None): the neuron (defaults when None).
        **kwargs: :class:`~.params.LIFParameters` fields overriding
            ``params``.

    Returns:
        torch.Tensor: spikes ``[T, ...]`` in ``x.dtype`` (0 or 1).
    """
    check_time_first(x)
    p = lif_parameters(params, **kwargs)
    fn, alpha = p.surrogate_fn, p.surrogate_alpha
    v = torch.full_like(x[0], p.v_rest)
    spikes = []
    for t in range(x.shape[0]):
        h = _charge(v, x[t], p)
        s = fn.apply(h - p.v_threshold, alpha)
        s_r = s.detach() if p.detach_reset else s
        if p.v_reset is None:
            v = h - s_r * p.v_threshold
        else:
            v = (1. - s_r) * h + s_r * p.v_reset
        spikes.append(s)
    return torch.stack(spikes)


# --------------------------------------------------------------------------
# LIF: fused path
# --------------------------------------------------------------------------
def _lif_forward_scan(x, p: LIFParameters):
    """Return the pre-spike membrane ``H: [T, ...]`` (no graph)."""
    T = x.shape[0]
    h_all = torch.empty_like(x)
    v = torch.full_like(x[0], p.v_rest)
    for t in range(T):
        h = _charge(v, x[t], p)
        h_all[t] = h
        fired = h >= p.v_threshold
        if p.v_reset is None:
            v = torch.where(fired, h - p.v_threshold, h)
        else:
            v = torch.where(fired, torch.full_like(h, p.v_reset), h)
    return h_all


def _lif_backward_scan(grad_s, h_all, p: LIFParameters):
    """Gradient w.r.t. the input, from ``dL/dS`` and the saved ``H``."""
    hs = h_all - p.v_threshold
    sg = p.surrogate_fn.derivative(hs, p.surrogate_alpha)
    keep = (hs < 0).to(h_all.dtype)  # 1 - S
    # dV[t]/dH[t]
    if p.v_reset is None:
        dvdh = torch.ones_like(h_all) if p.detach_reset \
            else 1. - p.v_threshold * sg
    else:
        dvdh = keep if p.detach_reset else keep + (p.v_reset - h_all) * sg
    # dH[t+1]/dV[t] = 1 - 1/tau in every charge variant
    m = dvdh * (1. - 1. / p.tau)
    a = grad_s * sg
    grad_h = torch.empty_like(a)
    T = a.shape[0]
    grad_h[T - 1] = a[T - 1]
    for t in range(T - 2, -1, -1):
        torch.addcmul(a[t], grad_h[t + 1], m[t], out=grad_h[t])
    return grad_h / p.tau if p.decay_input else grad_h


def _get_scans(backend):
    """(forward scan, backward scan) of the ``'torch'`` / ``'inductor'``
    backend; the compiled ones come from the shared compile cache."""
    if backend == 'torch':
        return _lif_forward_scan, _lif_backward_scan
    # imported here: the model utilities sit above the neurons
    from ..utils.compile import compiled_function
    cfg = dict(dynamic=False)
    return (compiled_function(_lif_forward_scan, cfg),
            compiled_function(_lif_backward_scan, cfg))


class _LIFFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, p, backend):
        ctx.params, ctx.backend = p, backend
        if backend == 'numba':
            # the kernel re-runs the scan in backward: only x is kept
            s = numba_kernels.lif_forward(x, p)
            ctx.save_for_backward(x)
        else:
            fwd, _ = _get_scans(backend)
            h_all = fwd(x, p)
            s = heaviside(h_all - p.v_threshold)
            ctx.save_for_backward(h_all)
        return s

    @staticmethod
    def backward(ctx, grad_s):
        saved, = ctx.saved_tensors
        grad_s = grad_s.to(saved.dtype).contiguous()
        if ctx.backend == 'numba':
            grad_x = numba_kernels.lif_backward(grad_s, saved, ctx.params)
        else:
            _, bwd = _get_scans(ctx.backend)
            grad_x = bwd(grad_s, saved, ctx.params)
        return grad_x, None, None


def lif_multistep(x, params=None, backend=None, **kwargs):
    """Multi-step LIF over ``x: [T, ...]`` → spikes ``[T, ...]``.

    Same spikes and gradients as :func:`lif_multistep_reference` (SpikingJelly
    ``MultiStepLIFNode``) without a per-step autograd graph.

    Args:
        x (Tensor): input current ``[T, ...]``, floating point.
        params (LIFParameters | None): the neuron (defaults when None).
        backend (str | None): ``'auto'`` (``'numba'`` for CPU float32/64,
            ``'triton'`` on CUDA with Triton installed, else ``'torch'``),
            ``'numba'`` (fused CPU kernel), ``'torch'`` (fused eager scans,
            any device and dtype), ``'inductor'`` (``torch.compile``-fused
            scans: C++ on CPU, Triton on GPU), ``'triton'`` (fused Triton
            kernels as torch custom ops) or ``'reference'``; None =
            ``$MMSVF_NEURON_BACKEND`` or ``'auto'``
            (see :func:`~.backends.neuron_backend`).
        **kwargs: :class:`~.params.LIFParameters` fields (``tau``,
            ``v_threshold``, ``v_reset``, ``decay_input``, ``detach_reset``,
            ``surrogate``, ``alpha``) overriding ``params``.
    """
    check_time_first(x)
    p = lif_parameters(params, **kwargs)
    backend = resolve_backend(backend, x.device, x.dtype)
    if backend == 'reference':
        return lif_multistep_reference(x, p)
    if backend == 'triton':
        from . import triton_kernels  # imports triton: only when asked
        return triton_kernels.lif_triton(x, p)
    return _LIFFunction.apply(x.contiguous(), p, backend)


# --------------------------------------------------------------------------
# Integer LIF (I-LIF, "multispike")
# --------------------------------------------------------------------------
class _QuantizeSTE(torch.autograd.Function):
    """``round(clamp(u, 0, D))`` with a straight-through gradient on [0, D]."""

    @staticmethod
    def forward(ctx, u, max_level):
        ctx.save_for_backward(u)
        ctx.max_level = max_level
        return torch.round(torch.clamp(u, 0, max_level))

    @staticmethod
    def backward(ctx, grad_output):
        u, = ctx.saved_tensors
        inside = (u >= 0) & (u <= ctx.max_level)
        return grad_output * inside.to(grad_output.dtype), None


def quantize_spikes(u, max_level):
    """Integer spikes ``round(clamp(u, 0, D))`` with the STE gradient."""
    return _QuantizeSTE.apply(u, max_level)


def integer_lif_multistep_reference(x, max_level=4, leak=0.25, stateful=True):
    """I-LIF over ``x: [T, ...]`` as SpikeYOLO's ``mem_update`` (integers).

    ``u[0] = x[0]``, ``u[t] = (u[t-1] - s[t-1]) * leak + x[t]`` (``s``
    detached), ``s[t] = round(clamp(u[t], 0, D))``. ``stateful=False``
    quantises each step independently.
    """
    check_time_first(x)
    if not stateful:
        return quantize_spikes(x, max_level)
    out = []
    u = s = None
    for t in range(x.shape[0]):
        u = x[t] if t == 0 else (u - s.detach()) * leak + x[t]
        s = quantize_spikes(u, max_level)
        out.append(s)
    return torch.stack(out)


class _IntegerLIFFunction(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, max_level, leak):
        u_all = torch.empty_like(x)
        u = s = None
        for t in range(x.shape[0]):
            u = x[t] if t == 0 else (u - s) * leak + x[t]
            u_all[t] = u
            s = torch.round(torch.clamp(u, 0, max_level))
        ctx.save_for_backward(u_all)
        ctx.max_level, ctx.leak = max_level, leak
        return torch.round(torch.clamp(u_all, 0, max_level))

    @staticmethod
    def backward(ctx, grad_s):
        u_all, = ctx.saved_tensors
        inside = ((u_all >= 0) & (u_all <= ctx.max_level)).to(grad_s.dtype)
        a = grad_s * inside
        grad_u = torch.empty_like(a)
        T = a.shape[0]
        grad_u[T - 1] = a[T - 1]
        for t in range(T - 2, -1, -1):
            torch.add(a[t], grad_u[t + 1], alpha=ctx.leak, out=grad_u[t])
        return grad_u, None, None


def integer_lif_multistep(x, max_level=4, leak=0.25, stateful=True,
                          backend=None):
    """Fused I-LIF over ``x: [T, ...]``; equals the reference path.

    ``backend``: ``'reference'`` runs the per-step loop, ``'triton'`` (and
    ``'auto'`` on CUDA with Triton installed) the Triton kernels, any other
    the fused torch scan.
    """
    check_time_first(x)
    requested = requested_backend(backend)
    if requested == 'reference' or not stateful:
        return integer_lif_multistep_reference(x, max_level, leak, stateful)
    if requested in ('auto', 'triton') and resolve_backend(
            requested, x.device, x.dtype) == 'triton':
        from . import triton_kernels
        return triton_kernels.integer_lif_triton(x, max_level, leak)
    return _IntegerLIFFunction.apply(x.contiguous(), float(max_level),
                                     float(leak))


def expand_integer_spikes(s, max_level):
    """Expand integer spikes ``[T, ...]`` into ``[T*D, ...]`` binary sub-steps.

    Sub-step ``k`` of real step ``t`` fires iff ``k < s[t]`` (SpikeYOLO's
    ``convert_integer_to_binary``), so ``s[t]`` equals the sum of its ``D``
    sub-steps and any linear layer gives the same result on both forms.
    """
    check_time_first(s, 'integer spikes')
    D = int(max_level)
    k = torch.arange(D, device=s.device, dtype=s.dtype).view(
        1, D, *([1] * (s.dim() - 1)))
    binary = (s.unsqueeze(1) > k).to(s.dtype)
    return binary.reshape(s.shape[0] * D, *s.shape[1:])


# --------------------------------------------------------------------------
# Single steps with an explicit membrane (streaming)
# --------------------------------------------------------------------------
def lif_step(x, v=None, params=None, **kwargs):
    """One LIF step: ``(input, membrane in)`` → ``(spikes, membrane out)``.

    Exactly one iteration of :func:`lif_multistep_reference` (the same
    charge, surrogate fire and reset operations, in the same order), so
    feeding ``x[0], x[1], ...`` one by one, each with the membrane the
    previous call returned, gives the multistep spikes bitwise. The fused
    paths compute the same recurrence (their tests compare them with the
    reference), so the steps match them too.

    Args:
        x (Tensor): input current of one step ``(...)``, floating point.
        v (Tensor | None): membrane after the previous step's reset, shape of
            ``x``; None = the resting membrane (the first step).
        params (LIFParameters | None): the neuron (defaults when None).
        **kwargs: :class:`~.params.LIFParameters` fields overriding
            ``params``.

    Returns:
        tuple: spikes ``(...)`` in ``x.dtype`` and the new membrane ``(...)``.
    """
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        raise TypeError(f'lif_step input must be a floating-point tensor, '
                        f'got {getattr(x, "dtype", type(x))}')
    p = lif_parameters(params, **kwargs)
    if v is None:
        v = torch.full_like(x, p.v_rest)
    elif v.shape != x.shape:
        raise ValueError(f'lif_step membrane shape {tuple(v.shape)} does '
                         f'not match the input shape {tuple(x.shape)}')
    h = _charge(v, x, p)
    s = p.surrogate_fn.apply(h - p.v_threshold, p.surrogate_alpha)
    s_r = s.detach() if p.detach_reset else s
    if p.v_reset is None:
        v = h - s_r * p.v_threshold
    else:
        v = (1. - s_r) * h + s_r * p.v_reset
    return s, v


def integer_lif_step(x, v=None, max_level=4, leak=0.25, stateful=True):
    """One I-LIF step: ``(input, membrane in)`` → ``(spikes, membrane out)``.

    One iteration of :func:`integer_lif_multistep_reference`:
    ``u = v·leak + x`` (``u = x`` at the first step, ``v`` None),
    ``s = round(clamp(u, 0, D))`` and the carried membrane ``v = u − s``
    (``s`` detached), i.e. the reference's ``(u[t-1] − s[t-1])``. Stepping
    through ``x[0], x[1], ...`` gives the multistep spikes bitwise.
    ``stateful=False`` quantises each step alone and carries nothing
    (returns ``v = None``).

    Args:
        x (Tensor): input of one step ``(...)``, floating point.
        v (Tensor | None): carried membrane; None before the first step.
        max_level (int): D.
        leak (float): membrane leak.
        stateful (bool): temporal (True) or per-step (False) flavour.

    Returns:
        tuple: integer spikes ``(...)`` and the new membrane (or None).
    """
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        raise TypeError(f'integer_lif_step input must be a floating-point '
                        f'tensor, got {getattr(x, "dtype", type(x))}')
    if not stateful:
        return quantize_spikes(x, max_level), None
    if v is None:
        u = x
    elif v.shape != x.shape:
        raise ValueError(f'integer_lif_step membrane shape '
                         f'{tuple(v.shape)} does not match the input shape '
                         f'{tuple(x.shape)}')
    else:
        u = v * leak + x
    s = quantize_spikes(u, max_level)
    return s, u - s.detach()
