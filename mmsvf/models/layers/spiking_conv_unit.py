# Copyright (c) mmsvf contributors. All rights reserved.
"""``neuron → conv [→ BN]`` over time-first maps, the unit of the spiking
FPN decoder (Meta-SpikeFormer V2 segmentation code: ``nn.Sequential(
MultiStepLIFNode, SeqToANNContainer(ConvModule(..., act_cfg=None)))`` in
``necks/fpn.py`` ``FPN_SNN`` and ``decode_heads/fpn_head.py``
``FPNHead_SNN``)."""
from mmcv.cnn import build_norm_layer
from torch import nn

from ..neurons import build_neuron
from .conv_blocks import per_frame
from .spike_conv import SpikeConv2d

__all__ = ['SpikingConvUnit']


class SpikingConvUnit(nn.Module):
    """Neuron, then a per-frame convolution of its spikes, then a norm.

    The conv only ever sees spikes, so the unit is spike-driven; its output
    is a membrane input (real-valued) for the next neuron. No activation
    function: the next unit's neuron is the non-linearity.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): conv kernel (padding ``kernel_size // 2``).
        neuron (dict): neuron config, e.g. ``dict(type='LIF')``.
        norm_cfg (dict | None): mmcv norm config (e.g. ``dict(type='BN')``);
            None: no norm, the conv has a bias (as V2's neck).

    Shapes:
        ``[T, B, C_in, H, W]`` → ``[T, B, C_out, H, W]``.
    """

    def __init__(self, in_channels, out_channels, kernel_size=1,
                 neuron=None, norm_cfg=None):
        super().__init__()
        self.lif = build_neuron(neuron)
        self.conv = SpikeConv2d(in_channels, out_channels, kernel_size,
                                padding=kernel_size // 2,
                                bias=norm_cfg is None)
        if norm_cfg is not None:
            self.norm_name, norm = build_norm_layer(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        else:
            self.norm_name = None

    def forward(self, x):
        if x.dim() != 5:
            raise ValueError(
                f'{type(self).__name__} expects time-first maps [T, B, C, '
                f'H, W]; got shape {tuple(x.shape)}')
        y = per_frame(self.conv, self.lif(x))
        if self.norm_name is not None:
            y = per_frame(getattr(self, self.norm_name), y)
        return y
