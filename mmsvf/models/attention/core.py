# Copyright (c) mmsvf contributors. All rights reserved.
"""Linear-order spike attention products (SPEC §3.5, §4.2).

Both functions evaluate right to left, ``Q·(KᵀV)``: the ``d × d`` matrix
``KᵀV`` is formed per head and the ``N × N`` score matrix never is, so the
cost is ``O(N·d²)`` — linear in the number of tokens ``N = T·H·W``.
"""
import torch
from torch import nn

__all__ = ['hamming_attention', 'dot_attention', 'SpikeLinearAttention']


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


class SpikeLinearAttention(nn.Module):
    """Parameter-free module around the two products, a hook point.

    Wrapping the products in a module lets analysis tools (energy, purity
    check) see ``q, k, v`` with ordinary forward hooks. The products run in
    float32 even under autocast: their entries are integer sums over up to
    ``N`` tokens, which fp16/bf16 would round.

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

    def forward(self, q, k, v):
        dtype = q.dtype
        fn = hamming_attention if self.similarity == 'hamming' \
            else dot_attention
        with torch.autocast(q.device.type, enabled=False):
            out = fn(q.float(), k.float(), v.float()) * self.scale
        return out.to(dtype)

    def extra_repr(self):
        return f'similarity={self.similarity}, scale={self.scale:g}'
