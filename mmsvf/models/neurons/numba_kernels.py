# Copyright (c) mmsvf contributors. All rights reserved.
"""Fused CPU kernels for the LIF scans (Numba, parallel over neurons).

Forward: reads the input ``X`` once and writes the spikes ``S`` — nothing
else. Backward: reads ``X`` and ``dL/dS`` and writes ``dL/dX``; it re-runs the
(cheap) forward scan for a block of neurons into a scratch buffer that stays
in L2, then walks time backwards through it. So nothing but the input is kept
for backward (no ``[T, N]`` membrane tensor is allocated), and a forward +
backward pass streams five ``[T, N]`` tensors: X, S, X again, dL/dS, dL/dX.

The neurons are split into contiguous chunks that the threads
(``torch.get_num_threads()``) take from a shared queue; the kernels release
the GIL. Inside a chunk a kernel takes a block of neurons at a time and walks
time inside it, so the running state stays in cache. Every inner loop is a
flag-free, vectorisable loop over the block; the option flags (reset mode,
``decay_input``, ``detach_reset``, surrogate) are runtime arguments tested
*outside* those loops, so one compiled kernel per dtype covers every option
combination. The
kernels are plain ``@njit(cache=True)`` functions (no ``parallel=True``, whose
compilation costs several times more): the first call in a fresh checkout
compiles them in a few seconds per dtype, later processes load them from the
on-disk cache.

Exactness: the forward arithmetic is done in the tensor's dtype with the same
operation order as the reference path, so spikes are bit-identical. A division
by ``tau`` is replaced by a multiplication only when ``1/tau`` is exact
(``tau`` a power of two), which gives the same correctly rounded result. The
backward arithmetic may fuse multiply-adds (FMA). The sigmoid
surrogate uses a vectorisable ``exp`` (range reduction + polynomial, ``2^n``
built from its bit pattern) accurate to about one ulp, so gradients agree with
the reference to float rounding.
"""
import collections
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from llvmlite import ir
    from numba import njit
    from numba.core import types
    from numba.extending import intrinsic, overload
    NUMBA_AVAILABLE = True
except ImportError:  # pragma: no cover - numba is a runtime requirement
    NUMBA_AVAILABLE = False

__all__ = ['NUMBA_AVAILABLE', 'lif_forward', 'lif_backward', 'block_size']

#: bytes of per-block backward scratch (``T x block`` membrane values)
_SCRATCH_BYTES = 256 * 1024
_MIN_BLOCK, _MAX_BLOCK = 256, 8192
#: neurons per forward block (only the running membrane is kept per block;
#: long contiguous rows keep the hardware prefetchers busy)
FORWARD_BLOCK = 8192

# charge formulas (the reference's ``_charge``), chosen outside the kernels
_DECAY_INPUT = 0  # h = v + (x - (v - v_reset)) / tau   (v_reset 0 is exact)
_LEAK = 1  # h = v * (1 - 1/tau) + x                    (v_reset 0 or soft)
_LEAK_RESET = 2  # h = v - (v - v_reset) / tau + x
#: surrogates written out in ``_backward_step``
_KERNEL_SURROGATES = ('sigmoid', 'atan')


def block_size(T, itemsize):
    """Neurons per backward block: ``T x block`` scratch values of
    ``itemsize`` bytes take about ``_SCRATCH_BYTES`` (L2-sized)."""
    block = _SCRATCH_BYTES // max(1, T * itemsize)
    block = max(_MIN_BLOCK, min(_MAX_BLOCK, block))
    return block - block % 64


def _exp_stub(x):  # pragma: no cover - only its Numba overload is used
    raise NotImplementedError


