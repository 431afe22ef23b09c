# Copyright (c) mmsvf contributors. All rights reserved.
"""The pose configs load, build, and the toy config runs in a Runner."""
import uuid

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmsvf.registry import MODELS
from mmsvf_test_utils import load_script

make_synthetic_smpl = load_script(
    'tools/data/generate_toy_mmhpsd.py').make_synthetic_smpl

CFG_DIR = 'configs/pose/spikevideoformer'
LARGE_T8 = 'spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py'
TOY = 'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py'


def _load(repo_root, name):
    return Config.fromfile(str(repo_root / CFG_DIR / name))


def test_all_pose_configs_load(repo_root):
    names = sorted(p.name for p in (repo_root / CFG_DIR).glob('*.py'))
    assert LARGE_T8 in names and TOY in names and len(names) == 6
    for name in names:
        cfg = _load(repo_root, name)
        assert cfg.default_scope == 'mmpose'
        assert cfg.model.type == 'mmsvf.SpikePoseEstimator'
        assert cfg.model.backbone.in_channels == 1
        assert cfg.train_dataloader.dataset.type == 'mmsvf.MMHPSDDataset'
        assert {m['type'] for m in cfg.val_evaluator} == {
            'mmsvf.SMPLPoseMetric', 'MPJPE'}
    by = {n: _load(repo_root, n) for n in names}
    t32 = by['spikevideoformer-large_1xb8-t32-25e_mmhpsd-gray-256px.py']
    assert t32.train_dataloader.dataset.clip_len == 32
    assert t32.test_dataloader.dataset.clip_len == 32
    # HumanPoseTracking_SNN run_train.sh: 25 epochs, cosine T_max 26
    assert t32.train_cfg.max_epochs == 25
    (cos, ) = t32.param_scheduler
    assert (cos.type, cos.T_max, cos.end) == ('CosineAnnealingLR', 26, 25)
    assert t32.model.pool == 'spikes' and t32.model.head.detach_transl
    dot = by['spikevideoformer-large_table6-dot-similarity_1xb8-t8-20e_mmhpsd-'
             'gray-256px.py']
    assert dot.model.backbone.similarity == 'dot'
    # Table 6 'spatial-only', mmsvf's reading and the official '2D'
    spatial = by['spikevideoformer-large_table6-spatial-only-hamming-reset_'
                 '1xb8-t8-20e_mmhpsd-gray-256px.py']
    assert spatial.model.backbone.attn_mode == 'spatial'
    assert spatial.model.backbone.reset_each_frame is True
    assert spatial.model.pool_neuron.reset_each_step is True
    official = by['spikevideoformer-large_table6-spatial-only-official-2d_'
                  '1xb8-t8-20e_mmhpsd-gray-256px.py']
    assert official.model.backbone.attn_mode == '2D'
    assert official.model.backbone.reset_each_frame is False
    t8 = by[LARGE_T8]
    assert t8.train_dataloader.batch_size == 8
    assert t8.train_cfg.max_epochs == 20
    assert t8.param_scheduler[0].type == 'CosineAnnealingLR'


def test_large_model_builds_with_recipe_lrs(repo_root, tmp_path):
    cfg = _load(repo_root, LARGE_T8)
    smpl = tmp_path / 'toy_smpl.npz'
    np.savez(smpl, **make_synthetic_smpl())
    cfg.model.head.smpl_cfg.model_path = str(smpl)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    n_head = sum(p.numel() for p in model.head.parameters())
    # Counted from the official layers: Large, Hamming, no head = 54,717,952
    # for RGB; one grey input channel saves 2 x 7 x 7 x 64 stem weights
    assert n_backbone == 54_717_952 - 2 * 7 * 7 * 64
    assert n_head == 640 * (24 * 6 + 10 + 3) + 24 * 6 + 10 + 3
    head_ids = {id(p) for p in model.head.parameters()}
    for group in optim.optimizer.param_groups:
        is_head = {id(p) in head_ids for p in group['params']}
        assert len(is_head) == 1
        assert group['lr'] == pytest.approx(1e-4 if is_head.pop() else 0.01)


def test_missing_smpl_file_error_from_config(repo_root):
    cfg = _load(repo_root, LARGE_T8)
    cfg.model.backbone.update(arch=None, embed_dims=[16, 32, 64, 64],
                              depths=(1, 1), num_heads=2)
    cfg.model.head.in_channels = 64
    with DefaultScope.overwrite_default_scope('mmpose'):
        with pytest.raises(FileNotFoundError,
                           match=r'data/smpl/SMPL_MALE\.pkl.*'
                           r'model\.head\.smpl_cfg\.model_path'):
            MODELS.build(cfg.model)


def test_toy_backbone_features_depend_on_the_clip(repo_root, tmp_path):
    """In training mode the toy model's pooled features (what the SMPL head
    sees) differ between clips: with BN kept at its initial fixed statistics
    (``norm_eval=True``) no spike reaches the last stage and every clip gave
    the same features, so the toy could only learn the training-set mean."""
    import cv2
    import torch
    gen = load_script('tools/data/generate_toy_mmhpsd.py')
    data = tmp_path / 'toy'
    size = 64
    actions = gen.generate(str(data), subjects=(3, 4), frames=2, size=size,
                           seed=0)
    cfg = _load(repo_root, TOY)
    cfg.model.head.smpl_cfg.model_path = str(data / 'toy_smpl.npz')
    clips = torch.stack([
        torch.stack([
            torch.from_numpy(
                cv2.imread(
                    str(data / 'mmhpsd_grayscale_img' / a / 'imgs' /
                        f'fullpic{i:04d}.jpg'), cv2.IMREAD_GRAYSCALE))[None]
            for i in range(2)
        ]) for a in actions
    ])  # (2, T=2, 1, 64, 64) uint8
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=clips))['inputs']
        feats = model.extract_feat(inputs)  # (2, T, 64)
    assert feats.shape == (2, 2, 64)
    assert (feats[0] - feats[1]).abs().max() > 1e-2


def test_toy_config_trains_and_evaluates_in_a_runner(repo_root, tmp_path):
    from mmengine.runner import Runner
    gen = load_script('tools/data/generate_toy_mmhpsd.py')
    data = tmp_path / 'toy'
    gen.generate(str(data), subjects=(1, 3), frames=4, size=32, seed=0)

    cfg = _load(repo_root, TOY)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'toy_pose_{uuid.uuid4().hex}'
    cfg.model.head.smpl_cfg.model_path = str(data / 'toy_smpl.npz')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].batch_size = 2
        cfg[loader].dataset.update(data_root=str(data), clip_len=2)
    for pipe in (cfg.train_dataloader.dataset.pipeline,
                 cfg.val_dataloader.dataset.pipeline):
        pipe[1]['size' if 'size' in pipe[1] else 'scale'] = (32, 32)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.update(interval=1, save_best=None)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    for key in ('smpl/MPJPE', 'smpl/PEL-MPJPE', 'smpl/PA-MPJPE', 'smpl/PVE',
                'smpl/PCKh@0.5', 'mmpose/MPJPE', 'mmpose/P-MPJPE'):
        assert np.isfinite(metrics[key]), key
    # mmpose's metric reads the same predictions, in metres
    assert metrics['mmpose/MPJPE'] * 1000 == pytest.approx(
        metrics['smpl/MPJPE'], rel=1e-3)
    assert metrics['mmpose/P-MPJPE'] * 1000 == pytest.approx(
        metrics['smpl/PA-MPJPE'], rel=1e-3)
