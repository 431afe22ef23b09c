# Copyright (c) mmsvf contributors. All rights reserved.
"""Re-parameterisable 3x3 convolution of Meta-SpikeFormer (``RepConv``)."""
import torch.nn.functional as F
from torch import nn

from .spike_conv import DepthwiseConv2d, SpikeConv2d

__all__ = ['BNAndPad', 'RepConv']


class BNAndPad(nn.Module):
    """BatchNorm, then pad each side with the BN's response to a zero input.

    Padding with ``bias - mean·weight/std`` (instead of 0) makes
    ``BN → pad → conv`` equal to ``pad → BN → conv``, so the 1x1 → BN → 3x3
    chain folds into one padded 3x3 conv at inference.

    Shapes:
        ``[N, C, H, W]`` → ``[N, C, H + 2p, W + 2p]``.
    """

    def __init__(self, pad_pixels, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps, momentum)
        self.pad_pixels = pad_pixels

    def forward(self, x):
        out = self.bn(x)
        p = self.pad_pixels
        if p <= 0:
            return out
        bn = self.bn
        pad_values = (bn.bias.detach() - bn.running_mean * bn.weight.detach()
                      / (bn.running_var + bn.eps).sqrt()).to(out.dtype)
        out = F.pad(out, [p] * 4)
        pad_values = pad_values.view(1, -1, 1, 1)
        out[:, :, :p, :] = pad_values
        out[:, :, -p:, :] = pad_values
        out[:, :, :, :p] = pad_values
        out[:, :, :, -p:] = pad_values
        return out


class RepConv(nn.Sequential):
    """``conv1x1 → BNAndPad → depthwise 3x3 → pointwise 1x1 → BN``.

    State-dict keys follow Meta-SpikeFormer: ``body.0`` (1x1), ``body.1.bn``,
    ``body.2.0`` (depthwise), ``body.2.1`` (pointwise), ``body.2.2`` (BN).
    Parameters: ``2·d_in² + 13·d_in`` for ``d_in = d_out``.

    Shapes:
        ``[N, d_in, H, W]`` (spikes) → ``[N, d_out, H, W]``.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.body = nn.Sequential(
            # its input is spikes (kept compact for backward when marked)
            SpikeConv2d(in_channels, in_channels, 1, 1, 0, bias=False),
            BNAndPad(1, in_channels),
            nn.Sequential(
                DepthwiseConv2d(in_channels, in_channels, 3, 1, 0,
                                groups=in_channels, bias=False),
                nn.Conv2d(in_channels, out_channels, 1, 1, 0, bias=False),
                nn.BatchNorm2d(out_channels)))

    def forward(self, x):
        return self.body(x)
