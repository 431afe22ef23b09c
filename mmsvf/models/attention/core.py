# Copyright (c) mmsvf contributors. All rights reserved.
"""Linear-order spike attention products (paper §3).

Both functions evaluate right to left, ``Q·(KᵀV)``: the ``d × d`` matrix
``KᵀV`` is formed per head and the ``N × N`` score matrix never is, so the
cost is ``O(N·d²)`` — linear in the number of tokens ``N = T·H·W``.
"""
import functools

import torch
from torch import nn

from ..neurons.spike_storage import (
    compact_spike_tensor,
    decode_spikes,
    spike_format,
)

__all__ = ['hamming_attention', 'dot_attention', 'SpikeLinearAttention',
           'thermometer_expand', 'expanded_hamming_attention',
           'INTEGER_QK_MODES', 'causal_hamming_attention',
           'causal_dot_attention', 'causal_attention_step',
           'SpikeCausalLinearAttention']

#: how Hamming attention reads integer Q/K spikes (``SpikeLinearAttention``)
INTEGER_QK_MODES = ('linear', 'expand')


def hamming_attention(q, k, v):
    """Un-normalised Hamming attention of binary spikes.

    ``Σ_j ((2q_i − 1)·(2k_j − 1)) v_j`` for every query ``i``, computed as
    ``(2q − 1) · ((2k − 1)ᵀ v)``. Since ``(2q−1)·(2k−1) = d − 2·d_H(q, k)``,
    this is ``2d·(f_H − ½)`` weighted sums of values, ``f_H`` the normalised
    Hamming similarity. Scaling is the caller's.

    The ``±1`` spikes are never formed: expanding with column sums,
    ``(2k − 1)ᵀv = 2·kᵀv − 1ᵀv`` and ``(2q − 1)·M = q·(2M) − 1·(1ᵀM)``,
    so no ``(..., N, d)`` temporary is allocated (or saved for backward)
    beside the inputs and the output, only ``d × d`` matrices and
    ``d``-vectors. On spikes every intermediate is an integer, so the result
    is bit for bit that of :func:`hamming_attention_naive` as long as the
    naive form is exact itself (integer sums below ``2^24`` in float32);
    gradients agree to float rounding (bit for bit where the upstream
    gradient holds integers). Half-precision inputs (which round such sums)
    take the literal form.

    Args:
        q, k, v (Tensor): spikes in ``{0, 1}`` (or small integers) of shape
            ``(..., N, d)``.

    Returns:
        Tensor: ``(..., N, d)``.
    """
    if q.is_floating_point() and torch.finfo(q.dtype).bits < 32:
        # bfloat16 / float16 round integer sums above 2^8 / 2^11, and the
        # two forms would round at different places: keep the literal one
        # (SpikeLinearAttention always calls in float32 or float64)
        return hamming_attention_naive(q, k, v)
    return _HammingFunction.apply(q, k, v)


def _pm_left(a, m):
    """``(2a − 1) @ m`` as ``a @ 2m − 1·(1ᵀm)``, without forming ``2a − 1``.

    ``a: (..., N, d)``, ``m: (..., d, e)`` → ``(..., N, e)``; the in-place
    update is on a fresh matmul output.
    """
    return torch.matmul(a, m * 2).sub_(m.sum(-2, keepdim=True))


def _pm_right_t(a, m):
    """``(2a − 1)ᵀ @ m`` as ``2·aᵀm − (1ᵀm)``, without forming ``2a − 1``.

    ``a: (..., N, d)``, ``m: (..., N, e)`` → ``(..., d, e)``.
    """
    return torch.matmul(a.transpose(-2, -1), m).mul_(2).sub_(
        m.sum(-2, keepdim=True))


