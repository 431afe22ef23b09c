# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike-driven attention modules over ``[T, B, C, H, W]`` (paper §3).

Token layouts (``M`` heads, ``d = C / M``, channel ``c = head·d + j``):

* joint: ``[B, M, T·H·W, d]`` (tokens ordered t, h, w) — the SVF model;
* spatial: ``[T·B, M, H·W, d]`` — per-frame, Meta-SpikeFormer SDSA;
* temporal: ``[B·H·W, M, T, d]`` — per position, across frames.

Hamming similarity: ``(2Q−1)((2K−1)ᵀV) / (2C)`` → ``attn_bn`` → LIF (V_th 1).
Dot similarity: ``Q(KᵀV)·0.125`` → LIF (V_th 0.5), no BN.
"""
import torch
from torch import nn

from ..layers import RepConv, per_frame
from ..neurons import build_neuron, mark_spikes, spike_format
from .core import SpikeCausalLinearAttention, SpikeLinearAttention

__all__ = ['SpikeDrivenAttention', 'FactorizedSpikeAttention',
           'CausalSpikeAttention', 'to_tokens', 'from_tokens',
           'attn_scale_value', 'set_attn_scale', 'remove_attn_bn']

TOKEN_AXES = ('joint', 'spatial', 'temporal')


def to_tokens(x, axis, num_heads):
    """``[T, B, C, H, W]`` → token layout of ``axis`` (see module doc).

    Spike marks (:func:`~mmsvf.models.neurons.mark_spikes`) carry over to
    the token tensor, which is a copy.
    """
    T, B, C, H, W = x.shape
    fmt = spike_format(x)
    x = x.reshape(T, B, num_heads, C // num_heads, H * W)
    if axis == 'joint':  # B, M, T, HW, d
        y = x.permute(1, 2, 0, 4, 3).reshape(B, num_heads, T * H * W, -1)
    elif axis == 'spatial':  # T*B, M, HW, d
        y = x.permute(0, 1, 2, 4, 3).reshape(T * B, num_heads, H * W, -1)
    elif axis == 'temporal':  # B*HW, M, T, d
        y = x.permute(1, 4, 2, 0, 3).reshape(B * H * W, num_heads, T, -1)
    else:
        raise ValueError(f'unknown token axis {axis!r}')
    return y if fmt is None else mark_spikes(y, *fmt)


def from_tokens(y, axis, shape):
    """Inverse of :func:`to_tokens`; ``shape = (T, B, C, H, W)``."""
    T, B, C, H, W = shape
    M = y.shape[1]
    d = C // M
    if axis == 'joint':
        y = y.reshape(B, M, T, H * W, d).permute(2, 0, 1, 4, 3)
    elif axis == 'spatial':
        y = y.reshape(T, B, M, H * W, d).permute(0, 1, 2, 4, 3)
    elif axis == 'temporal':
        y = y.reshape(B, H * W, M, T, d).permute(3, 0, 2, 4, 1)
    else:
        raise ValueError(f'unknown token axis {axis!r}')
    return y.reshape(T, B, C, H, W)


def _projection(dim):
    # Sequential(RepConv, BN): keys `<name>.0.body.*` and `<name>.1.*`
    return nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))


def _attention_tail(dim, similarity, neuron):
    """Scale, optional BN and output neuron for one similarity."""
    if similarity == 'hamming':
        return (1.0 / (2 * dim), nn.BatchNorm2d(dim),
                build_neuron(neuron, v_threshold=1.0))
    if similarity == 'dot':
        return 0.125, None, build_neuron(neuron, v_threshold=0.5)
    raise ValueError(f"similarity must be 'hamming' or 'dot', got "
                     f'{similarity!r}')


class SpikeDrivenAttention(nn.Module):
    """Spike-driven self-attention along one token axis.

    ``head_lif → {q,k,v}_conv (RepConv + BN) → {q,k,v}_lif → linear attention
    → [attn_bn] → attn_lif → proj_conv``. With ``axis='joint'`` and
    ``similarity='hamming'`` this is SDHA, SpikeVideoFormer's attention; with
    ``axis='spatial'`` and ``similarity='dot'`` it is Meta-SpikeFormer's SDSA.
    Parameters: ``8C² + 60C`` (``+ 2C`` for ``attn_bn`` in Hamming mode).

    Args:
        dim (int): channels C.
        num_heads (int): heads M (``C % M == 0``).
        axis (str): ``'joint'``, ``'spatial'`` or ``'temporal'``.
        similarity (str): ``'hamming'`` or ``'dot'``.
        neuron (dict): neuron config (``head_lif``, and the rest when
            ``attn_neuron`` is None).
        attn_neuron (dict | None): neuron of ``q_lif``, ``k_lif``,
            ``v_lif`` and ``attn_lif`` (None: ``neuron``), e.g. binary
            ``dict(type='LIF')`` in an I-LIF network.
        integer_qk (str): how Hamming attention reads integer Q/K
            (:class:`~mmsvf.models.attention.SpikeLinearAttention`).

    Shapes:
        ``[T, B, C, H, W]`` (membrane) → ``[T, B, C, H, W]``.
    """

    def __init__(self, dim, num_heads=8, axis='joint', similarity='hamming',
                 neuron=None, attn_neuron=None, integer_qk='linear'):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads '
                             f'{num_heads}')
        if axis not in TOKEN_AXES:
            raise ValueError(f'axis must be one of {TOKEN_AXES}, got {axis!r}')
        self.dim, self.num_heads, self.axis = dim, num_heads, axis
        self.similarity = similarity
        self.head_lif = build_neuron(neuron)
        self.q_conv, self.k_conv, self.v_conv = (_projection(dim)
                                                 for _ in range(3))
        inner = neuron if attn_neuron is None else attn_neuron
        self.q_lif, self.k_lif, self.v_lif = (build_neuron(inner)
                                              for _ in range(3))
        scale, attn_bn, self.attn_lif = _attention_tail(dim, similarity,
                                                        inner)
        if attn_bn is not None:
            self.attn_bn = attn_bn
        else:
            self.attn_bn = None
        self.attention = SpikeLinearAttention(similarity, scale, integer_qk)
        self.proj_conv = _projection(dim)

    def qkv(self, s, names=('q', 'k', 'v')):
        """Spikes of the projections named in ``names`` from spikes ``s``."""
        return [getattr(self, f'{n}_lif')(per_frame(
            getattr(self, f'{n}_conv'), s)) for n in names]

    def forward(self, x):
        shape = x.shape
        q, k, v = self.qkv(self.head_lif(x))
        y = self.attention(*(to_tokens(t, self.axis, self.num_heads)
                             for t in (q, k, v)))
        y = from_tokens(y, self.axis, shape)
        if self.attn_bn is not None:
            y = per_frame(self.attn_bn, y)
        return per_frame(self.proj_conv, self.attn_lif(y))


class FactorizedSpikeAttention(nn.Module):
    """Spatial and temporal attention inside one module (paper Table 1).

    Separate ``q/k/v`` projections for space (``q_conv``, ...) and time
    (``q_t_conv``, ...), both branches in linear form on the same input
    spikes; their sum goes through ``[attn_bn] → attn_lif`` and one shared
    ``proj_conv``: ``7`` projections, ``O(T·N·d²)``.

    Args:
        dim, num_heads, similarity, neuron, attn_neuron, integer_qk: as
            :class:`SpikeDrivenAttention` (``attn_neuron`` covers the six
            ``*_lif`` of the projections and ``attn_lif``).

    Shapes:
        ``[T, B, C, H, W]`` → ``[T, B, C, H, W]``.
    """

    def __init__(self, dim, num_heads=8, similarity='hamming', neuron=None,
                 attn_neuron=None, integer_qk='linear'):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads '
                             f'{num_heads}')
        self.dim, self.num_heads = dim, num_heads
        self.similarity = similarity
        self.head_lif = build_neuron(neuron)
        inner = neuron if attn_neuron is None else attn_neuron
        for name in ('q', 'k', 'v', 'q_t', 'k_t', 'v_t'):
            setattr(self, f'{name}_conv', _projection(dim))
            setattr(self, f'{name}_lif', build_neuron(inner))
        scale, attn_bn, self.attn_lif = _attention_tail(dim, similarity,
                                                        inner)
        self.attn_bn = attn_bn
        self.attention = SpikeLinearAttention(similarity, scale, integer_qk)
        self.temporal_attention = SpikeLinearAttention(similarity, scale,
                                                       integer_qk)
        self.proj_conv = _projection(dim)

    qkv = SpikeDrivenAttention.qkv

    def forward(self, x):
        shape = x.shape
        s = self.head_lif(x)
        q, k, v = self.qkv(s)
        q_t, k_t, v_t = self.qkv(s, ('q_t', 'k_t', 'v_t'))
        y = from_tokens(
            self.attention(*(to_tokens(t, 'spatial', self.num_heads)
                             for t in (q, k, v))), 'spatial', shape)
        y = y + from_tokens(
            self.temporal_attention(*(to_tokens(t, 'temporal',
                                                self.num_heads)
                                      for t in (q_t, k_t, v_t))),
            'temporal', shape)
        if self.attn_bn is not None:
            y = per_frame(self.attn_bn, y)
        return per_frame(self.proj_conv, self.attn_lif(y))


class CausalSpikeAttention(SpikeDrivenAttention):
    """Joint space-time attention restricted to past and present frames.

    SDHA (:class:`SpikeDrivenAttention` with ``axis='joint'``) where the
    queries of frame ``t`` attend to the keys and values of frames ``≤ t``:
    ``KV_t = Σ_{t' ≤ t} (2K_{t'} − 1)ᵀ V_{t'}`` (``K_{t'}ᵀ V_{t'}`` for dot
    similarity), a cumulative sum of per-frame ``d × d`` matrices
    (:class:`~mmsvf.models.attention.core.SpikeCausalLinearAttention`).
    Every neuron already integrates forward in time, so the whole block is
    causal and can run frame by frame: with a carried state (see
    :func:`~mmsvf.models.neurons.streaming`) each call takes one frame and
    keeps only the running ``KV`` per head, ``B·M·d²`` numbers whatever the
    number of frames seen.

    Same modules, parameters and state-dict keys as the joint attention, so
    a joint checkpoint loads into the causal model.

    Shapes:
        ``[T, B, C, H, W]`` → ``[T, B, C, H, W]``.
    """

    supports_streaming = True

    def __init__(self, dim, num_heads=8, similarity='hamming', neuron=None,
                 attn_neuron=None, integer_qk='linear'):
        if integer_qk != 'linear':
            raise ValueError(
                f"CausalSpikeAttention: integer_qk={integer_qk!r} is not "
                "supported; the causal product reads integer Q/K linearly "
                "(integer_qk='linear')")
        # tokens are laid out per frame (the spatial layout), time first
        super().__init__(dim, num_heads, 'spatial', similarity, neuron,
                         attn_neuron=attn_neuron)
        self.axis = 'causal'
        self.attention = SpikeCausalLinearAttention(
            similarity, self.attention.scale)

    def forward(self, x):
        shape = x.shape
        T, B = shape[:2]
        q, k, v = self.qkv(self.head_lif(x))
        q, k, v = (to_tokens(t, 'spatial', self.num_heads).unflatten(
            0, (T, B)) for t in (q, k, v))
        slot = self.__dict__.get('_stream_slot')
        if slot is None:
            y = self.attention(q, k, v)
        else:  # carried running KᵀV, frame after frame
            state, key = slot
            kv, outs = state.get(key), []
            for t in range(T):
                out, kv = self.attention.step(q[t], k[t], v[t], kv)
                outs.append(out)
            state.set(key, kv)
            y = torch.stack(outs)
        y = from_tokens(y.flatten(0, 1), 'spatial', shape)
        if self.attn_bn is not None:
            y = per_frame(self.attn_bn, y)
        return per_frame(self.proj_conv, self.attn_lif(y))


def attn_scale_value(attn_scale, dim):
    """The factor ``attn_scale`` stands for in an attention of width ``dim``.

    Args:
        attn_scale (str | float): ``'adaptive'``: ``1 / (2·dim)``, the
            paper's ``1/(2D)`` from the normalised Hamming similarity
            (§3.3, Eq. 9-10; ``D`` is the full width ``C``, as in the
            official code); a
            number > 0: that fixed factor (``0.125`` is SDSA's).
        dim (int): channels ``C`` of the attention.

    Returns:
        float: the factor.
    """
    if attn_scale == 'adaptive':
        return 1.0 / (2 * dim)
    if (isinstance(attn_scale, (int, float))
            and not isinstance(attn_scale, bool) and attn_scale > 0):
        return float(attn_scale)
    raise ValueError(f"attn_scale must be 'adaptive' or a number > 0, got "
                     f'{attn_scale!r}')


def set_attn_scale(model, attn_scale):
    """Set the product scale of every attention module under ``model``.

    Every module with an integer ``dim`` and :class:`SpikeLinearAttention`
    children (:class:`SpikeDrivenAttention`, :class:`FactorizedSpikeAttention`
    and any later module of that form) gets
    ``attn_scale_value(attn_scale, module.dim)`` on those children; nothing
    else changes (the Hamming mode's ``attn_bn`` and the neuron thresholds
    stay), which is what the attention-scale ablation compares.

    Returns:
        int: how many products were set.
    """
    count = 0
    for module in model.modules():
        dim = getattr(module, 'dim', None)
        if not isinstance(dim, int):
            continue
        for child in module.children():
            if isinstance(child, SpikeLinearAttention):
                child.scale = attn_scale_value(attn_scale, dim)
                count += 1
    return count


def remove_attn_bn(model):
    """Drop the BatchNorm between the attention product and ``attn_lif``.

    With that BN (the official code's Hamming mode) a constant factor on the
    product cancels in the normalisation, so ``attn_scale`` does nothing
    but move BN's ``eps``; without it the scaled product charges
    ``attn_lif`` directly, the paper's form (§3.3, Eq. 9-10: ``1/(2D)``
    absorbed into the threshold), and the scale matters.

    Returns:
        int: how many BN layers were removed.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, (SpikeDrivenAttention, FactorizedSpikeAttention)
                      ) and module.attn_bn is not None:
            module.attn_bn = None
            count += 1
    return count
