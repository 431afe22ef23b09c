# Copyright (c) mmsvf contributors. All rights reserved.
"""Official Meta-SpikeFormer / SpikeVideoFormer checkpoints <-> mmsvf keys.

Official classification checkpoints (Meta-SpikeFormer = Spike-Driven
Transformer V2, and SpikeVideoFormer) hold the backbone at the top level
(``downsample1_1.*``, ``ConvBlock1_1.0.*``, ..., ``block4.1.*``, the module
names of ``Spiking_vit_MetaFormer`` in the official
``classification/models.py`` of BICLab/Spike-Driven-Transformer-V2 and
``classification/models/metaspikformer.py`` of JimmyZou/SpikeVideoFormer) and
the classifier as ``head.*`` (+ ``head_kd.*`` when trained with distillation),
saved as ``{'model': state_dict, 'optimizer': ..., 'args': Namespace, ...}``
(SpikeVideoFormer possibly as ``{'state_dict': ...}``). mmsvf's backbone uses
the same module names, so the mapping is a prefix:

=======================  ==================================================
official                 mmsvf
=======================  ==================================================
``<backbone key>``       ``backbone.<backbone key>`` (every task)
``head.*``               ``cls_head.head.*`` (recognition, same classes)
``head_kd.*``            ``cls_head.head_kd.*`` (recognition, ``with_kd``)
``attn.attn_bn.*``       same; absent from V2 (dot-product) checkpoints, then
                         initialised fresh (weight 1, bias 0, mean 0, var 1)
=======================  ==================================================

This module holds the key mapping, the shape inference and
:func:`convert_file` (file in, file out); what a conversion did is a
:class:`~mmsvf.models.utils.conversion_report.ConversionReport`. Files are
read and written by :mod:`mmsvf.utils.checkpoint` (safe loading, atomic
saving); the command lines are ``tools/model_converters/*2mmsvf.py``.
"""
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch

from mmsvf.utils.checkpoint import (
    file_sha256,
    load_checkpoint_file,
    save_checkpoint_atomic,
)
from .conversion_report import ConversionReport

__all__ = [
    'ConversionReport', 'BACKBONE_MODULES', 'TASKS', 'CONVERTERS',
    'SOURCE_FORMATS', 'extract_state_dict', 'infer_backbone_config',
    'backbone_target_shapes', 'config_target_shapes', 'config_backbone_shapes',
    'fresh_bn_state', 'convert_official_to_mmsvf', 'convert_mmsvf_to_official',
    'convert_file'
]

#: top-level module names of the backbone in official checkpoints
BACKBONE_MODULES = ('downsample1_1', 'ConvBlock1_1', 'downsample1_2',
                    'ConvBlock1_2', 'downsample2', 'ConvBlock2_1',
                    'ConvBlock2_2', 'downsample3', 'block3', 'downsample4',
                    'block4')
#: classification layers of official checkpoints
HEAD_MODULES = ('head', 'head_kd')
#: task → where the official classifier goes (None: dropped)
TASKS = ('recognition', 'segmentation', 'pose', 'backbone')
BACKBONE_PREFIX = 'backbone.'
CLS_HEAD_PREFIX = 'cls_head.'
#: wrapper keys checked, in order, for the state dict inside a checkpoint
STATE_DICT_KEYS = ('state_dict', 'model', 'module', 'model_state')
#: source format → its converter script (named in messages and the meta)
CONVERTERS = {
    'metaspikeformer': 'tools/model_converters/metaspikeformer2mmsvf.py',
    'spikevideoformer': 'tools/model_converters/spikevideoformer2mmsvf.py',
}
#: accepted source formats: the official code's spelling
#: ("metaspikformer", e.g. ``metaspikformer_8_512``) is an alias
SOURCE_FORMATS = {
    'metaspikeformer': 'metaspikeformer',
    'metaspikformer': 'metaspikeformer',
    'spikevideoformer': 'spikevideoformer',
}


