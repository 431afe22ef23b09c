# Copyright (c) mmsvf contributors. All rights reserved.
"""Linear-order spike attention products (SPEC §3.5, §4.2).

Both functions evaluate right to left, ``Q·(KᵀV)``: the ``d × d`` matrix
``KᵀV`` is formed per head and the ``N × N`` score matrix never is, so the
cost is ``O(N·d²)`` — linear in the number of tokens ``N = T·H·W``.
"""
import torch
from torch import nn

from ..neurons.spike_storage import (
    compact_spike_tensor,
    decode_spikes,
    spike_format,
)

__all__ = ['hamming_attention', 'dot_attention', 'SpikeLinearAttention',
           'causal_hamming_attention', 'causal_dot_attention',
           'causal_attention_step', 'SpikeCausalLinearAttention']


def hamming_attention(q, k, v):
    """Un-normalised Hamming attention of binary spikes.

    ``Σ_j ((2q_i − 1)·(2k_j − 1)) v_j`` for every query ``i``, computed as
    ``(2q − 1) · ((2k − 1)ᵀ v)``. Since ``(2q−1)·(2k−1) = d − 2·d_H(q, k)``,
    this is ``2d·(f_H − ½)`` weighted sums of values, ``f_H`` the normalised
    Hamming similarity. Scaling is the caller's.

    Args:
        q, k, v (Tensor): spikes in ``{0, 1}`` of shape ``(..., N, d)``.

    Returns:
        Tensor: ``(..., N, d)``.
    """
    kv = (2 * k - 1).transpose(-2, -1) @ v
    return (2 * q - 1) @ kv


def dot_attention(q, k, v):
    """Spike dot-product attention ``q·(kᵀv)`` (Meta-SpikeFormer SDSA).

    Args:
        q, k, v (Tensor): spikes of shape ``(..., N, d)``.

    Returns:
        Tensor: ``(..., N, d)``.
    """
    return q @ (k.transpose(-2, -1) @ v)


class _CompactAttentionFunction(torch.autograd.Function):
    """``fn(q, k, v) * scale`` keeping ``q, k, v`` as bool/uint8 codes.

    Backward decodes the bitwise-equal float spikes and differentiates the
    same products again (the two ``O(N·d²)`` matmuls are recomputed, a small
    cost next to the projections), so the gradients are the plain path's.
    """

    @staticmethod
    def forward(ctx, q, k, v, codes, fmts, fn, scale):
        ctx.save_for_backward(*codes)
        ctx.conf = (fmts, q.dtype, fn, scale)
        return fn(q, k, v) * scale

    @staticmethod
    def backward(ctx, grad_out):
        fmts, dtype, fn, scale = ctx.conf
        needs = ctx.needs_input_grad[:3]
        inputs = [decode_spikes(c, f, dtype).requires_grad_(n)
                  for c, f, n in zip(ctx.saved_tensors, fmts, needs)]
        with torch.enable_grad(), torch.autocast(grad_out.device.type,
                                                 enabled=False):
            out = fn(*inputs) * scale
            wanted = [t for t, n in zip(inputs, needs) if n]
            grads = iter(torch.autograd.grad(out, wanted, grad_out))
        return tuple(next(grads) if n else None for n in needs) + \
            (None, ) * 4


class SpikeLinearAttention(nn.Module):
    """Parameter-free module around the two products, a hook point.

    Wrapping the products in a module lets analysis tools (energy, purity
    check) see ``q, k, v`` with ordinary forward hooks. The forward inputs
    ``(q, k, v)`` (positional or by these names) and :attr:`similarity` are
    its counting interface: :class:`mmsvf.analysis.OperationCounter` records
    each call as the two products ``KᵀV`` and ``Q·(KᵀV)`` and counts nothing
    inside the module, so a change here must keep both.

    The products run in float32 even under autocast (in float64 for float64
    inputs): their entries are integer sums over up to ``N`` tokens, which
    fp16/bf16 would round.

    With ``compact_spikes`` (default) and marked spike inputs (neuron outputs,
    see :func:`~mmsvf.models.neurons.mark_spikes`), backward keeps ``q, k, v``
    as ``bool`` (binary) / ``uint8`` (integer) codes instead of float tensors;
    outputs and gradients are unchanged.

    Args:
        similarity (str): ``'hamming'`` or ``'dot'``.
        scale (float): multiplies the result.

    Shapes:
        ``q, k, v: (..., N, d)`` → ``(..., N, d)``.
    """

    def __init__(self, similarity='hamming', scale=1.0):
        super().__init__()
        if similarity not in ('hamming', 'dot'):
            raise ValueError(f"similarity must be 'hamming' or 'dot', got "
                             f'{similarity!r}')
        self.similarity = similarity
        self.scale = scale
        self.compact_spikes = True

    def _formats(self, q, k, v):
        if not (self.compact_spikes and torch.is_grad_enabled() and any(
                t.requires_grad for t in (q, k, v))):
            return None
        fmts = [spike_format(t) for t in (q, k, v)]
        return None if None in fmts else fmts

    def forward(self, q, k, v):
        dtype = q.dtype
        fn = hamming_attention if self.similarity == 'hamming' \
            else dot_attention
        fmts = self._formats(q, k, v)
        codes = None if fmts is None else [
            compact_spike_tensor(t, f) for t, f in zip((q, k, v), fmts)]
        # float32 at least (exact integer sums under autocast); float64
        # inputs stay float64
        work = torch.promote_types(dtype, torch.float32)
        with torch.autocast(q.device.type, enabled=False):
            q, k, v = q.to(work), k.to(work), v.to(work)
            if codes is None:
                out = fn(q, k, v) * self.scale
            else:
                out = _CompactAttentionFunction.apply(q, k, v, codes, fmts,
                                                      fn, self.scale)
        return out.to(dtype)

    def extra_repr(self):
        return f'similarity={self.similarity}, scale={self.scale:g}'


