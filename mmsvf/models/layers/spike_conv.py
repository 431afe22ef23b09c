# Copyright (c) mmsvf contributors. All rights reserved.
"""Convolutions over spikes that keep their input for backward as bool.

``nn.Conv2d`` after a neuron keeps its float input (the spikes) for the weight
gradient: 4 bytes per spike in float32. :class:`SpikeConv2d` /
:class:`SpikeConv1d` are drop-in subclasses (same parameters, same state-dict
keys, still ``isinstance`` of ``nn.Conv2d`` / ``nn.Conv1d``) whose forward,
when the input carries a spike mark (:func:`~mmsvf.models.neurons.
mark_spikes`), runs a custom autograd function that keeps the input as a
``bool`` (binary) or ``uint8`` (integer spikes) tensor and rebuilds the exact
float input in backward. The gradients are computed by the same ATen kernel
autograd uses for a convolution (``aten.convolution_backward``) on a bitwise
equal input, so they are bitwise equal to ``nn.Conv2d``'s.

Any other input (real-valued, modified in place, under ``torch.compile``,
without grad) takes ``nn.Conv2d``'s own path.
"""
import torch
from torch import nn

from ..neurons.spike_storage import (
    compact_spike_tensor,
    decode_spikes,
    spike_format,
)

__all__ = ['SpikeConv1d', 'SpikeConv2d', 'autocast_args',
           'set_compact_spikes']


def autocast_args(device_type, *tensors):
    """Cast ``tensors`` as autocast would for a convolution / matmul.

    Returns:
        tuple: ``(enabled, tensors)``; when autocast is enabled for
        ``device_type`` every floating tensor other than float64 is cast to
        the autocast dtype (autocast's own eligibility rule).
    """
    if not torch.is_autocast_enabled(device_type):
        return False, tensors
    dtype = torch.get_autocast_dtype(device_type)
    return True, tuple(
        t.to(dtype) if t is not None and t.is_floating_point()
        and t.dtype != torch.float64 else t for t in tensors)


_CONV = torch.ops.aten.convolution.default
_CONV_BACKWARD = torch.ops.aten.convolution_backward.default


class _SpikeConvFunction(torch.autograd.Function):
    """``convolution(x, w, b)`` keeping ``x`` encoded."""

    @staticmethod
    def forward(ctx, x, code, weight, bias, fmt, conv_args):
        stride, padding, dilation, output_padding, groups = conv_args
        y = _CONV(x, weight, bias, stride, padding, dilation, False,
                  output_padding, groups)
        ctx.save_for_backward(code, weight)
        ctx.conf = (fmt, x.dtype, None if bias is None else
                    list(bias.shape), conv_args)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        code, weight = ctx.saved_tensors
        fmt, dtype, bias_shape, conv_args = ctx.conf
        stride, padding, dilation, output_padding, groups = conv_args
        need_x, _, need_w, need_b = ctx.needs_input_grad[:4]
        grad_x, grad_w, grad_b = _CONV_BACKWARD(
            grad_y, decode_spikes(code, fmt, dtype), weight, bias_shape,
            stride, padding, dilation, False, output_padding, groups,
            [need_x, need_w, need_b])
        return grad_x, None, grad_w, grad_b, None, None


class _SpikeConvMixin:
    """Shared forward of :class:`SpikeConv1d` / :class:`SpikeConv2d`."""

    #: keep spike inputs as bool/uint8 for backward (switchable per module)
    compact_spikes = True

    def _compact_ok(self, x):
        if not (self.compact_spikes and torch.is_grad_enabled()
                and self.padding_mode == 'zeros'
                and not isinstance(self.padding, str)
                and (x.requires_grad or self.weight.requires_grad)):
            return None
        return spike_format(x)

    def forward(self, x):
        fmt = self._compact_ok(x)
        if fmt is None:
            return super().forward(x)
        code = compact_spike_tensor(x, fmt)
        cast, (x, weight, bias) = autocast_args(x.device.type, x, self.weight,
                                                self.bias)
        conv_args = (list(self.stride), list(self.padding),
                     list(self.dilation), [0] * len(self.stride), self.groups)
        args = (x, code, weight, bias, fmt, conv_args)
        if cast:
            with torch.autocast(x.device.type, enabled=False):
                return _SpikeConvFunction.apply(*args)
        return _SpikeConvFunction.apply(*args)


class SpikeConv2d(_SpikeConvMixin, nn.Conv2d):
    """``nn.Conv2d`` whose spike input is kept as bool/uint8 for backward.

    Same constructor, parameters and state-dict keys as ``nn.Conv2d``; the
    output and the gradients are bitwise equal. Set ``compact_spikes=False``
    (attribute) to keep the float input as ``nn.Conv2d`` does.

    Shapes:
        as ``nn.Conv2d``.
    """


class SpikeConv1d(_SpikeConvMixin, nn.Conv1d):
    """``nn.Conv1d`` counterpart of :class:`SpikeConv2d`."""


def set_compact_spikes(module: nn.Module, enabled: bool) -> int:
    """Switch compact spike storage on every submodule that supports it.

    Returns:
        int: the number of modules switched.
    """
    n = 0
    for m in module.modules():
        if isinstance(m, _SpikeConvMixin) or hasattr(m, 'compact_spikes'):
            m.compact_spikes = bool(enabled)
            n += 1
    return n
