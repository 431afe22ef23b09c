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

With ``fast_depthwise`` (attribute, :func:`set_fast_depthwise`, or the
backbone's ``fast_depthwise=True``; off by default) depthwise 2-D
convolutions on CPU float32 (``groups == in_channels == out_channels``: the
7x7 of ``SepConv``, the 3x3 of ``RepConv``) run in the channels-last layout
(:class:`DepthwiseConv2d`, and :class:`SpikeConv2d` when it is depthwise):
oneDNN's NCHW depthwise backward is 2-4x slower than its channels-last one.
The output and the input gradient stay bitwise equal to ``nn.Conv2d``'s;
the weight gradient sums the same products in another order (float32
rounding, about 1e-6 relative).
"""
import torch
from torch import nn

from ..neurons.spike_storage import (
    compact_spike_tensor,
    decode_spikes,
    spike_format,
)

__all__ = ['DepthwiseConv2d', 'SpikeConv1d', 'SpikeConv2d', 'autocast_args',
           'set_compact_spikes', 'set_fast_depthwise']


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
_CL = torch.channels_last


def _channels_last(*tensors):
    return tuple(None if t is None else t.contiguous(memory_format=_CL)
                 for t in tensors)


def _convolution(x, weight, bias, conv_args, channels_last):
    """``aten.convolution``; with ``channels_last`` run in that layout and
    returned NCHW-contiguous."""
    stride, padding, dilation, output_padding, groups = conv_args
    if channels_last:
        x, weight = _channels_last(x, weight)
    y = _CONV(x, weight, bias, stride, padding, dilation, False,
              output_padding, groups)
    return y.contiguous() if channels_last else y


def _convolution_backward(grad_y, x, weight, bias_shape, conv_args, needs,
                          channels_last):
    """``aten.convolution_backward`` of :func:`_convolution`: the gradients
    come back NCHW-contiguous in both layouts (a channels-last gradient
    would send the BatchNorm before the conv down another kernel)."""
    stride, padding, dilation, output_padding, groups = conv_args
    if channels_last:
        grad_y, x, weight = _channels_last(grad_y, x, weight)
    grads = _CONV_BACKWARD(grad_y, x, weight, bias_shape, stride, padding,
                           dilation, False, output_padding, groups,
                           list(needs))
    if channels_last:
        grads = tuple(None if g is None else g.contiguous() for g in grads)
    return grads


def _conv_args(conv):
    return (list(conv.stride), list(conv.padding), list(conv.dilation),
            [0] * len(conv.stride), conv.groups)


class _FastDepthwiseMixin:
    """Run a CPU float32 depthwise ``Conv2d`` in the channels-last layout
    (see the module docstring); input, output and gradients stay
    NCHW-contiguous."""

    #: channels-last kernel for CPU float32 depthwise convs (per module;
    #: off by default: it changes the weight gradient's rounding)
    fast_depthwise = False

    def _use_channels_last(self, x):
        return (self.fast_depthwise and x.dim() == 4
                and x.device.type == 'cpu' and x.dtype == torch.float32
                and not torch.is_autocast_enabled('cpu')
                and self.padding_mode == 'zeros'
                and not isinstance(self.padding, str)
                and self.groups > 1
                and self.groups == self.in_channels == self.out_channels
                and not torch.compiler.is_compiling())

    def _conv_forward(self, input, weight, bias):
        if not self._use_channels_last(input):
            return super()._conv_forward(input, weight, bias)
        # the float input is kept for backward as nn.Conv2d keeps it
        return _ConvFunction.apply(input, input, weight, bias, None,
                                   _conv_args(self), True)


class _ConvFunction(torch.autograd.Function):
    """``convolution(x, w, b)`` keeping ``code`` for backward: ``x``
    encoded as spikes of format ``fmt``, or ``x`` itself (``fmt=None``);
    optionally run channels-last (:func:`_convolution`)."""

    @staticmethod
    def forward(ctx, x, code, weight, bias, fmt, conv_args, channels_last):
        ctx.save_for_backward(code, weight)
        ctx.conf = (fmt, x.dtype, None if bias is None else
                    list(bias.shape), conv_args, channels_last)
        return _convolution(x, weight, bias, conv_args, channels_last)

    @staticmethod
    def backward(ctx, grad_y):
        code, weight = ctx.saved_tensors
        fmt, dtype, bias_shape, conv_args, channels_last = ctx.conf
        need_x, _, need_w, need_b = ctx.needs_input_grad[:4]
        x = code if fmt is None else decode_spikes(code, fmt, dtype)
        grad_x, grad_w, grad_b = _convolution_backward(
            grad_y, x, weight, bias_shape, conv_args,
            (need_x, need_w, need_b), channels_last)
        return grad_x, None, grad_w, grad_b, None, None, None


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
        conv_args = _conv_args(self)
        channels_last = isinstance(self, _FastDepthwiseMixin) and \
            self._use_channels_last(x)
        args = (x, code, weight, bias, fmt, conv_args, channels_last)
        if cast:
            with torch.autocast(x.device.type, enabled=False):
                return _ConvFunction.apply(*args)
        return _ConvFunction.apply(*args)


class SpikeConv2d(_SpikeConvMixin, _FastDepthwiseMixin, nn.Conv2d):
    """``nn.Conv2d`` whose spike input is kept as bool/uint8 for backward.

    Same constructor, parameters and state-dict keys as ``nn.Conv2d``; the
    output and the gradients are bitwise equal (a CPU float32 depthwise
    conv: see :class:`DepthwiseConv2d`). Set ``compact_spikes=False``
    (attribute) to keep the float input as ``nn.Conv2d`` does.

    Shapes:
        as ``nn.Conv2d``.
    """


class SpikeConv1d(_SpikeConvMixin, nn.Conv1d):
    """``nn.Conv1d`` counterpart of :class:`SpikeConv2d`."""


class DepthwiseConv2d(_FastDepthwiseMixin, nn.Conv2d):
    """``nn.Conv2d`` that can run on CPU float32, when depthwise, in the
    channels-last layout (``fast_depthwise = True``): same output and input
    gradient bit for bit, the weight gradient to float32 rounding, 2-4x
    faster forward+backward. ``nn.Conv2d`` itself while switched off.

    Same constructor, parameters and state-dict keys as ``nn.Conv2d``.

    Shapes:
        as ``nn.Conv2d`` (NCHW in, NCHW-contiguous out).
    """


def _switch(module, attr, enabled, applies):
    """Set ``attr`` to ``enabled`` on every submodule ``applies`` accepts;
    the number switched."""
    n = 0
    for m in module.modules():
        if applies(m):
            setattr(m, attr, bool(enabled))
            n += 1
    return n


def set_compact_spikes(module: nn.Module, enabled: bool) -> int:
    """Switch compact spike storage on every submodule that supports it.

    Returns:
        int: the number of modules switched.
    """
    return _switch(module, 'compact_spikes', enabled,
                   lambda m: isinstance(m, _SpikeConvMixin)
                   or hasattr(m, 'compact_spikes'))


def set_fast_depthwise(module: nn.Module, enabled: bool) -> int:
    """Switch the channels-last depthwise kernel on every submodule that has
    it (``enabled=False``, the default: ``nn.Conv2d``'s own kernel, bitwise
    its weight gradient).

    Returns:
        int: the number of modules switched.
    """
    return _switch(module, 'fast_depthwise', enabled,
                   lambda m: isinstance(m, _FastDepthwiseMixin))
