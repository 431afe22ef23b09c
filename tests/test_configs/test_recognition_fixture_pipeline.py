# Copyright (c) mmsvf contributors. All rights reserved.
"""The Kinetics configs' test pipelines on real clips (../shared/fixtures)."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmsvf.utils import register_all_modules

CONFIG = (Path(__file__).resolve().parents[2] / 'configs' / 'recognition' /
          'spikevideoformer' /
          'spikevideoformer-small_8xb8-t8-30e_kinetics400-rgb.py')
LIST = 'derived/k400_style/k400_fixture_list.txt'
VIDEOS = ('mmaction2/demo/demo.mp4', 'mmaction2/tests/data/test.mp4',
          'mmaction2/tests/data/test.avi')


def _small_sizes(pipeline, size):
    """The config's pipeline with its resolution scaled down to ``size``."""
    out = copy.deepcopy(pipeline)
    for step in out:
        if step['type'] == 'Resize':
            step['scale'] = (-1, size)
        if step['type'] in ('CenterCrop', 'ThreeCrop'):
            step['crop_size'] = size
    return out


def _dataset(cfg, fixtures, pipeline, dataset_type):
    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    return DATASETS.build(
        dict(type=dataset_type, ann_file=str(fixtures / LIST),
             data_prefix=dict(video=str(fixtures)), pipeline=pipeline,
             test_mode=True))


@pytest.fixture(scope='module')
def tiny_recognizer():
    from mmaction.registry import MODELS
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone.update(embed_dims=[16, 32, 64, 64], depths=(1, 1),
                              num_heads=2)
    cfg.model.backbone.pop('arch')
    cfg.model.cls_head.in_channels = 64
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model.eval()


@pytest.mark.parametrize('dataset_type',
                         ['VideoDataset', 'mmsvf.CheckedVideoDataset'])
def test_val_pipeline_on_real_clips(shared_fixtures, tiny_recognizer,
                                    dataset_type):
    cfg, model = tiny_recognizer
    pipeline = _small_sizes(cfg.val_dataloader.dataset.pipeline, 64)
    ds = _dataset(cfg, shared_fixtures, pipeline, dataset_type)
    assert len(ds) == 3
    assert [Path(ds.get_data_info(i)['filename']).name for i in range(3)] == \
        [Path(v).name for v in VIDEOS]
    batch = pseudo_collate([ds[i] for i in range(3)])
    data = model.data_preprocessor(batch, training=False)
    # (batch, views, C, T, H, W): one view of 3 x 8 x 64 x 64 per clip
    assert data['inputs'].shape == (3, 1, 3, 8, 64, 64)
    assert data['inputs'].dtype == torch.float32
    # normalised frames, not raw bytes
    assert -5 < data['inputs'].mean().item() < 5
    with torch.no_grad():
        preds = model.test_step(batch)
    assert len(preds) == 3
    for pred, label, video in zip(preds, (6, 62, 4), VIDEOS):
        assert pred.filename.endswith(video)  # meta_keys keep the file
        assert pred.pred_score.shape == (400, )
        assert torch.isfinite(pred.pred_score).all()
        assert abs(pred.pred_score.sum().item() - 1) < 1e-4  # 'prob' avg
        assert int(pred.gt_label) == label


def test_multi_view_test_pipeline_on_real_clip(shared_fixtures,
                                               tiny_recognizer):
    cfg, model = tiny_recognizer
    pipeline = _small_sizes(cfg.test_dataloader.dataset.pipeline, 64)
    ds = _dataset(cfg, shared_fixtures, pipeline, 'VideoDataset')
    sample = ds[2]  # test.avi (mpeg4 + mp3)
    # 4 clips x 3 crops = 12 views of (3, 8, 64, 64)
    batch = pseudo_collate([sample])
    data = model.data_preprocessor(batch, training=False)
    assert data['inputs'].shape == (1, 12, 3, 8, 64, 64)
    with torch.no_grad():
        pred = model.test_step(batch)[0]
    assert pred.pred_score.shape == (400, )