class _HammingFunction(torch.autograd.Function):
    """``(2q − 1)·((2k − 1)ᵀv)`` and its gradients, all temporary-free.

    With ``M = (2k − 1)ᵀv`` and ``G = (2q − 1)ᵀ·grad``: ``dq = 2·grad·Mᵀ``,
    ``dk = 2·v·Gᵀ``, ``dv = (2k − 1)·G``: the same column-sum expansion, so
    backward holds the three gradients and ``d × d`` matrices only (the
    literal form also saves ``2q − 1`` and ``2k − 1`` for backward).
    """

    @staticmethod
    def forward(ctx, q, k, v):
        kv = _pm_right_t(k, v)
        ctx.save_for_backward(q, k, v, kv)
        return _pm_left(q, kv)

    @staticmethod
    def backward(ctx, grad):
        q, k, v, kv = ctx.saved_tensors
        need_q, need_k, need_v = ctx.needs_input_grad
        dq = dk = dv = None
        if need_q:
            dq = torch.matmul(grad, kv.transpose(-2, -1) * 2)
        if need_k or need_v:
            g_kv = _pm_right_t(q, grad)
            if need_k:
                dk = torch.matmul(v, g_kv.transpose(-2, -1) * 2)
            if need_v:
                dv = _pm_left(k, g_kv)
        # broadcast batch dimensions: sum the gradient back to each shape
        return tuple(
            None if d is None else _sum_to(d, t.shape)
            for d, t in zip((dq, dk, dv), (q, k, v)))


def _sum_to(grad, shape):
    if grad.shape == shape:
        return grad
    return grad.sum_to_size(shape)


