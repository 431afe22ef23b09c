# Copyright (c) mmsvf contributors. All rights reserved.
"""Fused Triton kernels for the LIF and integer-LIF scans, as torch ops.

One program owns ``BLOCK`` neurons and walks time inside the kernel, the
state in registers, in float32 whatever the input dtype (float32, bfloat16
or float16):

* forward: reads ``X`` once and writes the spikes ``S`` (in ``X``'s dtype)
  — nothing else, nothing is kept but ``X`` (as the Numba CPU kernels);
* backward, one kernel: re-runs the forward scan into a float32 scratch
  (the ``dL/dX`` buffer itself for float32 inputs), then walks time
  backwards through it, reading ``dL/dS`` and writing ``dL/dX``.

The kernels are wrapped as torch custom ops (``mmsvf::lif_triton``,
``mmsvf::integer_lif_triton`` and their ``*_backward`` ops) with fake
implementations and registered autograd, so ``torch.compile`` keeps a block
with these neurons in one graph: the op is opaque to the compiler.

Exactness: the arithmetic follows the reference path's order of operations
(:func:`~.functional._charge`, the fused backward scan) in float32, and
floating-point contraction into FMAs is switched off at launch, so float32
spikes equal the reference path's bit for bit and gradients agree to float
rounding (the surrogates' ``exp`` may differ by an ulp). For bfloat16 /
float16 inputs the state is float32, so spikes equal those of the float32
reference path on the same (upcast) input.

The surrogate derivatives are the closed forms of
:mod:`.surrogate` (:meth:`SigmoidSurrogate.derivative
<.surrogate.SigmoidSurrogate.derivative>`,
:meth:`ATanSurrogate.derivative <.surrogate.ATanSurrogate.derivative>`),
written once here in Triton for every kernel (:data:`TRITON_SURROGATES`);
a test checks each against its torch definition.

Triton runs CUDA tensors, and CPU tensors under ``TRITON_INTERPRET=1``
(the Triton interpreter, how the tests run on machines without a GPU). That
variable is read when this module is first imported.
"""
import math
from typing import Optional

import torch
import triton
import triton.language as tl

from .params import LIFParameters
from .surrogate import SURROGATES

__all__ = ['lif_triton', 'integer_lif_triton', 'TRITON_SURROGATES']

_BLOCK = 1024
# Triton fuses a*b + c into an FMA by default, which rounds once instead of
# twice and could flip a spike at the threshold: the reference path rounds
# after every operation
_LAUNCH = dict(num_warps=4, enable_fp_fusion=False)


# --------------------------------------------------------------- surrogates
@triton.jit
def _sigmoid_derivative(x, alpha):
    # SigmoidSurrogate.derivative: (1 - σ(αx))·σ(αx)·α
    sgax = tl.sigmoid(x * alpha)
    return (1. - sgax) * sgax * alpha


@triton.jit
def _atan_derivative(x, half_alpha, pi_half_alpha):
    # ATanSurrogate.derivative: (α/2) / (1 + (π/2·α·x)²)
    y = pi_half_alpha * x
    return tl.math.div_rn(half_alpha, 1. + y * y)


#: the Triton form of each surrogate in :data:`.surrogate.SURROGATES`
TRITON_SURROGATES = {'sigmoid': _sigmoid_derivative,
                     'atan': _atan_derivative}
assert set(TRITON_SURROGATES) == set(SURROGATES)
_DEFAULT_ALPHA = {name: fn.default_alpha for name, fn in SURROGATES.items()}


@triton.jit
def _surrogate(x, c0, c1, SURROGATE: tl.constexpr):
    # (c0, c1) = _surrogate_constants(name, alpha), folded on the host
    if SURROGATE == 'atan':
        d = _atan_derivative(x, c0, c1)
    else:
        d = _sigmoid_derivative(x, c0)
    return d


def _surrogate_constants(name, alpha):
    if name == 'atan':
        # ATanSurrogate.derivative: alpha / 2 and math.pi / 2 * alpha are
        # Python (double) scalars rounded to float32 by the tensor op
        return alpha / 2, math.pi / 2 * alpha
    return alpha, 0.