def extract_state_dict(checkpoint, path: str = '<checkpoint>'
                       ) -> Tuple['OrderedDict[str, torch.Tensor]', str]:
    """Find the state dict inside a loaded checkpoint.

    Accepts ``{'state_dict': sd}`` (mmengine), ``{'model': sd}``
    (Meta-SpikeFormer / SpikeVideoFormer training scripts), ``{'module': sd}``
    or a bare ``sd``; strips a DDP ``module.`` prefix.

    Args:
        checkpoint: What :func:`load_checkpoint_file` returned.
        path (str): File name for error messages.

    Returns:
        tuple: ``(state_dict, container)`` with ``container`` the key the
        weights were found under (``''`` for a bare state dict).

    Raises:
        ValueError: no state dict found, or it holds non-tensor values.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path}: expected a dict checkpoint, got '
                         f'{type(checkpoint).__name__}')
    container = ''
    state = checkpoint
    for key in STATE_DICT_KEYS:
        if isinstance(checkpoint.get(key), dict):
            state, container = checkpoint[key], key
            break
    else:
        if not checkpoint or not all(
                isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise ValueError(
                f'{path}: no state dict found. Expected one of the keys '
                f'{list(STATE_DICT_KEYS)} or a bare state dict; the file '
                f'has top-level keys {sorted(map(str, checkpoint))[:20]}')
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f'{path}: the state dict under "{container}" has '
                         f'non-tensor values at keys {bad[:10]}')
    keys = list(state)
    if keys and all(k.startswith('module.') for k in keys):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return OrderedDict(state), container


def _top(key: str) -> str:
    return key.split('.', 1)[0]


def _strip_backbone_prefix(state_dict):
    """Official segmentation checkpoints already say ``backbone.``."""
    if any(_top(k) in BACKBONE_MODULES for k in state_dict):
        return state_dict
    if any(k.startswith(BACKBONE_PREFIX) for k in state_dict):
        return OrderedDict(
            (k[len(BACKBONE_PREFIX):] if k.startswith(BACKBONE_PREFIX) else k,
             v) for k, v in state_dict.items())
    return state_dict


def infer_backbone_config(state_dict: Dict[str, torch.Tensor],
                          path: str = '<checkpoint>') -> dict:
    """SpikeVideoFormer arguments that reproduce a checkpoint's shapes.

    Args:
        state_dict (dict): Official-layout (unprefixed) state dict.
        path (str): File name for error messages.

    Returns:
        dict: ``embed_dims``, ``depths``, ``in_channels`` and
        ``similarity`` (``'hamming'`` when ``attn_bn`` keys exist, else
        ``'dot'``).
    """
    sd = _strip_backbone_prefix(state_dict)
    need = [f'{m}.encode_conv.weight' for m in
            ('downsample1_1', 'downsample1_2', 'downsample2', 'downsample3',
             'downsample4')]
    missing = [k for k in need if k not in sd]
    if missing:
        raise ValueError(
            f'{path}: not a Meta-SpikeFormer / SpikeVideoFormer backbone '
            f'(missing {missing}); found top-level modules '
            f'{sorted({_top(k) for k in sd})[:20]}')
    stem, in_channels = sd[need[0]].shape[:2]
    dims = [int(sd[k].shape[0]) for k in need[1:]]
    if int(stem) != dims[0] // 2:
        raise ValueError(f'{path}: stem width {int(stem)} is not '
                         f'embed_dims[0] // 2 = {dims[0] // 2}')
    depths = []
    for stage in ('block3', 'block4'):
        ids = {int(k.split('.')[1]) for k in sd if k.startswith(stage + '.')}
        depths.append(max(ids) + 1 if ids else 0)
    hamming = any('.attn_bn.' in k for k in sd)
    return dict(embed_dims=dims, depths=tuple(depths),
                in_channels=int(in_channels),
                similarity='hamming' if hamming else 'dot')


def backbone_target_shapes(backbone_cfg: dict, prefix: str = BACKBONE_PREFIX
                           ) -> 'OrderedDict[str, torch.Size]':
    """Key → shape of a :class:`SpikeVideoFormer` built from ``backbone_cfg``.

    The model is built on the ``meta`` device (no memory, no init).

    Args:
        backbone_cfg (dict): ``SpikeVideoFormer`` keyword arguments.
        prefix (str): Prefix of every key.

    Returns:
        OrderedDict: prefixed key → shape.
    """
    from mmsvf.models.backbones import SpikeVideoFormer
    cfg = {k: v for k, v in backbone_cfg.items() if k != 'type'}
    # its neurons are built in mmsvf's scope whatever the default scope is
    # (docs/registry_and_scope.md)
    with torch.device('meta'):
        model = SpikeVideoFormer(**cfg)
    return OrderedDict((prefix + k, v.shape)
                       for k, v in model.state_dict().items())


def _build_model_shapes(model_cfg, default_scope):
    from mmengine.registry import MODELS, init_default_scope

    from mmsvf.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    if default_scope:
        init_default_scope(default_scope)
    try:
        with torch.device('meta'):
            model = MODELS.build(model_cfg)
    except Exception:  # some upstream modules create CPU tensors explicitly
        model = MODELS.build(model_cfg)
    return OrderedDict((k, v.shape) for k, v in model.state_dict().items())


def _load_config(config, cfg_options: Optional[dict] = None):
    """A config file (path) or object, with ``cfg_options`` merged in."""
    from mmengine.config import Config
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def config_target_shapes(config, cfg_options: Optional[dict] = None
                         ) -> 'OrderedDict[str, torch.Size]':
    """Key → shape of the model a config builds (its ``model`` field).

    Args:
        config (str | mmengine.Config): A config file or object.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        OrderedDict: key → shape of ``MODELS.build(cfg.model).state_dict()``.
    """
    cfg = _load_config(config, cfg_options)
    if 'model' not in cfg:
        raise ValueError(f'config {getattr(cfg, "filename", config)} has no '
                         '`model` field')
    model_cfg = cfg.model.copy() if hasattr(cfg.model, 'copy') else cfg.model
    return _build_model_shapes(model_cfg, cfg.get('default_scope', None))


def config_backbone_shapes(config, cfg_options: Optional[dict] = None
                           ) -> 'OrderedDict[str, torch.Size]':
    """Key → shape of a config's backbone alone (``model.backbone``).

    The fallback target when the full task model cannot be built here, e.g.
    a pose config whose licence-gated SMPL file is not on this machine (the
    SMPL buffers are not part of the state dict, so the backbone is all the
    converter needs).

    Args:
        config (str | mmengine.Config): A config file or object.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        OrderedDict: ``'backbone.<key>'`` → shape.

    Raises:
        ValueError: the config has no ``model.backbone``.
    """
    cfg = _load_config(config, cfg_options)
    backbone = cfg.get('model', {}).get('backbone', None)
    if not backbone:
        raise ValueError(f'config {getattr(cfg, "filename", config)} has no '
                         '`model.backbone` field')
    backbone = backbone.copy() if hasattr(backbone, 'copy') else backbone
    shapes = _build_model_shapes(backbone, cfg.get('default_scope', None))
    return OrderedDict(
        (BACKBONE_PREFIX + k, v) for k, v in shapes.items())


def fresh_bn_state(num_features: int, dtype=torch.float32
                   ) -> 'OrderedDict[str, torch.Tensor]':
    """A BatchNorm's state right after construction.

    Args:
        num_features (int): Channels.
        dtype (torch.dtype): Dtype of the float entries.

    Returns:
        OrderedDict: ``weight`` 1, ``bias`` 0, ``running_mean`` 0,
        ``running_var`` 1, ``num_batches_tracked`` 0.
    """
    return OrderedDict(
        weight=torch.ones(num_features, dtype=dtype),
        bias=torch.zeros(num_features, dtype=dtype),
        running_mean=torch.zeros(num_features, dtype=dtype),
        running_var=torch.ones(num_features, dtype=dtype),
        num_batches_tracked=torch.tensor(0, dtype=torch.long))


def convert_official_to_mmsvf(
        state_dict: Dict[str, torch.Tensor],
        task: str = 'recognition',
        target_shapes: Optional[Dict[str, torch.Size]] = None,
        target_desc: str = '',
) -> Tuple['OrderedDict[str, torch.Tensor]', ConversionReport]:
    """Map an official state dict to mmsvf names.

    Args:
        state_dict (dict): Official layout (``downsample1_1.*``, ...,
            ``head.*``), optionally already prefixed with ``backbone.``.
        task (str): ``'recognition'`` (classifier → ``cls_head.head``),
            ``'segmentation'``, ``'pose'`` or ``'backbone'`` (classifier
            dropped).
        target_shapes (dict, optional): key → shape of the target model
            (:func:`config_target_shapes`). Default: the backbone the
            checkpoint itself describes, in Hamming mode
            (:func:`infer_backbone_config`), plus the classifier as is for
            recognition.
        target_desc (str): What the target is, for the report.

    Returns:
        tuple: ``(state_dict, report)``; the state dict holds only keys of
        the target.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    source = _strip_backbone_prefix(state_dict)
    report = ConversionReport(task=task, num_source_keys=len(state_dict))
    if target_shapes is None:
        cfg = infer_backbone_config(source)
        cfg['similarity'] = 'hamming'
        target_shapes = backbone_target_shapes(cfg)
        if task == 'recognition':
            for name in HEAD_MODULES:
                for suffix in ('weight', 'bias'):
                    k = f'{name}.{suffix}'
                    if k in source:
                        target_shapes[CLS_HEAD_PREFIX + k] = source[k].shape
        target_desc = target_desc or (
            'SpikeVideoFormer(embed_dims={embed_dims}, depths={depths}, '
            'similarity=hamming)'.format(**cfg))
    report.target = target_desc or 'the given target'

    out = OrderedDict()
    for key, value in source.items():
        top = _top(key)
        if top in BACKBONE_MODULES:
            out[BACKBONE_PREFIX + key] = value
        elif top in HEAD_MODULES:
            if task != 'recognition':
                report.dropped[key] = (f'classifier, not used by task '
                                       f'"{task}"')
                continue
            new = CLS_HEAD_PREFIX + key
            if new not in target_shapes:
                report.dropped[key] = (f'the target has no {new} (set '
                                       'with_kd=True for head_kd)'
                                       if top == 'head_kd' else
                                       f'the target has no {new}')
                continue
            if tuple(value.shape) != tuple(target_shapes[new]):
                report.dropped[key] = (
                    f'classifier shape {tuple(value.shape)} != target '
                    f'{tuple(target_shapes[new])} (different number of '
                    'classes); the target keeps its own init')
                continue
            out[new] = value
        else:
            # e.g. neck.* / decode_head.* of official segmentation files:
            # kept when the target has the same key and shape
            out[key] = value

    heads = [k for k in source if _top(k) in HEAD_MODULES]
    mapped = [k for k in heads if CLS_HEAD_PREFIX + k in out]
    if not heads:
        report.head = 'none in the checkpoint'
    elif mapped and len(mapped) == len(heads):
        report.head = ('mapped ' + ', '.join(sorted({_top(k)
                                                     for k in mapped})) +
                       ' → cls_head.*')
    elif mapped:
        report.head = ('mapped ' + ', '.join(sorted({_top(k)
                                                     for k in mapped})) +
                       ' → cls_head.*; dropped the rest (see dropped)')
    else:
        report.head = 'dropped (see dropped)'

    # attn_bn of Hamming-mode targets: initialise those the source lacks
    for key, shape in target_shapes.items():
        if '.attn_bn.' in key and key not in out \
                and key.startswith(BACKBONE_PREFIX):
            suffix = key.rsplit('.', 1)[1]
            num = int(shape[0]) if len(shape) else 0
            if suffix == 'num_batches_tracked':
                value = torch.tensor(0, dtype=torch.long)
            else:
                value = fresh_bn_state(max(num, 1))[suffix]
            out[key] = value
            report.attn_bn_initialised.append(key)

    # an RGB stem for a grey-scale model (in_channels=1, e.g. MMHPSD frames):
    # summing the colour filters gives exactly the RGB filters' response to
    # the grey frame replicated over 3 channels
    stem = BACKBONE_PREFIX + 'downsample1_1.encode_conv.weight'
    if stem in out and stem in target_shapes:
        have, want = tuple(out[stem].shape), tuple(target_shapes[stem])
        if len(have) == 4 and len(want) == 4 and have[1] == 3 and \
                want[1] == 1 and have[0] == want[0] and have[2:] == want[2:]:
            out[stem] = out[stem].sum(dim=1, keepdim=True)
            report.adapted[stem] = (
                'RGB stem summed over its 3 input channels for the '
                'grey-scale target (in_channels=1)')

    final = OrderedDict()
    for key, value in out.items():
        if key not in target_shapes:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(target_shapes[key]):
            report.shape_mismatch[key] = (f'{tuple(value.shape)} vs '
                                          f'{tuple(target_shapes[key])}')
        else:
            final[key] = value
    for key in target_shapes:
        if key in final:
            continue
        if key.startswith(BACKBONE_PREFIX):
            report.missing.append(key)
        else:
            report.task_keys_left.append(key)
    report.num_output_keys = len(final)
    return final, report


