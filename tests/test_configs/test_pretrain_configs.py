# Copyright (c) mmsvf contributors. All rights reserved.
"""configs/pretrain: the ImageNet recipe; a tiny run on generated images."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from mmsvf.utils import register_all_modules
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
PRETRAIN = REPO / 'configs' / 'pretrain'
STAGE_A = {
    'small': 'spikevideoformer-small_8xb128-t1-200e_in1k.py',
    'large': 'spikevideoformer-large_8xb128-t1-200e_in1k.py',
}
STAGE_B = {
    'small': 'spikevideoformer-small_8xb24-t4-50e_in1k.py',
    'large': 'spikevideoformer-large_8xb24-t4-50e_in1k.py',
}
TINY = 'spikevideoformer-tiny_1xb8-t1_toy-imagefolder.py'
TOY_RECOGNITION = REPO / ('configs/recognition/spikevideoformer/'
                          'spikevideoformer-tiny_1xb8-t8_toy-motion.py')


def by_type(pipeline, name):
    found = [t for t in pipeline if t['type'] == name]
    assert len(found) == 1, (name, pipeline)
    return found[0]


@pytest.mark.parametrize('arch', ['small', 'large'])
def test_stage_a_recipe(arch):
    cfg = Config.fromfile(PRETRAIN / STAGE_A[arch])
    assert cfg.default_scope == 'mmaction'
    assert cfg.model.backbone.type == 'mmsvf.SpikeVideoFormerImage'
    assert cfg.model.backbone.time_steps == 1
    assert cfg.model.backbone.arch == arch
    assert cfg.model.cls_head.num_classes == 1000
    assert cfg.model.cls_head.label_smooth_eps == 0.1
    assert cfg.train_dataloader.batch_size == 128
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert opt.optimizer.type == 'mmsvf.Lamb'
    assert opt.optimizer.lr == pytest.approx(6e-4 * 8 * 128 / 256)
    assert opt.optimizer.weight_decay == 0.05
    assert cfg.auto_scale_lr.base_batch_size == 8 * 128
    assert cfg.train_cfg.max_epochs == 200
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 10)
    assert (cosine.type, cosine.begin, cosine.end, cosine.eta_min) == (
        'CosineAnnealingLR', 10, 200, 1e-6)
    train = cfg.train_dataloader.dataset.pipeline
    assert by_type(train, 'mmsvf.RandAugment')['policy'] == \
        'rand-m9-mstd0.5-inc1'
    erasing = by_type(train, 'RandomErasing')
    assert (erasing.erase_prob, erasing.mode) == (0.25, 'rand')
    assert by_type(train, 'Resize')['scale'] == (224, 224)
    assert by_type(cfg.val_dataloader.dataset.pipeline,
                   'CenterCrop')['crop_size'] == 224


@pytest.mark.parametrize('arch', ['small', 'large'])
def test_stage_b_starts_from_stage_a(arch):
    a = Config.fromfile(PRETRAIN / STAGE_A[arch])
    b = Config.fromfile(PRETRAIN / STAGE_B[arch])
    assert b.model.backbone.time_steps == 4
    assert b.model.backbone.arch == arch
    assert b.train_cfg.max_epochs == 50
    assert b.train_dataloader.batch_size == 24
    assert b.optim_wrapper.optimizer.lr == pytest.approx(2e-5 * 8 * 24 / 256)
    warmup, cosine = b.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end) == (5, 5, 50)
    stem = Path(STAGE_A[arch]).stem
    assert b.load_from == (f'work_dirs/{stem}/'
                           f'epoch_{a.train_cfg.max_epochs}.pth')
    # the classifier and backbone shapes agree, so load_from maps 1:1
    assert b.model.cls_head.in_channels == a.model.cls_head.in_channels


@pytest.mark.parametrize('name,expected', [
    (STAGE_A['small'], 15_116_720),  # Hamming + 1000-class head
    (STAGE_A['large'], 55_358_952),
    (STAGE_B['small'], 15_116_720),
])
def test_configs_build(name, expected):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(PRETRAIN / name)
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == expected
    # stage B: Recognizer3D with the distillation option (no teacher set)
    assert type(model).__name__ == ('DistillRecognizer3D' if name in
                                    STAGE_B.values() else 'Recognizer3D')
    assert getattr(model, 'teacher', None) is None
    assert type(model.backbone).__name__ == 'SpikeVideoFormerImage'


def test_kd_head_option_builds():
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(PRETRAIN / STAGE_B['small'])
    cfg.model.cls_head.with_kd = True
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert model.cls_head.head_kd.weight.shape == (1000, 360)


@pytest.fixture(scope='module')
def toy_images(tmp_path_factory):
    out = tmp_path_factory.mktemp('toy_imagefolder')
    gen = load_script('tools/data/generate_toy_imagefolder.py')
    gen.main(['--out', str(out), '--num-train', '1', '--num-val', '1',
              '--size', '40'])
    return out


def tiny_overrides(data_root, work_dir, max_epochs):
    return [
        '--work-dir', str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=4', 'val_dataloader.batch_size=4',
        f'train_cfg.max_epochs={max_epochs}', 'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=2',
        'default_hooks.logger.interval=1'
    ]


def test_tiny_pretraining_initialises_recognition(toy_images, tmp_path):
    train = load_script('tools/train.py')
    config = str(PRETRAIN / TINY)
    work_dir = tmp_path / 'work'
    runner = train.main([config] + tiny_overrides(toy_images, work_dir, 1))
    assert runner.iter == 1  # 4 images, batch 4, one epoch
    ckpt_path = work_dir / 'epoch_1.pth'
    ckpt = torch.load(ckpt_path, map_location='cpu')  # weights_only default
    backbone = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()
                if k.startswith('backbone.')}
    assert backbone and 'cls_head.head.weight' in ckpt['state_dict']

    # resuming mmsvf's own checkpoint (HistoryBuffer, numpy, Lamb state)
    runner = train.main([config, '--resume', str(ckpt_path),
                         '--no-validate'] +
                        tiny_overrides(toy_images, work_dir, 2))
    assert runner.epoch == 2 and runner.iter == 2
    lamb = runner.optim_wrapper.optimizer
    assert type(lamb).__name__ == 'Lamb'
    assert lamb.param_groups[0]['step'] == 2

    # the image-pretrained backbone initialises a video recognizer unchanged
    register_all_modules(init_default_scope=False)
    if TOY_RECOGNITION.is_file():
        cfg = Config.fromfile(TOY_RECOGNITION)
        model_cfg = cfg.model
    else:  # the recognition configs are not there: a tiny Recognizer3D
        model_cfg = Config(dict(model=dict(
            type='Recognizer3D',
            backbone=dict(type='mmsvf.SpikeVideoFormer',
                          embed_dims=[16, 32, 64, 64], depths=(2, 1),
                          num_heads=2, out_indices=(3, )),
            cls_head=dict(type='mmsvf.SpikingClsHead', in_channels=64,
                          num_classes=8),
            data_preprocessor=dict(type='ActionDataPreprocessor',
                                   format_shape='NCTHW')))).model
    model_cfg.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(ckpt_path), prefix='backbone.')
    init_default_scope('mmaction')
    model = MODELS.build(model_cfg)
    model.init_weights()
    state = model.backbone.state_dict()
    assert set(state) == set(backbone)
    for key, value in backbone.items():
        assert torch.equal(state[key], value), key