if NUMBA_AVAILABLE:

    @intrinsic
    def _f32_from_bits(typingctx, bits):
        """Reinterpret an int32 bit pattern as a float32 (vectorisable)."""
        if bits != types.int32:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())

        return types.float32(types.int32), codegen

    @intrinsic
    def _f64_from_bits(typingctx, bits):
        """Reinterpret an int64 bit pattern as a float64 (vectorisable)."""
        if bits != types.int64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return types.float64(types.int64), codegen

    @overload(_exp_stub, inline='always')
    def _exp_overload(x):
        """Branch-free ``exp`` that LLVM vectorises.

        ``exp(x) = 2^n · exp(r)``, ``n = round(x / ln 2)`` (rounded with the
        1.5·2^p "magic number" trick), ``r = x - n·ln 2`` in two parts (Cody
        and Waite), ``exp(r)`` by a polynomial (Cephes ``expf`` minimax for
        float32, Taylor to degree 13 for float64), and ``2^n`` from its bit
        pattern. About one ulp; arguments are clamped so that no overflow or
        denormal scale occurs (``sigmoid`` saturates there anyway).
        """
        if x == types.float32:

            def impl(x):
                x = min(max(x, np.float32(-87.0)), np.float32(88.0))
                magic = np.float32(12582912.0)  # 1.5 * 2**23
                nf = (x * np.float32(1.44269504088896341) + magic) - magic
                r = x - nf * np.float32(0.693359375)
                r = r - nf * np.float32(-2.12194440e-4)
                z = r * r
                p = np.float32(1.9875691500e-4)
                p = p * r + np.float32(1.3981999507e-3)
                p = p * r + np.float32(8.3334519073e-3)
                p = p * r + np.float32(4.1665795894e-2)
                p = p * r + np.float32(1.6666665459e-1)
                p = p * r + np.float32(5.0000001201e-1)
                p = p * z + r + np.float32(1.0)
                bits = np.int32((np.int32(nf) + np.int32(127)) << 23)
                return p * _f32_from_bits(bits)

            return impl
        if x == types.float64:

            def impl(x):
                x = min(max(x, -708.0), 708.0)
                magic = 6755399441055744.0  # 1.5 * 2**52
                nf = (x * 1.4426950408889634 + magic) - magic
                r = x - nf * 6.93147180369123816490e-01
                r = r - nf * 1.90821492927058770002e-10
                p = 1.0 / 6227020800.0
                p = p * r + 1.0 / 479001600.0
                p = p * r + 1.0 / 39916800.0
                p = p * r + 1.0 / 3628800.0
                p = p * r + 1.0 / 362880.0
                p = p * r + 1.0 / 40320.0
                p = p * r + 1.0 / 5040.0
                p = p * r + 1.0 / 720.0
                p = p * r + 1.0 / 120.0
                p = p * r + 1.0 / 24.0
                p = p * r + 1.0 / 6.0
                p = p * r + 0.5
                p = p * r + 1.0
                p = p * r + 1.0
                bits = np.int64((np.int64(nf) + np.int64(1023)) << 52)
                return p * _f64_from_bits(bits)

            return impl
        return None

    # error_model='numpy': IEEE division without Python's zero check, which
    # would otherwise keep every loop with a division from vectorising
    @njit(nogil=True, cache=True, error_model='numpy')
    def _scan_step(xr, v, out, mode, use_inv, tau, inv_tau, decay, vth,
                   v_reset, soft, spikes):
        """One time step for a block: charge, fire, reset ``v`` in place.

        ``out`` receives the spikes (``spikes=True``) or the pre-spike
        membrane ``H``. The charge formula is picked outside the loops; each
        loop is the reference's order of operations, so ``H`` is bit-exact.
        """
        one = xr.dtype.type(1.0)
        zero = xr.dtype.type(0.0)
        if mode == 0 and use_inv:
            for i in range(v.shape[0]):
                vi = v[i]
                h = vi + (xr[i] - (vi - v_reset)) * inv_tau
                fired = h >= vth
                v[i] = (h - vth if soft else v_reset) if fired else h
                out[i] = (one if fired else zero) if spikes else h
        elif mode == 0:
            for i in range(v.shape[0]):
                vi = v[i]
                h = vi + (xr[i] - (vi - v_reset)) / tau
                fired = h >= vth
                v[i] = (h - vth if soft else v_reset) if fired else h
                out[i] = (one if fired else zero) if spikes else h
        elif mode == 1:
            for i in range(v.shape[0]):
                h = v[i] * decay + xr[i]
                fired = h >= vth
                v[i] = (h - vth if soft else v_reset) if fired else h
                out[i] = (one if fired else zero) if spikes else h
        elif use_inv:
            for i in range(v.shape[0]):
                vi = v[i]
                h = vi - (vi - v_reset) * inv_tau + xr[i]
                fired = h >= vth
                v[i] = (h - vth if soft else v_reset) if fired else h
                out[i] = (one if fired else zero) if spikes else h
        else:
            for i in range(v.shape[0]):
                vi = v[i]
                h = vi - (vi - v_reset) / tau + xr[i]
                fired = h >= vth
                v[i] = (h - vth if soft else v_reset) if fired else h
                out[i] = (one if fired else zero) if spikes else h

    # gradients need no bit-exactness: let LLVM fuse multiply-adds (FMA)
    @njit(nogil=True, cache=True, error_model='numpy',
          fastmath={'contract'})
    def _backward_step(hr, gsr, gxr, gnext, g, vth, v_reset, decay, soft,
                       detach_reset, out_scale, atan, alpha, atan_scale,
                       half_alpha):
        """dL/dX[t] of a block from H[t], dL/dS[t] and ``gnext`` =
        dL/dH[t+1]; ``gnext`` becomes dL/dH[t]. ``g`` is scratch."""
        one = hr.dtype.type(1.0)
        zero = hr.dtype.type(0.0)
        L = gnext.shape[0]
        if detach_reset and not soft and not atan:
            # the default neuron (hard reset, detached, sigmoid) in one pass:
            # no scratch round trip for the surrogate derivative (~10 %
            # faster backward at T = 32)
            for i in range(L):
                e = _exp_stub(-((hr[i] - vth) * alpha))
                sig = one / (one + e)
                keep = decay if hr[i] < vth else zero
                gh = gsr[i] * ((one - sig) * sig * alpha) + gnext[i] * keep
                gnext[i] = gh
                gxr[i] = gh * out_scale
            return
        # surrogate derivative at H - v_threshold (reference formulas)
        if atan:
            for i in range(L):
                z = (hr[i] - vth) * atan_scale
                g[i] = (one / (one + z * z)) * half_alpha
        else:
            for i in range(L):
                e = _exp_stub(-((hr[i] - vth) * alpha))
                sig = one / (one + e)
                g[i] = (one - sig) * sig * alpha
        # dL/dH[t] = dL/dS[t]·sg + dL/dH[t+1]·dV[t]/dH[t]·(1 - 1/tau);
        # dL/dX[t] = dL/dH[t]·dH/dX
        if soft and detach_reset:
            for i in range(L):
                gh = gsr[i] * g[i] + gnext[i] * decay
                gnext[i] = gh
                gxr[i] = gh * out_scale
        elif soft:
            for i in range(L):
                gh = gsr[i] * g[i] + gnext[i] * ((one - vth * g[i]) * decay)
                gnext[i] = gh
                gxr[i] = gh * out_scale
        elif detach_reset:
            for i in range(L):
                keep = decay if hr[i] < vth else zero
                gh = gsr[i] * g[i] + gnext[i] * keep
                gnext[i] = gh
                gxr[i] = gh * out_scale
        else:
            for i in range(L):
                keep = one if hr[i] < vth else zero
                gh = gsr[i] * g[i] + gnext[i] * (
                    (keep + (v_reset - hr[i]) * g[i]) * decay)
                gnext[i] = gh
                gxr[i] = gh * out_scale

    @njit(nogil=True, cache=True, error_model='numpy')
    def _forward_range(x, s_out, n0, n1, block, mode, use_inv, tau, inv_tau,
                       decay, vth, v_reset, soft):
        """Forward scan of neurons ``[n0, n1)``, block by block: spikes."""
        v = np.empty(min(block, n1 - n0), dtype=x.dtype)
        for start in range(n0, n1, block):
            stop = min(start + block, n1)
            vb = v[:stop - start]
            vb[:] = v_reset
            for t in range(x.shape[0]):
                _scan_step(x[t, start:stop], vb, s_out[t, start:stop], mode,
                           use_inv, tau, inv_tau, decay, vth, v_reset, soft,
                           True)

    @njit(nogil=True, cache=True, error_model='numpy')
    def _backward_range(x, grad_s, grad_x, n0, n1, block, mode, use_inv, tau,
                        inv_tau, decay, vth, v_reset, soft, detach_reset,
                        out_scale, atan, alpha, atan_scale, half_alpha):
        """Backward scan of neurons ``[n0, n1)``, block by block."""
        T = x.shape[0]
        width = min(block, n1 - n0)
        h_buf = np.empty((T, width), dtype=x.dtype)
        v_buf = np.empty(width, dtype=x.dtype)
        g_buf = np.empty(width, dtype=x.dtype)
        for start in range(n0, n1, block):
            stop = min(start + block, n1)
            L = stop - start
            v = v_buf[:L]
            # 1. recompute the pre-spike membrane H of this block (in L2);
            # rows as h_buf[t, :L] keep a C-contiguous type (vectorised),
            # h_buf[:, :L][t] would be a strided 'A' array
            v[:] = v_reset
            for t in range(T):
                _scan_step(x[t, start:stop], v, h_buf[t, :L], mode, use_inv,
                           tau, inv_tau, decay, vth, v_reset, soft, False)
            # 2. walk time backwards; v now carries dL/dH[t+1]
            v[:] = 0
            for t in range(T - 1, -1, -1):
                _backward_step(h_buf[t, :L], grad_s[t, start:stop],
                               grad_x[t, start:stop], v, g_buf[:L], vth,
                               v_reset, decay, soft, detach_reset, out_scale,
                               atan, alpha, atan_scale, half_alpha)


