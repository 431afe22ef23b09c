# Copyright (c) mmsvf contributors. All rights reserved.
"""Compact storage of spike tensors kept for backward.

A layer that consumes spikes (a convolution after a neuron, the attention
products) must keep its input for the weight gradient. Autograd keeps it as a
float tensor (4 bytes per element in float32), although only the spike
pattern is information: a binary spike fits in a ``torch.bool``, an integer
spike of I-LIF (``0..D``, ``D <= 255``) in a ``torch.uint8``. This module

* marks the output of a neuron as spikes (:func:`mark_spikes`, called by the
  neuron modules) — a Python attribute on the tensor, free of cost;
* answers whether a tensor (or a view of one) still holds marked spikes
  (:func:`spike_format`), so consumers can choose the compact path without
  inspecting values;
* encodes / decodes spikes losslessly (:func:`encode_spikes`,
  :func:`decode_spikes`): the decoded tensor is bitwise equal to the original,
  so gradients computed from it are the plain path's.

A mark is only trusted while the marked tensor is unmodified (its version
counter equals the one recorded); any in-place change drops back to the plain
path.
"""
from typing import NamedTuple, Optional

import torch

__all__ = ['SpikeFormat', 'mark_spikes', 'spike_format', 'encode_spikes',
           'decode_spikes', 'compact_spike_tensor']

_MARK = '_mmsvf_spike_format'
_CACHE = '_mmsvf_spike_code'
_MAX_LEVEL = 255  # what a uint8 holds


class SpikeFormat(NamedTuple):
    """How spike values are laid out.

    Attributes:
        max_level (int): D: values are integers ``0..D`` (1 = binary).
        normalized (bool): values are ``k / D`` (I-LIF ``normalize=True``).
    """
    max_level: int = 1
    normalized: bool = False


def _root(x):
    return x if x._base is None else x._base


def mark_spikes(s: torch.Tensor, max_level: int = 1,
                normalized: bool = False) -> torch.Tensor:
    """Mark ``s`` (a neuron's output) as spikes and return it.

    The mark is set on ``s``'s base tensor (views share it). Nothing is marked
    while ``torch.compile`` traces, or when ``s`` is a partial view, or when
    ``max_level`` does not fit a uint8.

    Args:
        s (Tensor): spikes with values ``k`` or ``k / D`` (``0 <= k <= D``).
        max_level (int): D. Default 1 (binary).
        normalized (bool): the values are ``k / D``.

    Returns:
        Tensor: ``s`` itself.
    """
    if (torch.compiler.is_compiling() or not isinstance(s, torch.Tensor)
            or not 1 <= int(max_level) <= _MAX_LEVEL):
        return s
    root = _root(s)
    if root.numel() != s.numel():
        return s
    setattr(root, _MARK, (root._version, SpikeFormat(int(max_level),
                                                     bool(normalized))))
    return s


def spike_format(x: torch.Tensor) -> Optional[SpikeFormat]:
    """The :class:`SpikeFormat` of ``x`` if it holds unmodified marked spikes.

    Works on views of a marked tensor (``flatten``, ``reshape`` ...).

    Returns:
        SpikeFormat | None: None when ``x`` is not known to hold spikes.
    """
    if not isinstance(x, torch.Tensor) or torch.compiler.is_compiling():
        return None
    root = _root(x)
    mark = getattr(root, _MARK, None)
    if mark is None or mark[0] != root._version:
        return None
    return mark[1]


def encode_spikes(x: torch.Tensor, fmt: SpikeFormat) -> torch.Tensor:
    """Spikes → ``bool`` (binary) or ``uint8`` (integers ``0..D``)."""
    if fmt.max_level == 1 and not fmt.normalized:
        return x.detach() != 0
    x = x.detach()
    if fmt.normalized:
        x = torch.round(x * fmt.max_level)
    return x.to(torch.uint8)


def decode_spikes(code: torch.Tensor, fmt: SpikeFormat,
                  dtype: torch.dtype) -> torch.Tensor:
    """Inverse of :func:`encode_spikes`; bitwise equal to the original."""
    x = code.to(dtype)
    if fmt.normalized:
        # the neuron computed ``s / D`` in this dtype: the same operation
        x = x / fmt.max_level
    return x


def compact_spike_tensor(x: torch.Tensor,
                         fmt: SpikeFormat) -> torch.Tensor:
    """The encoded form of ``x`` (a view of marked spikes), shared between
    all consumers of the same spikes.

    The first consumer encodes the whole base tensor once and caches the code
    on it; every consumer then gets a view of that code with ``x``'s layout,
    so ``q_conv``, ``k_conv`` and ``v_conv`` reading the same spikes keep one
    byte per spike in total, not one each.
    """
    root = _root(x)
    if not root.is_contiguous():
        return encode_spikes(x, fmt)
    cached = getattr(root, _CACHE, None)
    if cached is None or cached[0] != root._version or cached[1] != fmt:
        cached = (root._version, fmt, encode_spikes(root, fmt))
        setattr(root, _CACHE, cached)
    code = cached[2]
    return code.as_strided(x.shape, x.stride(),
                           x.storage_offset() - root.storage_offset())
