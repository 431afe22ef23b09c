# Copyright (c) mmsvf contributors. All rights reserved.
"""Every recognition config loads, builds and is consistent with its name."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmsvf.models import SpikeVideoFormer, SpikingClsHead
from mmsvf.utils import register_all_modules

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'recognition'
CONFIGS = sorted(CONFIG_DIR.rglob('*.py'))
IDS = [p.name for p in CONFIGS]


def _build_model(cfg):
    from mmaction.registry import MODELS
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    return MODELS.build(cfg.model)


def test_configs_found():
    assert len(CONFIGS) >= 15, CONFIGS


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_loads_and_matches_name(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmaction'
    name = path.name
    backbone, head = cfg.model.backbone, cfg.model.cls_head
    assert backbone.type == 'mmsvf.SpikeVideoFormer'
    if '_i3d-head' in name:
        assert head.type == 'I3DHead'
        assert cfg.model.neck.type == 'mmsvf.FeatureSelector'
    else:
        assert head.type == 'mmsvf.SpikingClsHead'
    assert cfg.model.data_preprocessor.format_shape == 'NCTHW'

    # frames per clip in the name (t8 / t16 / t32) == every pipeline's T
    t = int(re.search(r'-t(\d+)', name).group(1))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader].dataset.pipeline
        # short videos raise instead of being looped silently
        sample = [p for p in pipeline if 'SampleFrames' in p.type]
        assert len(sample) == 1 and sample[0].clip_len == t, (loader, name)
        assert sample[0].type == 'mmsvf.CheckedSampleFrames', (loader, name)
        assert sample[0].get('short_clip', 'error') == 'error'
        # labels are checked against the head's classes at load time
        assert cfg[loader].dataset.num_classes == head.num_classes, loader
        assert pipeline[-2].type == 'FormatShape'
        assert pipeline[-2].input_format == 'NCTHW'
        # the pipeline builds from the config's scope
        init_default_scope('mmaction')
        Compose(pipeline)

    # batch per GPU in the name (8xb8 / 1xb8)
    gpus, batch = map(int, re.search(r'_(\d+)xb(\d+)', name).groups())
    assert cfg.train_dataloader.batch_size == batch
    if 'auto_scale_lr' in cfg:
        assert cfg.auto_scale_lr.base_batch_size == gpus * batch

    # architecture in the name, ablation switches in the name
    expected = dict(attn_mode='joint', similarity='hamming',
                    reset_each_frame=False)
    if '_dot-similarity' in name:
        expected['similarity'] = 'dot'
    for mode in ('spatial', 'hierarchical', 'factorized', 'causal'):
        if f'_{mode}-attn' in name:
            expected['attn_mode'] = mode
    if '_spatial-only' in name:
        expected.update(attn_mode='spatial', reset_each_frame=True)
    if '_reset-each-frame' in name:
        expected['reset_each_frame'] = True
    for key, value in expected.items():
        assert backbone.get(key) == value, (name, key)
    assert head.get('reset_each_frame', False) == \
        expected['reset_each_frame']

    if 'kinetics400' in name:
        assert head.num_classes == 400
        assert cfg.test_dataloader.dataset.pipeline[1].num_clips == 4
        assert any(p.type == 'ThreeCrop'
                   for p in cfg.test_dataloader.dataset.pipeline)
        arch = 'large' if 'spikevideoformer-large' in name else 'small'
        assert backbone.arch == arch
        assert head.in_channels == SpikeVideoFormer.arch_settings[arch][3]
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert [s.type for s in cfg.param_scheduler] == \
            ['LinearLR', 'CosineAnnealingLR']
    if name.endswith('_tensorboard.py'):
        types = [b.type for b in cfg.visualizer.vis_backends]
        assert 'TensorboardVisBackend' in types
    assert cfg.default_hooks.logger.type == 'LoggerHook'
    assert any(h.type == 'mmsvf.ProgressBarHook' for h in cfg.custom_hooks)
    assert any(h.type == 'mmsvf.NonFiniteGuardHook' and h.get('enabled', True)
               for h in cfg.custom_hooks)


# building the 55 M-parameter model once is enough; no large forward passes
BUILD = [p for p in CONFIGS if p.name in (
    'spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py',
    'spikevideoformer-large_8xb4-t32-30e_kinetics400-rgb.py',
    'spikevideoformer-small_factorized-attn_8xb8-t16-30e_kinetics400-rgb.py',
    'spikevideoformer-small_hierarchical-attn_8xb8-t16-30e_kinetics400-rgb.py',
)]


@pytest.mark.parametrize('path', BUILD, ids=[p.name for p in BUILD])
def test_kinetics_models_build(path):
    cfg = Config.fromfile(str(path))
    model = _build_model(cfg)
    assert type(model).__name__ == 'Recognizer3D'
    assert isinstance(model.backbone, SpikeVideoFormer)
    assert isinstance(model.cls_head, SpikingClsHead)
    assert model.backbone.out_channels[-1] == model.cls_head.in_channels
    n = sum(p.numel() for p in model.parameters())
    if cfg.model.backbone.arch == 'large' and \
            cfg.model.backbone.attn_mode == 'joint':
        assert n == 54_974_352  # Large, Hamming, K-400 head
    if path.name.startswith('spikevideoformer-small_8xb8'):
        assert n == 14_900_120  # Small, Hamming, K-400 head


def _random_clips(shape, labels):
    """An mmaction batch: one random uint8 clip of ``shape`` per label."""
    from mmaction.structures import ActionDataSample
    return dict(
        inputs=[torch.randint(0, 255, shape, dtype=torch.uint8)
                for _ in labels],
        data_samples=[ActionDataSample().set_gt_label(i) for i in labels])


def test_i3d_head_variant_trains_and_predicts():
    """mmaction's I3DHead behind FeatureSelector (tiny widths)."""
    path = [p for p in CONFIGS if '_i3d-head' in p.name]
    assert len(path) == 1
    cfg = Config.fromfile(str(path[0]))
    cfg.model.backbone.update(embed_dims=[16, 32, 64, 64], depths=(1, 1),
                              num_heads=2)
    cfg.model.backbone.pop('arch')
    cfg.model.cls_head.update(in_channels=64, num_classes=5)
    torch.manual_seed(0)
    model = _build_model(cfg)
    model.init_weights()
    data = _random_clips((1, 3, 4, 32, 32), labels=(0, 4))
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    losses['loss_cls'].backward()
    assert model.backbone.downsample1_1.encode_conv.weight.grad is not None
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert preds[0].pred_score.shape == (5, )


def test_feature_selector_errors():
    from mmsvf.models import FeatureSelector
    x = (torch.zeros(1), torch.ones(1))
    assert FeatureSelector()(x)[0] is x[1]
    assert FeatureSelector(0)(x)[0] is x[0]
    with pytest.raises(IndexError, match='2 stages'):
        FeatureSelector(5)(x)
    with pytest.raises(ValueError, match='non-empty'):
        FeatureSelector()(())


TOY = [p for p in CONFIGS if 'toy-motion' in p.name]


@pytest.mark.parametrize('path', TOY, ids=[p.name for p in TOY])
def test_toy_models_forward(path):
    cfg = Config.fromfile(str(path))
    assert 'Flip' not in [p.type for p in
                          cfg.train_dataloader.dataset.pipeline]
    torch.manual_seed(0)
    model = _build_model(cfg)
    model.init_weights()
    data = _random_clips((1, 3, 8, 64, 64), labels=(0, 5))
    model.train()
    data = model.data_preprocessor(data, training=True)
    assert data['inputs'].shape == (2, 1, 3, 8, 64, 64)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss_cls'])
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert preds[0].pred_score.shape == (6, )