# -------------------------------------------------------------------- LIF
@triton.jit
def _lif_charge(v, x, tau, decay, v_reset, DECAY_INPUT: tl.constexpr,
                RESET_ZERO: tl.constexpr):
    # functional._charge, the same four forms and operation order; decay is
    # 1 - 1/tau folded in double precision on the host as torch does with
    # the Python scalar. `/` lowers to an approximate division on NVIDIA
    # GPUs: div_rn is the correctly rounded one torch computes
    if DECAY_INPUT:
        if RESET_ZERO:
            h = v + tl.math.div_rn(x - v, tau)
        else:
            h = v + tl.math.div_rn(x - (v - v_reset), tau)
    else:
        if RESET_ZERO:
            h = v * decay + x
        else:
            h = v - tl.math.div_rn(v - v_reset, tau) + x
    return h


@triton.jit
def _lif_reset(h, v_threshold, v_reset, SOFT: tl.constexpr):
    fired = h - v_threshold >= 0.
    if SOFT:
        v = tl.where(fired, h - v_threshold, h)
    else:
        v = tl.where(fired, v_reset, h)
    return v


@triton.jit
def _lif_initial_membrane(v_reset, SOFT: tl.constexpr, BLOCK: tl.constexpr):
    # hard reset starts at v_reset, soft reset at 0
    v = tl.zeros([BLOCK], tl.float32)
    if not SOFT:
        v += v_reset
    return v


@triton.jit
def _lif_step(v, x, tau, decay, v_threshold, v_reset, SOFT: tl.constexpr,
              DECAY_INPUT: tl.constexpr, RESET_ZERO: tl.constexpr):
    # one step of the scan: (H[t], V[t]) from V[t-1] and X[t]
    h = _lif_charge(v, x, tau, decay, v_reset, DECAY_INPUT, RESET_ZERO)
    return h, _lif_reset(h, v_threshold, v_reset, SOFT)


