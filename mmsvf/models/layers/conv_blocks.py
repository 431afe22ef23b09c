# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike-driven convolutional layers of Meta-SpikeFormer (``models.py``).

All modules take and return time-first membrane tensors ``[T, B, C, H, W]``;
every convolution except the stem's sees the output of a neuron (spikes).
2-D ops run per frame with T folded into the batch.
"""
from torch import nn

from ..neurons import build_neuron
from .spike_conv import SpikeConv2d

__all__ = ['MSDownsampling', 'SepConv', 'MSConvBlock', 'per_frame']


def per_frame(module, x):
    """Apply a 2-D ``module`` per frame: ``[T, B, ...]`` → ``[T, B, ...]``."""
    T, B = x.shape[:2]
    y = module(x.flatten(0, 1))
    return y.reshape(T, B, *y.shape[1:])


class MSDownsampling(nn.Module):
    """``[encode_lif] → encode_conv (bias) → encode_bn``.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size, stride, padding (int): of ``encode_conv``.
        first_layer (bool): the stem: no neuron before the conv (the input is
            the real-valued frame).
        neuron (dict): neuron config.

    Shapes:
        ``[T, B, C_in, H, W]`` → ``[T, B, C_out, H/stride, W/stride]``.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=2,
                 padding=1, first_layer=False, neuron=None):
        super().__init__()
        # after a neuron the input is spikes: keep it compact for backward
        conv = nn.Conv2d if first_layer else SpikeConv2d
        self.encode_conv = conv(in_channels, out_channels, kernel_size,
                                stride, padding)
        self.encode_bn = nn.BatchNorm2d(out_channels)
        self.first_layer = first_layer
        if not first_layer:
            self.encode_lif = build_neuron(neuron)

    def forward(self, x):
        if not self.first_layer:
            x = self.encode_lif(x)
        x = per_frame(self.encode_conv, x)
        return per_frame(self.encode_bn, x)


class SepConv(nn.Module):
    """Inverted separable conv (MobileNetV2 style, expansion 2).

    ``lif1 → pwconv1 (d→2d) → bn1 → lif2 → dwconv 7x7 → pwconv2 (2d→d) → bn2``;
    ``4d² + 104d`` parameters.

    Shapes:
        ``[T, B, d, H, W]`` → ``[T, B, d, H, W]``.
    """

    def __init__(self, dim, expansion_ratio=2, kernel_size=7, padding=3,
                 neuron=None):
        super().__init__()
        med = int(expansion_ratio * dim)
        self.lif1 = build_neuron(neuron)
        self.pwconv1 = SpikeConv2d(dim, med, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = build_neuron(neuron)
        self.dwconv = SpikeConv2d(med, med, kernel_size, padding=padding,
                                  groups=med, bias=False)
        self.pwconv2 = nn.Conv2d(med, dim, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        x = self.lif1(x)
        x = per_frame(lambda t: self.bn1(self.pwconv1(t)), x)
        x = self.lif2(x)
        return per_frame(lambda t: self.bn2(self.pwconv2(self.dwconv(t))), x)


class MSConvBlock(nn.Module):
    """Spike-driven CNN block with membrane shortcuts (``MS_ConvBlock``).

    ``x = x + SepConv(x)``; ``x = x + bn2(conv2(lif2(bn1(conv1(lif1(x))))))``
    with 3x3 convs ``d → 4d → d``. ``76d² + 114d`` parameters.

    Shapes:
        ``[T, B, d, H, W]`` → ``[T, B, d, H, W]``.
    """

    def __init__(self, dim, mlp_ratio=4.0, neuron=None):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.Conv = SepConv(dim, neuron=neuron)
        self.lif1 = build_neuron(neuron)
        self.conv1 = SpikeConv2d(dim, hidden, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.lif2 = build_neuron(neuron)
        self.conv2 = SpikeConv2d(hidden, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        x = self.Conv(x) + x
        shortcut = x
        x = per_frame(lambda t: self.bn1(self.conv1(t)), self.lif1(x))
        x = per_frame(lambda t: self.bn2(self.conv2(t)), self.lif2(x))
        return shortcut + x
