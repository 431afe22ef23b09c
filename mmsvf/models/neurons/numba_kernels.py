# Copyright (c) mmsvf contributors. All rights reserved.
"""Fused CPU kernels for the LIF scans (Numba, parallel over neurons).

The forward pass reads the input once and writes the pre-spike membrane ``H``
and the spikes; the backward pass reads ``dL/dS`` and ``H`` and writes
``dL/dX``. Each worker owns a contiguous block of neurons and walks time inside
it, so the running state stays in L1. Arithmetic is done in the tensor's dtype
with the same operation order as the reference path: spikes are bit-identical
and gradients agree up to float rounding (the sigmoid itself is computed by
torch's vectorised kernel, as in the reference).

A kernel is specialised (compiled once per process) for each combination of
reset mode, ``decay_input``, ``detach_reset`` and surrogate, so the inner loops
carry no flags.
"""
import functools
import math

import numpy as np

try:
    from numba import njit, prange
    NUMBA_AVAILABLE = True
except ImportError:  # pragma: no cover - numba is a runtime requirement
    NUMBA_AVAILABLE = False

__all__ = ['NUMBA_AVAILABLE', 'lif_forward', 'lif_backward']

_BLOCK = 2048


@functools.lru_cache(maxsize=None)
def _forward_kernel(soft, reset_zero, decay_input):

    @njit(parallel=True, nogil=True)
    def kernel(x, h_out, s_out, tau, vth, v_reset):
        T, N = x.shape
        one = x.dtype.type(1.0)
        zero = x.dtype.type(0.0)
        nblocks = (N + _BLOCK - 1) // _BLOCK
        for b in prange(nblocks):
            start = b * _BLOCK
            stop = min(start + _BLOCK, N)
            length = stop - start
            v = np.full(length, zero if soft else v_reset, dtype=x.dtype)
            for t in range(T):
                xr = x[t, start:stop]
                hr = h_out[t, start:stop]
                sr = s_out[t, start:stop]
                for i in range(length):
                    vi = v[i]
                    if decay_input:
                        if reset_zero:
                            h = vi + (xr[i] - vi) / tau
                        else:
                            h = vi + (xr[i] - (vi - v_reset)) / tau
                    else:
                        if reset_zero:
                            h = vi * (one - one / tau) + xr[i]
                        else:
                            h = vi - (vi - v_reset) / tau + xr[i]
                    hr[i] = h
                    fired = h >= vth
                    sr[i] = one if fired else zero
                    if soft:
                        v[i] = h - vth if fired else h
                    else:
                        v[i] = v_reset if fired else h

    return kernel


@functools.lru_cache(maxsize=None)
def _backward_kernel(soft, detach_reset, decay_input, atan):

    @njit(parallel=True, nogil=True)
    def kernel(grad_s, h, sig, grad_x, tau, vth, v_reset, alpha):
        T, N = h.shape
        one = h.dtype.type(1.0)
        zero = h.dtype.type(0.0)
        two = h.dtype.type(2.0)
        decay = one - one / tau
        half_pi = h.dtype.type(math.pi / 2)
        nblocks = (N + _BLOCK - 1) // _BLOCK
        for b in prange(nblocks):
            start = b * _BLOCK
            stop = min(start + _BLOCK, N)
            length = stop - start
            gh_next = np.zeros(length, dtype=h.dtype)
            for t in range(T - 1, -1, -1):
                hr = h[t, start:stop]
                gsr = grad_s[t, start:stop]
                gxr = grad_x[t, start:stop]
                sigr = sig[t, start:stop]
                for i in range(length):
                    hv = hr[i]
                    hs = hv - vth
                    if atan:
                        z = half_pi * alpha * hs
                        sg = alpha / two / (one + z * z)
                    else:
                        sgax = sigr[i]
                        sg = (one - sgax) * sgax * alpha
                    if soft:
                        dvdh = one if detach_reset else one - vth * sg
                    else:
                        keep = one if hs < zero else zero
                        dvdh = keep if detach_reset else \
                            keep + (v_reset - hv) * sg
                    gh = gsr[i] * sg + gh_next[i] * (dvdh * decay)
                    gh_next[i] = gh
                    gxr[i] = gh / tau if decay_input else gh

    return kernel


def lif_forward(x, tau, v_threshold, v_reset, decay_input):
    """``x: [T, N]`` contiguous CPU float tensor → ``(H, S)``."""
    import torch
    h = torch.empty_like(x)
    s = torch.empty_like(x)
    xn = x.numpy()
    f = xn.dtype.type
    soft = v_reset is None
    v_reset = 0.0 if soft else v_reset
    kernel = _forward_kernel(soft, v_reset == 0.0, bool(decay_input))
    kernel(xn, h.numpy(), s.numpy(), f(tau), f(v_threshold), f(v_reset))
    return h, s


def lif_backward(grad_s, h, tau, v_threshold, v_reset, detach_reset,
                 decay_input, surrogate, alpha):
    """``dL/dS`` and saved ``H`` (``[T, N]``) → ``dL/dX``."""
    import torch
    grad_x = torch.empty_like(h)
    hn = h.numpy()
    f = hn.dtype.type
    soft = v_reset is None
    kernel = _backward_kernel(soft, bool(detach_reset), bool(decay_input),
                              surrogate == 'atan')
    if surrogate == 'atan':
        sig = h  # unused by the atan kernel
    else:
        # torch's vectorised sigmoid: scalar libm exp inside the kernel
        # would cost ~10x more than the rest of the backward pass
        sig = torch.sub(h, v_threshold).mul_(alpha).sigmoid_()
    kernel(grad_s.numpy(), hn, sig.numpy(), grad_x.numpy(), f(tau),
           f(v_threshold),
           f(0.0 if soft else v_reset), f(alpha))
    return grad_x
