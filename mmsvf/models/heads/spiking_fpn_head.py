# Copyright (c) mmsvf contributors. All rights reserved.
"""Spiking Semantic-FPN decode head over time-first maps (Meta-SpikeFormer V2
segmentation code, ``segmentation/mmseg/models/decode_heads/fpn_head.py``
``FPNHead_SNN``)."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn

from mmsvf.registry import MODELS
from ..layers.conv_blocks import per_frame
from ..layers.spiking_conv_unit import SpikingConvUnit
from ..necks.spiking_fpn import check_time_first_maps
from ..neurons import build_neuron

__all__ = ['SpikingFPNHead']


class _Upsample2x(nn.Module):
    """Bilinear x2 upsampling per frame of ``[T, B, C, h, w]``."""

    def __init__(self, align_corners):
        super().__init__()
        self.align_corners = align_corners

    def forward(self, x):
        return per_frame(
            lambda y: F.interpolate(y, scale_factor=2, mode='bilinear',
                                    align_corners=self.align_corners), x)


@MODELS.register_module()
class SpikingFPNHead(BaseDecodeHead):
    """Spike-driven Semantic-FPN head on time-first maps (V2
    ``FPNHead_SNN``).

    Per level ``i`` a tower of ``max(1, log2(stride_i / stride_0))`` units
    ``neuron → 3x3 conv (no bias) → norm [→ bilinear x2]`` brings the map to
    the finest stride; the towers' membrane outputs are summed, a final
    ``decode_lif`` turns the sum into spikes and ``conv_seg`` (after
    dropout) classifies every pixel. No ReLU anywhere (``act_cfg`` is not
    used): every conv reads spikes.

    Unlike V2, which averages the logits over its T repeated steps of one
    image, every frame of the clip gets its own logits: frame ``t``'s come
    from the neurons' state after frames ``0..t``. ``frames`` selects the
    frames to classify after ``decode_lif``, so ``conv_seg`` runs only on
    those (the annotated frames in training, the key frame at test).

    Args:
        feature_strides (Sequence[int]): strides of the input levels, the
            first the smallest.
        neuron (dict): neuron config of every unit and ``decode_lif``.
        **kwargs: :class:`mmseg.models.decode_heads.decode_head.
            BaseDecodeHead` arguments (``in_channels``, ``in_index``,
            ``channels``, ``num_classes``, ``dropout_ratio``, ``norm_cfg``,
            ``align_corners``, ``loss_decode``, ...).

    Shapes:
        inputs: ``[T, B, C_i, h_i, w_i]`` per level; output
        ``(N, num_classes, h_0, w_0)``, N = ``len(frames)`` or ``B·T``
        (row ``b·T + t``) without ``frames``.
    """

    #: consumes time-first maps (VideoEncoderDecoder reads it)
    time_first = True

    def __init__(self, feature_strides, neuron=dict(type='LIF'), **kwargs):
        kwargs.setdefault('input_transform', 'multiple_select')
        super().__init__(**kwargs)
        strides = list(feature_strides)
        if len(strides) != len(self.in_channels):
            raise ValueError(
                f'SpikingFPNHead: {len(strides)} feature_strides for '
                f'{len(self.in_channels)} in_channels')
        if min(strides) != strides[0] or any(
                s & (s - 1) for s in strides):
            raise ValueError(
                f'SpikingFPNHead: feature_strides={strides}; expected powers '
                'of 2, the first the smallest')
        self.feature_strides = strides
        self.scale_heads = nn.ModuleList()
        for i, stride in enumerate(strides):
            length = max(1, int(math.log2(stride) - math.log2(strides[0])))
            tower = []
            for k in range(length):
                tower.append(
                    SpikingConvUnit(
                        self.in_channels[i] if k == 0 else self.channels,
                        self.channels, 3, neuron=neuron,
                        norm_cfg=self.norm_cfg or None))
                if stride != strides[0]:
                    tower.append(_Upsample2x(self.align_corners))
            self.scale_heads.append(nn.Sequential(*tower))
        self.decode_lif = build_neuron(neuron)

    def _spikes(self, inputs) -> Tensor:
        """Spikes of ``decode_lif``, ``[T, B, channels, h_0, w_0]``."""
        x = self._transform_inputs(inputs)
        check_time_first_maps(type(self).__name__, x, self.in_channels)
        out = self.scale_heads[0](x[0])
        for i in range(1, len(self.feature_strides)):
            y = self.scale_heads[i](x[i])
            if y.shape[-2:] != out.shape[-2:]:
                y = per_frame(
                    lambda t: F.interpolate(
                        t, size=out.shape[-2:], mode='bilinear',
                        align_corners=self.align_corners), y)
            out = out + y
        return self.decode_lif(out)

    def forward(self, inputs,
                frames: Optional[Sequence[Tuple[int, int]]] = None
                ) -> Tensor:
        """Logits of the selected frames.

        Args:
            inputs (Sequence[Tensor]): ``[T, B, C_i, h_i, w_i]`` maps.
            frames (Sequence[tuple[int, int]], optional): ``(b, t)`` pairs
                (all frames, row ``b·T + t``, when None).

        Returns:
            Tensor: ``(N, num_classes, h_0, w_0)``.
        """
        s = self._spikes(inputs)
        T, B = s.shape[:2]
        if frames is None:
            s = s.transpose(0, 1).flatten(0, 1)
        else:
            for b, t in frames:
                if not (0 <= b < B and 0 <= t < T):
                    raise ValueError(
                        f'SpikingFPNHead: frame (b={b}, t={t}) is outside '
                        f'the maps of B={B} clips x T={T} frames')
            b_idx = torch.tensor([b for b, _ in frames], device=s.device)
            t_idx = torch.tensor([t for _, t in frames], device=s.device)
            s = s[t_idx, b_idx]
        return self.cls_seg(s)

    def loss(self, inputs, batch_data_samples, train_cfg,
             frames: Optional[Sequence[Tuple[int, int]]] = None) -> dict:
        """Loss of the frames ``frames`` (one data sample each)."""
        return self.loss_by_feat(self.forward(inputs, frames),
                                 batch_data_samples)

    def predict(self, inputs, batch_img_metas: List[dict], test_cfg,
                frames: Optional[Sequence[Tuple[int, int]]] = None
                ) -> Tensor:
        """Logits of ``frames`` (one meta each) resized to ``img_shape``."""
        return self.predict_by_feat(self.forward(inputs, frames),
                                    batch_img_metas)