def hamming_attention_naive(q, k, v):
    """:func:`hamming_attention` written as ``(2q − 1) · ((2k − 1)ᵀ v)``.

    The literal form, with its two ``(..., N, d)`` temporaries; kept as the
    reference the fast form is tested and benchmarked against.
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


def thermometer_expand(s, max_level, normalized=False):
    """Integer spikes → ``D`` binary sub-steps per channel (thermometer code).

    Channel ``c`` with value ``s_c ∈ {0..D}`` becomes the ``D`` bits
    ``c·D + j`` (``j = 0..D-1``) with bit ``j`` set iff ``j < s_c``: the
    sub-steps of SpikeYOLO's integer-to-binary conversion
    (:func:`~mmsvf.models.neurons.expand_integer_spikes`), laid along the
    channel axis. Bitwise, ``d_H(q̃, k̃) = ‖q − k‖₁``.

    Backward is straight-through: each bit passes ``1 / D`` of its gradient
    to ``s`` (the bits sum to ``s``, so linear uses of the sum keep their
    gradient).

    Args:
        s (Tensor): ``(..., d)`` values ``0..D`` (``k / D`` if
            ``normalized``).
        max_level (int): D.
        normalized (bool): ``s`` holds ``k / D``.

    Returns:
        Tensor: ``(..., d·D)`` of 0/1 in ``s.dtype``.
    """
    D = int(max_level)
    level = s * D if normalized else s
    # exact levels even when s / D was rounded in float
    hard = torch.round(level.detach())
    steps = torch.arange(D, device=s.device, dtype=s.dtype)
    bits = (hard.unsqueeze(-1) > steps).to(s.dtype)
    if level.requires_grad:
        bits = bits + ((level - level.detach()) / D).unsqueeze(-1)
    return bits.flatten(-2)


def expanded_hamming_attention(q, k, v, max_level, normalized=False):
    """Hamming attention of integer Q/K over their binary sub-steps.

    ``Q̃, K̃ = thermometer_expand(Q), thermometer_expand(K)`` (``d·D``
    bits per token) and ``(2Q̃ − 1)·((2K̃ − 1)ᵀ V)``: the binary Hamming
    attention of :func:`hamming_attention` on the expanded spikes, so for
    query ``i`` and key ``j``
    ``(2q̃_i − 1)·(2k̃_j − 1) = d·D − 2·‖q_i − k_j‖₁``. V enters linearly
    (its sub-steps sum to its integer value). With ``D = 1`` this is
    :func:`hamming_attention`. Scaling is the caller's.

    Args:
        q, k (Tensor): integer spikes ``(..., N, d)``, values ``0..D`` (or
            ``k / D`` with ``normalized``).
        v (Tensor): spikes ``(..., N, d_v)``.
        max_level (int): D.
        normalized (bool): Q/K hold ``k / D``.

    Returns:
        Tensor: ``(..., N, d_v)``.
    """
    return hamming_attention(thermometer_expand(q, max_level, normalized),
                             thermometer_expand(k, max_level, normalized), v)


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

    Integer Q/K (I-LIF spikes, ``D > 1``, read from their spike marks) in
    Hamming mode, ``integer_qk``:

    * ``'linear'`` (default, what earlier versions computed): the formula
      ``(2Q − 1)·((2K − 1)ᵀV)`` on the integer values; ``2q − 1`` is then
      not ``±1`` and the product is not a Hamming similarity.
    * ``'expand'``: Q and K are expanded to ``D`` binary sub-steps per
      channel (:func:`expanded_hamming_attention`), the Hamming attention of
      the expanded spikes, scaled by an extra ``1 / D`` (the Hamming
      normalisation over ``d·D`` bits). Costs ``D`` times the products.

    Binary Q/K give the same result in both modes.

    Args:
        similarity (str): ``'hamming'`` or ``'dot'``.
        scale (float): multiplies the result.
        integer_qk (str): ``'linear'`` or ``'expand'`` (see above).

    Shapes:
        ``q, k, v: (..., N, d)`` → ``(..., N, d)``.
    """

    def __init__(self, similarity='hamming', scale=1.0, integer_qk='linear'):
        super().__init__()
        if similarity not in ('hamming', 'dot'):
            raise ValueError(f"similarity must be 'hamming' or 'dot', got "
                             f'{similarity!r}')
        if integer_qk not in INTEGER_QK_MODES:
            raise ValueError(f'integer_qk must be one of {INTEGER_QK_MODES}'
                             f', got {integer_qk!r}')
        self.similarity = similarity
        self.scale = scale
        self.integer_qk = integer_qk
        self.compact_spikes = True

    def _formats(self, q, k, v):
        if not (self.compact_spikes and torch.is_grad_enabled() and any(
                t.requires_grad for t in (q, k, v))):
            return None
        fmts = [spike_format(t) for t in (q, k, v)]
        return None if None in fmts else fmts

    def _expansion(self, q, k):
        """``(D, normalized)`` of integer Q/K to expand, else None."""
        if self.similarity != 'hamming' or self.integer_qk != 'expand':
            return None
        fq, fk = spike_format(q), spike_format(k)
        if fq is None or fk is None:
            raise ValueError(
                "SpikeLinearAttention(integer_qk='expand') needs Q and K "
                'marked as spikes (neuron outputs, see mmsvf.models.neurons.'
                'mark_spikes) to know their level D')
        if fq != fk:
            raise ValueError(f'integer_qk=\'expand\': Q and K spike '
                             f'formats differ ({fq} vs {fk})')
        return None if fq.max_level == 1 else fq

    def forward(self, q, k, v):
        dtype = q.dtype
        fn = hamming_attention if self.similarity == 'hamming' \
            else dot_attention
        scale = self.scale
        expand = self._expansion(q, k)
        if expand is not None:
            fn = functools.partial(expanded_hamming_attention,
                                   max_level=expand.max_level,
                                   normalized=expand.normalized)
            scale = scale / expand.max_level
        fmts = self._formats(q, k, v)
        codes = None if fmts is None else [
            compact_spike_tensor(t, f) for t, f in zip((q, k, v), fmts)]
        # float32 at least (exact integer sums under autocast); float64
        # inputs stay float64
        work = torch.promote_types(dtype, torch.float32)
        with torch.autocast(q.device.type, enabled=False):
            q, k, v = q.to(work), k.to(work), v.to(work)
            if codes is None:
                out = fn(q, k, v) * scale
            else:
                out = _CompactAttentionFunction.apply(q, k, v, codes, fmts,
                                                      fn, scale)
        return out.to(dtype)

    def extra_repr(self):
        extra = (', integer_qk=expand' if self.integer_qk == 'expand'
                 else '')
        return (f'similarity={self.similarity}, scale={self.scale:g}'
                f'{extra}')


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