@triton.jit
def _lif_forward_kernel(x_ptr, s_ptr, T, N, tau, decay, v_threshold, v_reset,
                        SOFT: tl.constexpr, DECAY_INPUT: tl.constexpr,
                        RESET_ZERO: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    xp = x_ptr + offs
    sp = s_ptr + offs
    v = _lif_initial_membrane(v_reset, SOFT, BLOCK)
    for _ in range(T):
        x = tl.load(xp, mask=mask, other=0.).to(tl.float32)
        h, v = _lif_step(v, x, tau, decay, v_threshold, v_reset, SOFT,
                         DECAY_INPUT, RESET_ZERO)
        s = (h - v_threshold >= 0.).to(tl.float32)
        tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
        # pointer steps stay 64-bit: t·N may pass 2^31
        xp += N
        sp += N


@triton.jit
def _lif_backward_kernel(x_ptr, g_ptr, gx_ptr, h_ptr, T, N, tau, decay,
                         v_threshold, v_reset, c0, c1,
                         SOFT: tl.constexpr, DECAY_INPUT: tl.constexpr,
                         RESET_ZERO: tl.constexpr, DETACH: tl.constexpr,
                         SURROGATE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    # 1) the forward scan again, H[t] into the float32 scratch
    xp = x_ptr + offs
    hp = h_ptr + offs
    gp = g_ptr + offs
    gxp = gx_ptr + offs
    v = _lif_initial_membrane(v_reset, SOFT, BLOCK)
    for _ in range(T):
        x = tl.load(xp, mask=mask, other=0.).to(tl.float32)
        h, v = _lif_step(v, x, tau, decay, v_threshold, v_reset, SOFT,
                         DECAY_INPUT, RESET_ZERO)
        tl.store(hp, h, mask=mask)
        # all pointers walk to step T together (64-bit, unlike t·N)
        xp += N
        hp += N
        gp += N
        gxp += N
    # 2) backwards in time (functional._lif_backward_scan):
    # dL/dH[t] = dL/dS[t]·σ'(t) + dL/dH[t+1]·dV[t]/dH[t]·(1 - 1/tau)
    hp -= N
    gp -= N
    gxp -= N
    grad_h = tl.zeros([BLOCK], tl.float32)  # dL/dH[t+1], 0 after T-1
    for _ in range(T):
        h = tl.load(hp, mask=mask, other=0.)
        g = tl.load(gp, mask=mask, other=0.).to(tl.float32)
        hs = h - v_threshold
        sg = _surrogate(hs, c0, c1, SURROGATE)
        if SOFT:
            if DETACH:
                dvdh = tl.full([BLOCK], 1., tl.float32)
            else:
                dvdh = 1. - v_threshold * sg
        else:
            keep = (hs < 0.).to(tl.float32)
            if DETACH:
                dvdh = keep
            else:
                dvdh = keep + (v_reset - h) * sg
        grad_h = g * sg + grad_h * (dvdh * decay)
        if DECAY_INPUT:
            gx = tl.math.div_rn(grad_h, tau)
        else:
            gx = grad_h
        # the scratch may be dL/dX itself: H[t] was read above
        tl.store(gxp, gx.to(gx_ptr.dtype.element_ty), mask=mask)
        hp -= N
        gp -= N
        gxp -= N


# -------------------------------------------------------------- integer LIF
@triton.jit
def _round_half_even(u):
    # torch.round rounds half to even; adding and subtracting 1.5·2^23
    # does exactly that in float32 for |u| < 2^22 (u is clamped to [0, D])
    return (u + 12582912.) - 12582912.


@triton.jit
def _ilif_step(u, s, x, leak, max_level):
    # u[t] = (u[t-1] - s[t-1])·leak + x[t]; s[t] = round(clamp(u[t], 0, D))
    u = (u - s) * leak + x
    return u, _round_half_even(tl.minimum(tl.maximum(u, 0.), max_level))


@triton.jit
def _ilif_forward_kernel(x_ptr, s_ptr, u_ptr, T, N, max_level, leak,
                         STORE_U: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    xp = x_ptr + offs
    sp = s_ptr + offs
    up = u_ptr + offs
    u = tl.zeros([BLOCK], tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    # u[0] = x[0]: (0 - 0)·leak + x[0] is x[0] exactly
    for _ in range(T):
        x = tl.load(xp, mask=mask, other=0.).to(tl.float32)
        u, s = _ilif_step(u, s, x, leak, max_level)
        tl.store(sp, s.to(s_ptr.dtype.element_ty), mask=mask)
        if STORE_U:
            tl.store(up, u, mask=mask)
            up += N
        xp += N
        sp += N


@triton.jit
def _ilif_backward_kernel(x_ptr, g_ptr, gx_ptr, u_ptr, T, N, max_level,
                          leak, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    xp = x_ptr + offs
    up = u_ptr + offs
    gp = g_ptr + offs
    gxp = gx_ptr + offs
    u = tl.zeros([BLOCK], tl.float32)
    s = tl.zeros([BLOCK], tl.float32)
    for _ in range(T):
        x = tl.load(xp, mask=mask, other=0.).to(tl.float32)
        u, s = _ilif_step(u, s, x, leak, max_level)
        tl.store(up, u, mask=mask)
        xp += N
        up += N
        gp += N
        gxp += N
    # straight-through inside [0, D]; s[t-1] is detached in the recurrence
    up -= N
    gp -= N
    gxp -= N
    grad_u = tl.zeros([BLOCK], tl.float32)
    for _ in range(T):
        u = tl.load(up, mask=mask, other=0.)
        g = tl.load(gp, mask=mask, other=0.).to(tl.float32)
        inside = ((u >= 0.) & (u <= max_level)).to(tl.float32)
        grad_u = g * inside + grad_u * leak
        tl.store(gxp, grad_u.to(gx_ptr.dtype.element_ty), mask=mask)
        up -= N
        gp -= N
        gxp -= N


# ---------------------------------------------------------------- launchers
def _grid(n):
    return (triton.cdiv(n, _BLOCK), )


def _check(x, name):
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f'the triton neuron kernels take float32, bfloat16 '
                         f'or float16 {name}; got {x.dtype}')
    return x.contiguous()


def _lif_flags(v_reset, decay_input):
    return dict(SOFT=v_reset is None, DECAY_INPUT=bool(decay_input),
                RESET_ZERO=v_reset is None or v_reset == 0.)


def _scratch(out):
    # float32 outputs double as the membrane scratch (read before written)
    if out.dtype == torch.float32:
        return out
    return torch.empty(out.shape, dtype=torch.float32, device=out.device)


@torch.library.custom_op('mmsvf::lif_triton', mutates_args=())
def _lif_op(x: torch.Tensor, tau: float, v_threshold: float,
            v_reset: Optional[float], decay_input: bool, detach_reset: bool,
            surrogate: str, alpha: float) -> torch.Tensor:
    x = _check(x, 'input')
    s = torch.empty_like(x)
    T = x.shape[0]
    N = x.numel() // T
    if N:
        _lif_forward_kernel[_grid(N)](
            x, s, T, N, tau, 1. - 1. / tau, v_threshold,
            0. if v_reset is None else v_reset,
            BLOCK=_BLOCK, **_lif_flags(v_reset, decay_input), **_LAUNCH)
    return s


@_lif_op.register_fake
def _(x, tau, v_threshold, v_reset, decay_input, detach_reset, surrogate,
      alpha):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.custom_op('mmsvf::lif_triton_backward', mutates_args=())
def _lif_backward_op(grad_s: torch.Tensor, x: torch.Tensor, tau: float,
                     v_threshold: float, v_reset: Optional[float],
                     decay_input: bool, detach_reset: bool, surrogate: str,
                     alpha: float) -> torch.Tensor:
    x = _check(x, 'input')
    grad_s = grad_s.to(x.dtype).contiguous()
    grad_x = torch.empty_like(x)
    T = x.shape[0]
    N = x.numel() // T
    if N:
        _lif_backward_kernel[_grid(N)](
            x, grad_s, grad_x, _scratch(grad_x), T, N, tau, 1. - 1. / tau,
            v_threshold,
            0. if v_reset is None else v_reset,
            *_surrogate_constants(surrogate, alpha),
            DETACH=bool(detach_reset), SURROGATE=surrogate, BLOCK=_BLOCK,
            **_lif_flags(v_reset, decay_input), **_LAUNCH)
    return grad_x


@_lif_backward_op.register_fake
def _(grad_s, x, tau, v_threshold, v_reset, decay_input, detach_reset,
      surrogate, alpha):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _lif_setup_context(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.params = inputs[1:]


def _lif_backward(ctx, grad_s):
    x, = ctx.saved_tensors
    return (_lif_backward_op(grad_s, x, *ctx.params), ) + \
        (None, ) * len(ctx.params)


_lif_op.register_autograd(_lif_backward, setup_context=_lif_setup_context)


@torch.library.custom_op('mmsvf::integer_lif_triton', mutates_args=())
def _ilif_op(x: torch.Tensor, max_level: float,
             leak: float) -> torch.Tensor:
    x = _check(x, 'input')
    s = torch.empty_like(x)
    T = x.shape[0]
    N = x.numel() // T
    if N:
        _ilif_forward_kernel[_grid(N)](x, s, s, T, N, max_level, leak,
                                       STORE_U=False, BLOCK=_BLOCK,
                                       **_LAUNCH)
    return s


@_ilif_op.register_fake
def _(x, max_level, leak):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.custom_op('mmsvf::integer_lif_triton_backward',
                         mutates_args=())
def _ilif_backward_op(grad_s: torch.Tensor, x: torch.Tensor,
                      max_level: float, leak: float) -> torch.Tensor:
    x = _check(x, 'input')
    grad_s = grad_s.to(x.dtype).contiguous()
    grad_x = torch.empty_like(x)
    T = x.shape[0]
    N = x.numel() // T
    if N:
        _ilif_backward_kernel[_grid(N)](x, grad_s, grad_x,
                                        _scratch(grad_x), T, N, max_level,
                                        leak, BLOCK=_BLOCK, **_LAUNCH)
    return grad_x


@_ilif_backward_op.register_fake
def _(grad_s, x, max_level, leak):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _ilif_setup_context(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.params = inputs[1:]


def _ilif_backward(ctx, grad_s):
    x, = ctx.saved_tensors
    return _ilif_backward_op(grad_s, x, *ctx.params), None, None


_ilif_op.register_autograd(_ilif_backward, setup_context=_ilif_setup_context)


# ---------------------------------------------------------------- public API
def lif_triton(x, p: LIFParameters):
    """Spikes of the LIF ``p`` over ``x: [T, ...]`` (the Triton kernels).

    Args:
        x (Tensor): ``[T, ...]`` float32 / bfloat16 / float16, on CUDA (or
            CPU under ``TRITON_INTERPRET=1``).
        p (LIFParameters): the neuron.

    Returns:
        Tensor: spikes ``[T, ...]`` in ``x.dtype``, differentiable.
    """
    # p.surrogate_alpha, looked up in a plain dict: torch.compile cannot
    # read attributes of autograd.Function classes
    alpha = _DEFAULT_ALPHA[p.surrogate] if p.alpha is None else p.alpha
    return _lif_op(x, p.tau, p.v_threshold, p.v_reset, p.decay_input,
                   p.detach_reset, p.surrogate, alpha)


def integer_lif_triton(x, max_level, leak):
    """Integer spikes of the stateful I-LIF over ``x: [T, ...]`` (Triton).

    Same recurrence and straight-through gradient as
    :func:`~.functional.integer_lif_multistep_reference`.
    """
    return _ilif_op(x, float(max_level), float(leak))
