# Copyright (c) mmsvf contributors. All rights reserved.
"""Spiking classification head for video recognition (Meta-SpikeFormer)."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmaction.models.heads.base import BaseHead
from torch import Tensor, nn

from mmsvf.registry import MODELS, scoped
from ..neurons import StreamState, build_neuron

__all__ = ['SpikingClsHead']


@MODELS.register_module()
class SpikingClsHead(BaseHead):
    """Meta-SpikeFormer / SpikeVideoFormer classification head.

    ``(B, C, T, h, w)`` membrane features → spatial mean ``(T, B, C)`` →
    LIF (state carried over the T frames) → ``Linear(C, num_classes)`` →
    mean over T → ``(B, num_classes)``.

    The linear layer is called ``head`` (and the optional distillation layer
    ``head_kd``), as in Meta-SpikeFormer, so inside a ``Recognizer3D`` the
    pretrained keys ``head.weight`` / ``head.bias`` are
    ``cls_head.head.weight`` / ``cls_head.head.bias``.

    Distillation head (``with_kd=True``): a second ``Linear`` ``head_kd`` on
    the same spikes. At test time the scores of both heads are averaged (as in
    Meta-SpikeFormer). The losses are ``loss_cls = (1 - kd_alpha) * CE(head)``
    (with the label smoothing of ``loss_cls``) and ``loss_kd = kd_alpha *
    CE(head_kd, y)``, ``y`` the teacher's hard labels when a teacher is
    wired (:class:`~mmsvf.models.DistillRecognizer3D` passes
    ``teacher_labels``; DeiT's hard distillation, which Meta-SpikeFormer's
    ``main_finetune.py`` uses), else the ground-truth label.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels C of the input feature.
        neuron (dict): Config of the spiking neuron before the linear layer.
            Defaults to ``dict(type='LIF')``.
        dropout_ratio (float): Dropout on the spikes before the linear layer.
            Defaults to 0 (Meta-SpikeFormer has none).
        init_std (float): Std of the truncated-normal init of the linear
            weights (bias 0), used when ``init_cfg`` is None (the default
            ``init_cfg`` is ``dict(type='TruncNormal', layer='Linear',
            std=init_std, bias=0)``). Defaults to 0.02.
        with_kd (bool): Add the distillation head ``head_kd``.
            Defaults to False.
        kd_alpha (float): Weight of ``head_kd``'s loss when ``with_kd``.
            Defaults to 0.5.
        reset_each_frame (bool): Reset the head neuron at every frame (each
            frame treated as an independent T = 1 sample; the "spatial-only"
            ablation). Defaults to False.
        feature_index (int): Which feature to use when the backbone returns a
            tuple of stage outputs. Defaults to -1 (the last stage).
        **kwargs: ``loss_cls``, ``label_smooth_eps``, ``topk``,
            ``average_clips``, ``multi_class``, ``init_cfg`` of
            :class:`mmaction.models.heads.BaseHead`.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 neuron: Optional[Dict] = None,
                 dropout_ratio: float = 0.0,
                 init_std: float = 0.02,
                 with_kd: bool = False,
                 kd_alpha: float = 0.5,
                 reset_each_frame: bool = False,
                 feature_index: int = -1,
                 **kwargs) -> None:
        # mmaction's BaseHead builds the loss from mmaction's registry; name
        # the scope so that the head also builds under another default scope
        kwargs['loss_cls'] = scoped(
            kwargs.get('loss_cls') or dict(type='CrossEntropyLoss'),
            'mmaction')
        if kwargs.get('init_cfg') is None:
            kwargs['init_cfg'] = dict(
                type='TruncNormal', layer='Linear', std=init_std, bias=0)
        super().__init__(num_classes, in_channels, **kwargs)
        if not 0.0 <= kd_alpha <= 1.0:
            raise ValueError(f'kd_alpha must be in [0, 1], got {kd_alpha}')
        self.init_std = init_std
        self.with_kd = with_kd
        self.kd_alpha = kd_alpha
        self.reset_each_frame = reset_each_frame
        self.feature_index = feature_index
        # built in the mmsvf scope whatever the caller's default scope is
        self.lif = build_neuron(scoped(neuron or dict(type='LIF')))
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()
        self.head = nn.Linear(in_channels, num_classes)
        self.head_kd = nn.Linear(in_channels, num_classes) if with_kd \
            else None

    def _select(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        if isinstance(x, (tuple, list)):
            if len(x) == 0:
                raise ValueError('SpikingClsHead got an empty feature tuple')
            x = x[self.feature_index]
        if not isinstance(x, Tensor) or x.dim() != 5:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
            raise ValueError('SpikingClsHead expects an NCTHW feature '
                             f'(B, C, T, h, w), got {shape}')
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f'SpikingClsHead(in_channels={self.in_channels}) got a '
                f'feature with {x.shape[1]} channels, shape '
                f'{tuple(x.shape)}')
        return x

    def spikes(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Spatially pooled features through the head neuron.

        Args:
            x (Tensor | tuple[Tensor]): Feature ``(B, C, T, h, w)`` or a tuple
                of them (``feature_index`` picks one).

        Returns:
            Tensor: Spikes ``(T, B, C)``.
        """
        x = self._select(x)
        b, c, t = x.shape[:3]
        x = x.mean(dim=(3, 4)).permute(2, 0, 1)  # (T, B, C)
        if self.reset_each_frame:
            return self.lif(x.reshape(1, t * b, c)).reshape(t, b, c)
        return self.lif(x)

    def forward_both(self, x: Union[Tensor, Sequence[Tensor]]
                     ) -> Tuple[Tensor, Optional[Tensor]]:
        """Scores of ``head`` and of ``head_kd`` (None without it).

        Returns:
            tuple: ``(B, num_classes)`` and ``(B, num_classes)`` or None.
        """
        s = self.dropout(self.spikes(x))
        score = self.head(s).mean(dim=0)
        score_kd = self.head_kd(s).mean(dim=0) if self.with_kd else None
        return score, score_kd

    def forward(self, x: Union[Tensor, Sequence[Tensor]],
                **kwargs) -> Tensor:
        """Class scores.

        Args:
            x (Tensor | tuple[Tensor]): ``(B, C, T, h, w)`` feature(s).

        Returns:
            Tensor: ``(B, num_classes)``; with ``with_kd``, the mean of the
            two heads' scores.
        """
        score, score_kd = self.forward_both(x)
        if score_kd is None:
            return score
        return (score + score_kd) / 2

    def loss(self, feats: Union[Tensor, Sequence[Tensor]], data_samples,
             teacher_labels: Optional[Tensor] = None, **kwargs) -> Dict:
        """Classification losses (and ``loss_kd`` with ``with_kd``).

        Args:
            feats: backbone feature(s).
            data_samples: samples with ``gt_label``.
            teacher_labels (Tensor, optional): ``(B,)`` hard labels of a
                teacher (the argmax of its logits) for ``head_kd``.
        """
        score, score_kd = self.forward_both(feats)
        if score_kd is None:
            if teacher_labels is not None:
                raise ValueError(
                    'SpikingClsHead got teacher labels but has no head_kd: '
                    'set with_kd=True to distil from a teacher')
            return self.loss_by_feat(score, data_samples)
        losses = self.loss_by_feat(score, data_samples)
        losses['loss_cls'] = losses['loss_cls'] * (1 - self.kd_alpha)
        if teacher_labels is None:
            kd = self.loss_by_feat(score_kd, data_samples)['loss_cls']
        else:
            if teacher_labels.shape != score_kd.shape[:1]:
                raise ValueError(
                    f'SpikingClsHead: teacher_labels of shape '
                    f'{tuple(teacher_labels.shape)} for scores of shape '
                    f'{tuple(score_kd.shape)}; expected one label per score')
            kd = F.cross_entropy(score_kd, teacher_labels)
        losses['loss_kd'] = kd * self.kd_alpha
        return losses

    def forward_step(self, x: Union[Tensor, Sequence[Tensor]],
                     state: Optional[StreamState] = None
                     ) -> Tuple[Tensor, StreamState]:
        """Scores after one more frame: the running mean over the frames so
        far, the step form of :meth:`forward`.

        The head neuron carries its membrane in ``state`` (not with
        ``reset_each_frame``), and ``state`` keeps the sum of the per-frame
        scores: after frame ``t`` the result equals :meth:`forward` on the
        clip of frames ``0..t`` (eval mode). Constant size in ``t``.

        Args:
            x (Tensor | tuple[Tensor]): one frame's feature ``(B, C, h, w)``
                or a tuple of them (``feature_index`` picks one), e.g. the
                outputs of ``SpikeVideoFormer.forward_step``.
            state (StreamState | None): what the previous call returned;
                None starts a new stream.

        Returns:
            tuple: scores ``(B, num_classes)`` and the updated state.
        """
        if isinstance(x, (tuple, list)):
            if len(x) == 0:
                raise ValueError('SpikingClsHead got an empty feature tuple')
            x = x[self.feature_index]
        if not isinstance(x, Tensor) or x.dim() != 4 or \
                x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
            raise ValueError(
                'SpikingClsHead.forward_step expects one frame\'s feature '
                f'(B, {self.in_channels}, h, w), got {shape}')
        if state is None:
            state = StreamState()
        v = None if self.reset_each_frame else state.get('lif')
        s, v = self.lif.step(x.mean(dim=(2, 3)), v)
        if not self.reset_each_frame:
            state.set('lif', v)
        s = self.dropout(s)
        score = self.head(s)
        if self.with_kd:
            score = (score, self.head_kd(s))
        else:
            score = (score, )
        total = state.extra.get('score_sum')
        total = score if total is None else tuple(
            a + b for a, b in zip(total, score))
        state.extra['score_sum'] = total
        state.frames += 1
        means = [t / state.frames for t in total]
        if len(means) == 1:
            return means[0], state
        return (means[0] + means[1]) / 2, state

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, '
                f'in_channels={self.in_channels}, with_kd={self.with_kd}, '
                f'reset_each_frame={self.reset_each_frame}')

