# Copyright (c) mmsvf contributors. All rights reserved.
"""Spiking Feature Pyramid Network over time-first maps (Meta-SpikeFormer V2
segmentation code, ``segmentation/mmseg/models/necks/fpn.py`` ``FPN_SNN``).
"""
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmsvf.registry import MODELS
from ..layers.conv_blocks import per_frame
from ..layers.spiking_conv_unit import SpikingConvUnit

__all__ = ['SpikingFPN', 'check_time_first_maps']


def check_time_first_maps(owner, inputs, in_channels):
    """Raise a ``ValueError`` unless ``inputs`` are ``[T, B, C_i, h, w]``
    maps with the configured channels and one ``T, B``."""
    if not isinstance(inputs, (list, tuple)) or len(inputs) != len(
            in_channels):
        n = len(inputs) if isinstance(inputs, (list, tuple)) else inputs
        raise ValueError(f'{owner}: expected {len(in_channels)} time-first '
                         f'maps [T, B, C, h, w], got {n!r}')
    lead = None
    for i, (x, c) in enumerate(zip(inputs, in_channels)):
        if x.dim() != 5 or x.shape[2] != c:
            raise ValueError(
                f'{owner}: input {i} must be a time-first map [T, B, {c}, '
                f'h, w]; got shape {tuple(x.shape)}')
        if lead is None:
            lead = x.shape[:2]
        elif x.shape[:2] != lead:
            raise ValueError(
                f'{owner}: every input needs the same T, B; input {i} has '
                f'{tuple(x.shape[:2])}, input 0 {tuple(lead)}')


@MODELS.register_module()
class SpikingFPN(BaseModule):
    """Spike-driven FPN neck on time-first maps (V2 ``FPN_SNN``).

    Every convolution reads the spikes of a neuron placed right before it:

    * lateral ``i``: neuron → 1x1 conv (bias, no norm in V2) on backbone
      level ``start_level + i``;
    * top-down: ``lateral[i-1] += nearest-upsample(lateral[i])`` per frame
      (membrane sums, no conv);
    * output ``i``: neuron → 3x3 conv on the summed lateral;
    * levels beyond the backbone's (``num_outs > levels``): stride-2
      subsampling of the last output (V2's ``max_pool2d(x, 1, stride=2)``).

    The neurons integrate over the T frames of the clip (time is the SNN's
    time axis) and start from rest in every call: nothing is carried
    between clips.

    Args:
        in_channels (list[int]): channels of the backbone levels.
        out_channels (int): channels of every output level.
        num_outs (int): output levels (>= levels used).
        start_level (int): first backbone level used. Default 0.
        neuron (dict): neuron config (``dict(type='LIF')`` or
            ``dict(type='IntegerLIF', max_level=4)``).
        norm_cfg (dict | None): norm after every conv (V2: None).
        upsample_cfg (dict): ``F.interpolate`` arguments of the top-down
            path. Default ``dict(mode='nearest')``.
        init_cfg (dict | list | None): V2's Xavier-uniform on the convs.

    Shapes:
        inputs: ``[T, B, C_i, h_i, w_i]`` per level; outputs
        ``[T, B, out_channels, h_i, w_i]`` membrane maps.
    """

    #: consumes and returns time-first maps (VideoEncoderDecoder reads it)
    time_first = True

    def __init__(self,
                 in_channels,
                 out_channels,
                 num_outs,
                 start_level=0,
                 neuron=dict(type='LIF'),
                 norm_cfg=None,
                 upsample_cfg=dict(mode='nearest'),
                 init_cfg=dict(
                     type='Xavier', layer='Conv2d', distribution='uniform')):
        super().__init__(init_cfg)
        if not (isinstance(in_channels, (list, tuple)) and in_channels):
            raise ValueError(f'SpikingFPN: in_channels={in_channels!r}; '
                             'expected a list of channel counts')
        if not 0 <= start_level < len(in_channels):
            raise ValueError(f'SpikingFPN: start_level={start_level} is '
                             f'outside the {len(in_channels)} levels')
        used = len(in_channels) - start_level
        if num_outs < used:
            raise ValueError(f'SpikingFPN: num_outs={num_outs} < the '
                             f'{used} levels used')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.upsample_cfg = dict(upsample_cfg)
        unit = dict(neuron=neuron, norm_cfg=norm_cfg)
        self.lateral_convs = nn.ModuleList([
            SpikingConvUnit(c, out_channels, 1, **unit)
            for c in self.in_channels[start_level:]
        ])
        self.fpn_convs = nn.ModuleList([
            SpikingConvUnit(out_channels, out_channels, 3, **unit)
            for _ in range(used)
        ])

    def forward(self, inputs):
        """Tuple of ``[T, B, C_i, h_i, w_i]`` → tuple of ``num_outs`` maps
        ``[T, B, out_channels, h_i, w_i]``."""
        check_time_first_maps(type(self).__name__, inputs, self.in_channels)
        laterals = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            cfg = dict(self.upsample_cfg)
            if 'scale_factor' not in cfg:
                cfg['size'] = laterals[i - 1].shape[-2:]
            up = per_frame(lambda x, cfg=cfg: F.interpolate(x, **cfg),
                           laterals[i])
            laterals[i - 1] = laterals[i - 1] + up
        outs = [conv(lat) for conv, lat in zip(self.fpn_convs, laterals)]
        while len(outs) < self.num_outs:
            outs.append(outs[-1][..., ::2, ::2])
        return tuple(outs)