#: below this many elements a call runs on the calling thread only
PARALLEL_MIN_ELEMENTS = 1 << 15
#: work chunks per thread (dynamic load balancing on a shared machine)
CHUNKS_PER_THREAD = 4
_pool = {'pid': None, 'executor': None, 'workers': 0}
_pool_lock = threading.Lock()


def _executor(workers):
    """A thread pool of ``workers`` threads, recreated after a fork."""
    with _pool_lock:
        if _pool['pid'] != os.getpid() or _pool['workers'] < workers:
            if _pool['pid'] == os.getpid():
                _pool['executor'].shutdown(wait=False)
            _pool['executor'] = ThreadPoolExecutor(
                workers, thread_name_prefix='mmsvf-lif')
            _pool['pid'], _pool['workers'] = os.getpid(), workers
        return _pool['executor']


def _parallel_over_neurons(fn, T, N, block, args_before, args_after):
    """Run ``fn(*args_before, n0, n1, block, *args_after)`` over ``[0, N)``.

    The neurons are cut into ``CHUNKS_PER_THREAD`` contiguous chunks (of a
    multiple of 64 neurons) per thread (``torch.get_num_threads()``); the
    calling thread and ``threads - 1`` pool threads take chunks from a shared
    queue until it is empty (the kernels release the GIL), so a thread that
    another process keeps off its core delays at most one chunk. Small inputs
    run on the calling thread.
    """
    import torch
    threads = min(torch.get_num_threads(), (N + 63) // 64)
    if threads <= 1 or T * N < PARALLEL_MIN_ELEMENTS:
        fn(*args_before, 0, N, block, *args_after)
        return
    chunks = min(threads * CHUNKS_PER_THREAD, (N + 63) // 64)
    per = ((N + chunks - 1) // chunks + 63) // 64 * 64
    queue = collections.deque((lo, min(lo + per, N))
                              for lo in range(0, N, per))

    def work():
        while True:
            try:
                lo, hi = queue.popleft()  # atomic under the GIL
            except IndexError:
                return
            fn(*args_before, lo, hi, block, *args_after)

    pool = _executor(threads - 1)
    futures = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        if queue:  # an error here: let the pool threads finish quickly
            queue.clear()
        for future in futures:
            future.result()


def _charge_args(p, f):
    """Scalars shared by both kernels from :class:`LIFParameters` ``p``,
    cast to the tensor's dtype ``f``."""
    if p.decay_input:
        mode = _DECAY_INPUT
    elif p.v_rest == 0.0:
        mode = _LEAK
    else:
        mode = _LEAK_RESET
    mantissa, _ = math.frexp(p.tau)
    use_inv = mantissa == 0.5  # tau = 2^k: x * (1/tau) == x / tau exactly
    # ``1 - 1/tau`` in double then cast, as torch does with a Python scalar
    return (mode, use_inv, f(p.tau), f(1.0 / p.tau), f(1.0 - 1.0 / p.tau),
            p.soft_reset, f(p.v_rest))


def _as_2d(tensor):
    """``[T, ...]`` contiguous CPU tensor -> ``[T, N]`` numpy view."""
    T = tensor.shape[0]
    return tensor.detach().numpy().reshape(T, tensor.numel() // T)


def lif_forward(x, p):
    """Spikes of a multi-step LIF.

    Args:
        x (torch.Tensor): ``[T, ...]`` contiguous CPU float32/float64 input.
        p (LIFParameters): the neuron.

    Returns:
        torch.Tensor: spikes shaped like ``x``, in ``x.dtype``.
    """
    import torch
    s = torch.empty_like(x)
    xn = _as_2d(x)
    f = xn.dtype.type
    mode, use_inv, tau, inv, decay, soft, vr = _charge_args(p, f)
    T, N = xn.shape
    _parallel_over_neurons(
        _forward_range, T, N, FORWARD_BLOCK, (xn, _as_2d(s)),
        (mode, use_inv, tau, inv, decay, f(p.v_threshold), vr, soft))
    return s


def lif_backward(grad_s, x, p):
    """``dL/dX`` of a multi-step LIF from ``dL/dS`` and the saved input.

    Args:
        grad_s (torch.Tensor): contiguous, shaped and typed like ``x``.
        x (torch.Tensor): ``[T, ...]`` the forward input (contiguous).
        p (LIFParameters): the neuron.

    Returns:
        torch.Tensor: ``dL/dX`` shaped like ``x``.
    """
    import torch
    grad_x = torch.empty_like(x)
    xn = _as_2d(x)
    f = xn.dtype.type
    if p.surrogate not in _KERNEL_SURROGATES:
        raise ValueError(f'the Numba LIF kernels implement the '
                         f'{_KERNEL_SURROGATES} surrogates, not '
                         f'{p.surrogate!r}; use backend "torch"')
    mode, use_inv, tau, inv, decay, soft, vr = _charge_args(p, f)
    alpha = p.surrogate_alpha
    T, N = xn.shape
    _parallel_over_neurons(
        _backward_range, T, N, block_size(T, xn.itemsize),
        (xn, _as_2d(grad_s), _as_2d(grad_x)),
        (mode, use_inv, tau, inv, decay, f(p.v_threshold), vr, soft,
         p.detach_reset, inv if p.decay_input else f(1.0),
         p.surrogate == 'atan', f(alpha), f(math.pi / 2 * alpha),
         f(alpha / 2)))
    return grad_x