def convert_mmsvf_to_official(
        state_dict: Dict[str, torch.Tensor]
) -> 'OrderedDict[str, torch.Tensor]':
    """Inverse of :func:`convert_official_to_mmsvf` (recognition/backbone).

    ``backbone.X`` → ``X``, ``cls_head.head.*`` → ``head.*``,
    ``cls_head.head_kd.*`` → ``head_kd.*``; other keys (necks, task heads)
    have no official counterpart and are left out.

    Args:
        state_dict (dict): An mmsvf model's state dict.

    Returns:
        OrderedDict: The official-layout state dict.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(BACKBONE_PREFIX):
            out[key[len(BACKBONE_PREFIX):]] = value
        elif key.startswith(CLS_HEAD_PREFIX) and _top(
                key[len(CLS_HEAD_PREFIX):]) in HEAD_MODULES:
            out[key[len(CLS_HEAD_PREFIX):]] = value
    return out


def convert_file(src: str,
                 dst: str,
                 task: str = 'recognition',
                 config: Optional[str] = None,
                 cfg_options: Optional[dict] = None,
                 num_classes: Optional[int] = None,
                 unsafe: bool = False,
                 strict: bool = False,
                 source_format: str = 'spikevideoformer'
                 ) -> ConversionReport:
    """Convert an official checkpoint file into an mmsvf checkpoint file.

    Args:
        src (str): Official checkpoint.
        dst (str): Output (``{'state_dict': ..., 'meta': {...}}``, written
            atomically).
        task (str): One of :data:`TASKS`.
        config (str, optional): mmsvf config whose model is the target.
        cfg_options (dict, optional): Overrides for ``config``.
        num_classes (int, optional): Without a config, the recognition
            target's number of classes (the classifier is dropped when it
            differs).
        unsafe (bool): Allow full unpickling of a trusted file.
        strict (bool): Fail (and write nothing) when a backbone key is
            missing or a key is unexpected / of another shape.
        source_format (str): ``'metaspikeformer'`` (alias
            ``'metaspikformer'``, the official code's spelling) or
            ``'spikevideoformer'``; recorded in the meta, names the converter
            in messages.

    Returns:
        ConversionReport: What was done.

    Raises:
        RuntimeError: ``strict`` and the conversion is not clean.
    """
    from mmsvf import __version__
    if source_format not in SOURCE_FORMATS:
        raise ValueError(f'source_format must be one of '
                         f'{sorted(SOURCE_FORMATS)}, got {source_format!r}')
    source_format = SOURCE_FORMATS[source_format]
    converter = CONVERTERS[source_format]
    checkpoint = load_checkpoint_file(src, unsafe=unsafe, converter=converter)
    state, container = extract_state_dict(checkpoint, src)
    target, desc = None, ''
    if config is not None:
        cfg = _load_config(config, cfg_options)  # read once for both tries
        try:
            target = config_target_shapes(cfg)
            desc = f'model of {config}'
        except Exception as err:  # noqa: BLE001 - reported, then fallback
            # e.g. a pose model needs the licence-gated SMPL file to be
            # built; its state dict (and so the mapping) does not
            try:
                target = config_backbone_shapes(cfg)
            except Exception:
                raise err
            # first sentence of the first line, e.g. 'SMPL model file not
            # found: "data/smpl/SMPL_MALE.pkl"'
            reason = (str(err).strip().splitlines() or [''])[0]
            reason = reason.split('. ', 1)[0][:160]
            desc = (f'backbone of {config} only (the full model could not '
                    f'be built here: {type(err).__name__}: {reason}); '
                    'backbone.* keys are compared, task keys are not')
            print(f'warning: {desc}', file=sys.stderr)
    elif num_classes is not None and task == 'recognition':
        source = _strip_backbone_prefix(state)
        cfg = infer_backbone_config(source, src)
        cfg['similarity'] = 'hamming'
        target = backbone_target_shapes(cfg)
        channels = cfg['embed_dims'][3]
        for name in HEAD_MODULES:
            if f'{name}.weight' in source:
                target[f'{CLS_HEAD_PREFIX}{name}.weight'] = torch.Size(
                    (num_classes, channels))
                target[f'{CLS_HEAD_PREFIX}{name}.bias'] = torch.Size(
                    (num_classes, ))
        desc = (f'SpikeVideoFormer(embed_dims={cfg["embed_dims"]}, '
                f'depths={cfg["depths"]}, similarity=hamming) + '
                f'{num_classes}-class head')
    new_state, report = convert_official_to_mmsvf(state, task, target, desc)
    report.container = container
    if strict and not report.clean:
        raise RuntimeError(
            f'{src}: conversion is not clean (--strict); nothing written.\n' +
            report.format())
    meta = dict(
        mmsvf_version=__version__,
        converter=converter,
        source_format=source_format,
        source=osp.abspath(src),
        source_sha256=file_sha256(src),
        task=task,
        config=config,
        report=report.to_dict())
    save_checkpoint_atomic(dict(state_dict=new_state, meta=meta), dst)
    return report
