# Copyright (c) mmsvf contributors. All rights reserved.
"""Hard knowledge distillation from a frozen teacher for the ImageNet stage B
(Meta-SpikeFormer V2 ``main_finetune.py``: DeiT's ``DistillationLoss`` with
``distillation_type='hard'``, α 0.5, teacher CaFormer-B36)."""
import copy
import os.path as osp
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmaction.models.recognizers import BaseRecognizer, Recognizer3D
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from mmsvf.registry import MODELS

__all__ = ['DistillRecognizer3D', 'build_teacher', 'hard_distillation_loss']

TEACHER_INPUTS = ('image', 'clip')


def hard_distillation_loss(score_kd: Tensor, teacher_logits: Tensor) -> Tensor:
    """``CE(score_kd, argmax(teacher_logits))`` (DeiT hard distillation).

    Args:
        score_kd (Tensor): ``(B, K)`` scores of the student's ``head_kd``.
        teacher_logits (Tensor): ``(B, K)`` teacher logits.

    Returns:
        Tensor: the mean cross-entropy, a scalar.
    """
    return F.cross_entropy(score_kd, teacher_logits.argmax(dim=1))


def _teacher_from_config(config, checkpoint, scope):
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'teacher config {config} not found')
        cfg = Config.fromfile(config)
        model_cfg, scope = cfg.model, scope or cfg.get('default_scope')
    else:
        model_cfg = copy.deepcopy(dict(config))
    with DefaultScope.overwrite_default_scope(scope or 'mmsvf'):
        model = ROOT_MODELS.build(model_cfg)
    if checkpoint is not None:
        from mmengine.runner import load_checkpoint
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'teacher checkpoint {checkpoint} not found')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model


def build_teacher(cfg: dict) -> nn.Module:
    """Build a frozen teacher (eval mode, no gradients).

    ``cfg`` names exactly one source:

    * ``config``: a registered model — a config file (its ``model``, built
      in its ``default_scope``) or a model dict (built in ``scope``, default
      mmsvf); ``checkpoint`` loads its weights (strict);
    * ``torchscript``: a TorchScript file (``torch.jit.load``);
    * ``timm``: a timm model name (``pretrained``, default True;
      ``checkpoint`` a local weight file); needs timm (and torchvision),
      which the CPU stack here does not install.

    Returns:
        nn.Module: the teacher.
    """
    cfg = dict(cfg)
    sources = [k for k in ('config', 'torchscript', 'timm') if k in cfg]
    if len(sources) != 1:
        raise ValueError(
            f'teacher={cfg!r}: give exactly one of config=, torchscript= or '
            'timm= (e.g. dict(timm=\'caformer_b36.sail_in22k_ft_in1k\'))')
    source = sources[0]
    if source == 'config':
        teacher = _teacher_from_config(cfg['config'], cfg.get('checkpoint'),
                                       cfg.get('scope'))
    elif source == 'torchscript':
        path = cfg['torchscript']
        if not osp.isfile(path):
            raise FileNotFoundError(f'teacher TorchScript file {path} not '
                                    'found')
        teacher = torch.jit.load(path, map_location='cpu')
    else:
        try:
            import timm
        except ImportError as err:
            raise ImportError(
                f'teacher timm={cfg["timm"]!r} needs timm (pip install timm,'
                ' which needs torchvision); or export the teacher to '
                'TorchScript and use teacher=dict(torchscript=PATH)') from err
        kwargs = dict(pretrained=cfg.get('pretrained', True))
        if cfg.get('checkpoint'):
            kwargs.update(pretrained=False,
                          checkpoint_path=cfg['checkpoint'])
        teacher = timm.create_model(cfg['timm'], **kwargs)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@MODELS.register_module()
class DistillRecognizer3D(Recognizer3D):
    """mmaction's ``Recognizer3D`` with an optional frozen teacher.

    With a teacher, training passes the teacher's hard labels
    (``argmax`` of its logits on the same augmented batch) to the head, whose
    ``head_kd`` learns them (``SpikingClsHead(with_kd=True)``:
    ``loss_cls = (1 − α)·CE(head, label)``, ``loss_kd =
    α·CE(head_kd, teacher label)``). Without a teacher it is
    ``Recognizer3D``.

    The teacher is kept outside the module tree: it is not a submodule, has
    no entry in ``state_dict`` (checkpoints hold the student only), is not
    seen by the optimizer, stays in eval mode with ``requires_grad=False``
    and runs under ``torch.no_grad``; it follows the input's device at its
    first use.

    Args:
        teacher (dict | None): :func:`build_teacher` config plus ``input``
            (None or ``dict()``: no teacher):
            ``'image'`` (default for TorchScript and timm teachers: the first
            frame of each clip, ``(B, C, H, W)``, normalised as the student's
            input) or ``'clip'`` (default for config teachers: the student's
            own inputs; an mmaction recognizer is called with
            ``mode='tensor', stage='head'``).
        **kwargs: ``Recognizer3D`` arguments.
    """

    def __init__(self, *args, teacher: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._teacher_input = None
        teacher_module = None
        if teacher:  # None or an empty dict: no teacher
            teacher = dict(teacher)
            default = 'clip' if 'config' in teacher else 'image'
            self._teacher_input = teacher.pop('input', default)
            if self._teacher_input not in TEACHER_INPUTS:
                raise ValueError(f'teacher input={self._teacher_input!r}; '
                                 f'expected one of {TEACHER_INPUTS}')
            teacher_module = build_teacher(teacher)
        # not a submodule: no state_dict entry, no parameters to optimise
        object.__setattr__(self, '_teacher', teacher_module)

    @property
    def teacher(self) -> Optional[nn.Module]:
        """The frozen teacher (None without one)."""
        return self._teacher

    def _teacher_args(self, inputs: Tensor) -> Union[Tensor, dict]:
        x = inputs.view((-1, ) + inputs.shape[2:])  # N*crops, C, T, H, W
        if self._teacher_input == 'image':
            return x[:, :, 0]
        return inputs

    @torch.no_grad()
    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """``(B, K)`` logits of the teacher on a batch of student inputs
        ``(N, crops, C, T, H, W)``."""
        teacher = self._teacher.to(inputs.device).eval()
        x = self._teacher_args(inputs)
        if isinstance(teacher, BaseRecognizer):
            out = teacher(x, mode='tensor', stage='head')
        elif isinstance(teacher, BaseModel):
            out = teacher(x, mode='tensor')
        else:
            out = teacher(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, Tensor) or out.dim() != 2:
            raise ValueError(
                'DistillRecognizer3D: the teacher must return (B, classes) '
                f'logits, got {getattr(out, "shape", type(out))}')
        return out

    def loss(self, inputs: Tensor, data_samples, **kwargs) -> dict:
        if self._teacher is None:
            return super().loss(inputs, data_samples, **kwargs)
        feats, loss_kwargs = self.extract_feat(inputs,
                                               data_samples=data_samples)
        labels = self.teacher_logits(inputs).argmax(dim=1)
        loss_aux = loss_kwargs.pop('loss_aux', dict())
        losses = self.cls_head.loss(feats, data_samples,
                                    teacher_labels=labels, **loss_kwargs)
        losses.update(loss_aux)
        return losses