# --------------------------------------------------------------------------
# Causal (frame-cumulative) products
# --------------------------------------------------------------------------
def causal_hamming_attention(q, k, v):
    """Hamming attention where the queries of frame ``t`` see frames ``≤ t``.

    ``out[t] = (2q_t − 1) · Σ_{t' ≤ t} (2k_{t'} − 1)ᵀ v_{t'}``: the ``d × d``
    matrices of every frame are summed cumulatively over the leading (time)
    axis, so no ``N × N`` matrix is formed and the cost stays
    ``O(T·N·d²)``. With ``T = 1`` this is :func:`hamming_attention`.

    Args:
        q, k, v (Tensor): spikes of shape ``(T, ..., N, d)``, time first.

    Returns:
        Tensor: ``(T, ..., N, d)``.
    """
    kv = torch.cumsum((2 * k - 1).transpose(-2, -1) @ v, dim=0)
    return (2 * q - 1) @ kv


def causal_dot_attention(q, k, v):
    """``out[t] = q_t · Σ_{t' ≤ t} k_{t'}ᵀ v_{t'}`` over ``(T, ..., N, d)``.

    The dot-similarity counterpart of :func:`causal_hamming_attention`.
    """
    return q @ torch.cumsum(k.transpose(-2, -1) @ v, dim=0)


def causal_attention_step(q, k, v, kv=None, similarity='hamming'):
    """One frame of the causal products, carrying the running ``KᵀV``.

    The recurrence of :func:`causal_hamming_attention` /
    :func:`causal_dot_attention`: ``kv ← kv + (2k − 1)ᵀ v`` (``kᵀv`` for
    dot), then ``out = (2q − 1) · kv`` (``q · kv``). Frame after frame it
    adds the same per-frame matrices in the same order as the cumulative
    sum, so the outputs equal the whole-clip products frame by frame.

    Args:
        q, k, v (Tensor): spikes of one frame, ``(..., N, d)``.
        kv (Tensor | None): the running sum ``(..., d, d)`` of the frames
            before; None before the first frame.
        similarity (str): ``'hamming'`` or ``'dot'``.

    Returns:
        tuple: ``out (..., N, d)`` and the new running sum ``(..., d, d)``.
    """
    if similarity == 'hamming':
        q, k = 2 * q - 1, 2 * k - 1
    elif similarity != 'dot':
        raise ValueError(f"similarity must be 'hamming' or 'dot', got "
                         f'{similarity!r}')
    frame_kv = k.transpose(-2, -1) @ v
    kv = frame_kv if kv is None else kv + frame_kv
    return q @ kv, kv


class SpikeCausalLinearAttention(SpikeLinearAttention):
    """:class:`SpikeLinearAttention` with frame-causal products.

    Takes time-first tokens ``(T, ..., N, d)`` and computes
    :func:`causal_hamming_attention` / :func:`causal_dot_attention` (scaled),
    with the same float32-at-least arithmetic under autocast and the same
    compact (``bool`` / ``uint8``) storage of marked spike inputs for
    backward. For the operation counter it is one call with the ``KᵀV`` and
    ``Q·(KᵀV)`` products of its inputs, like its parent (the cumulative sum
    adds ``T·d²`` additions per head, negligible beside them).

    Shapes:
        ``q, k, v: (T, ..., N, d)`` → ``(T, ..., N, d)``.
    """

    def forward(self, q, k, v):
        dtype = q.dtype
        fn = causal_hamming_attention if self.similarity == 'hamming' \
            else causal_dot_attention
        fmts = self._formats(q, k, v)
        codes = None if fmts is None else [
            compact_spike_tensor(t, f) for t, f in zip((q, k, v), fmts)]
        # exact integer sums under autocast, as the parent
        work = torch.promote_types(dtype, torch.float32)
        with torch.autocast(q.device.type, enabled=False):
            q, k, v = q.to(work), k.to(work), v.to(work)
            if codes is None:
                out = fn(q, k, v) * self.scale
            else:
                out = _CompactAttentionFunction.apply(q, k, v, codes, fmts,
                                                      fn, self.scale)
        return out.to(dtype)

    def step(self, q, k, v, kv=None):
        """One frame ``(..., N, d)`` with the running ``kv`` (see
        :func:`causal_attention_step`); returns ``(out, kv)``."""
        dtype = q.dtype
        work = torch.promote_types(dtype, torch.float32)
        with torch.autocast(q.device.type, enabled=False):
            out, kv = causal_attention_step(q.to(work), k.to(work),
                                            v.to(work), kv, self.similarity)
        return (out * self.scale).to(dtype), kv
