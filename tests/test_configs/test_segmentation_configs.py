# Copyright (c) mmsvf contributors. All rights reserved.
"""configs/segmentation: recipes load and build; the toy config runs
end to end (a short training that lowers the loss, evaluation,
``tools/test.py --show-dir``)."""
import copy
import os.path as osp
import uuid
from pathlib import Path

import mmcv
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmsvf.utils import register_all_modules
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
SEG = REPO / 'configs' / 'segmentation' / 'spikevideoformer'
CITY = SEG / 'spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py'  # noqa: E501
VSPW = SEG / 'spikevideoformer-small_fpn_lif_8xb1-t4-160k_vspw-480x480.py'
TOY = SEG / 'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py'
PAPER = sorted(p for p in SEG.glob('*.py') if '160k' in p.name)


_CONFIGS = {}


def load_config(path):
    """``Config.fromfile`` once per file (resolving ``mmseg::`` is slow)."""
    if path not in _CONFIGS:
        _CONFIGS[path] = Config.fromfile(path)
    return copy.deepcopy(_CONFIGS[path])


@pytest.fixture(autouse=True)
def _registered():
    # function scope: runs after conftest's per-test ``mmsvf`` scope
    register_all_modules(init_default_scope=False)
    init_default_scope('mmseg')


def test_configs_found():
    names = {p.name for p in SEG.glob('*.py')}
    assert len(PAPER) == 10 and CITY.name in names and TOY.name in names


def test_paper_recipe():
    cfg = load_config(CITY)
    assert cfg.default_scope == 'mmseg'
    model = cfg.model
    assert model.type == 'mmsvf.VideoEncoderDecoder'
    assert model.data_preprocessor.type == 'mmsvf.VideoSegDataPreprocessor'
    assert model.data_preprocessor.size == (512, 1024)
    assert model.backbone._scope_ == 'mmsvf' and model.backbone.arch == 'small'
    ilif4 = dict(type='IntegerLIF', max_level=4)
    assert model.backbone.neuron == ilif4
    # binary Q/K/V: SDHA as the paper defines it (docs/segmentation.md)
    assert model.backbone.attn_neuron == dict(type='LIF')
    assert (model.backbone.attn_mode, model.backbone.similarity) == (
        'joint', 'hamming')
    assert (model.neck.type, model.neck.out_channels) == ('mmsvf.SpikingFPN',
                                                          128)
    assert model.neck.in_channels == [32, 64, 128, 360]
    assert model.neck.neuron == ilif4
    head = model.decode_head
    assert (head.type, head.channels, head.dropout_ratio,
            head.num_classes) == ('mmsvf.SpikingFPNHead', 128, 0.1, 19)
    assert head.neuron == ilif4
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert (opt.optimizer.type, opt.optimizer.lr,
            opt.optimizer.weight_decay) == ('AdamW', 1e-3, 0.005)
    assert opt.paramwise_cfg.custom_keys['neck'].lr_mult == 2.
    assert opt.paramwise_cfg.custom_keys['decode_head'].lr_mult == 2.
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 1500)
    assert (poly.type, poly.power, poly.begin, poly.end) == ('PolyLR', 1.0,
                                                             1500, 160000)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == 1  # x 8 GPUs = 8
    assert cfg.train_dataloader.dataset.clip_len == 4
    assert cfg.val_evaluator.type == 'IoUMetric'

    vspw = load_config(VSPW)
    assert vspw.model.decode_head.num_classes == 124
    assert vspw.model.backbone.neuron == dict(type='LIF')
    assert vspw.model.neck.type == 'mmsvf.SpikingFPN'
    assert vspw.model.decode_head.neuron == dict(type='LIF')
    assert [e['type'] for e in vspw.val_evaluator] == [
        'IoUMetric', 'mmsvf.VideoConsistencyMetric'
    ]
    assert vspw.default_hooks.visualization.type == \
        'mmsvf.VideoSegVisualizationHook'


@pytest.mark.parametrize('path', PAPER, ids=lambda p: p.stem)
def test_variants_differ_in_one_thing(path):
    cfg = load_config(path)
    if 'vspw' in path.name:
        return
    base = load_config(CITY).model
    model = cfg.model
    changed = {
        key
        for key in set(model.backbone) | set(base.backbone)
        if model.backbone.get(key) != base.backbone.get(key)
    }
    expected = {
        'table6-dot-similarity': {'similarity'},
        'table6-spatial-only-official-2d': {'attn_mode'},
        'table6-spatial-only-hamming-reset': {'attn_mode',
                                              'reset_each_frame'},
        'spatial-attn': {'attn_mode'},
        'fpn_lif': {'neuron'},
    }
    want = next((v for k, v in expected.items() if k in path.name), set())
    assert changed == want
    if 'upernet' in path.name:
        assert model.neck is None and model.decode_head.type == 'UPerHead'
    elif 'plain-fpn-decoder' in path.name:
        assert (model.neck.type, model.decode_head.type) == ('FPN',
                                                             'FPNHead')
    elif 'hamming-reset' in path.name:  # the decoder restarts too
        assert model.decode_head.neuron.reset_each_step is True
        assert model.neck.neuron.reset_each_step is True
    elif 'fpn_lif' in path.name:  # LIF in the decoder too
        assert model.decode_head.neuron == model.neck.neuron == dict(
            type='LIF')
        assert dict(model.decode_head, neuron=None) == dict(
            base.decode_head, neuron=None)
    else:
        assert model.decode_head == base.decode_head


BUILD = [p for p in PAPER if 'spatial' not in p.name and 'fpn_lif_8' not in
         p.name or 'vspw' in p.name]


@pytest.mark.parametrize('path', BUILD, ids=lambda p: p.stem)
def test_models_build(path):
    from mmseg.registry import MODELS
    cfg = load_config(path)
    model = MODELS.build(cfg.model)
    backbone = sum(p.numel() for p in model.backbone.parameters())
    # Small backbone without head (Hamming adds attn_bn)
    assert backbone == (14751208 if 'dot' in path.name else 14755720)
    for name in ('train_dataloader', 'test_dataloader'):
        Compose(cfg[name].dataset.pipeline)  # every transform resolves


def test_city_test_pipeline_on_fixture(shared_fixtures):
    from mmseg.registry import DATASETS
    cfg = load_config(CITY)
    dataset = cfg.test_dataloader.dataset
    dataset.update(
        data_root=str(shared_fixtures / 'mmsegmentation/tests/data/'
                      'pseudo_cityscapes_dataset'),
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        missing_frames='nearest')
    out = DATASETS.build(dataset)[0]
    assert out['inputs'].shape == (4, 3, 512, 1024)
    assert out['data_samples'].gt_sem_seg.data.shape == (1, 128, 256)


def test_vspw_pipelines_on_fixture(shared_fixtures):
    from mmseg.registry import DATASETS
    cfg = load_config(VSPW)
    root = str(shared_fixtures / 'derived/vspw_style/VSPW_fixture')
    train = cfg.train_dataloader.dataset
    train.update(data_root=root)
    torch.manual_seed(0)
    out = DATASETS.build(train)[4]
    clip, sample = out['inputs'], out['data_samples']
    assert clip.shape[:2] == (4, 3) and max(clip.shape[2:]) <= 480
    assert sample.gt_sem_seg.data.shape[1:] == clip.shape[2:]
    test = cfg.test_dataloader.dataset
    test.update(data_root=root, ann_file='val.txt')
    out = DATASETS.build(test)[2]
    assert out['data_samples'].clip_frame_indices == [0, 0, 1, 2]


def test_toy_config_end_to_end(tmp_path):
    from mmengine.runner import Runner
    gen = load_script('tools/data/generate_toy_vspw.py')
    data_root = str(tmp_path / 'toy')
    gen.main(['--out', data_root, '--num-train', '2', '--num-val', '1',
              '--frames', '8', '--size', '32'])
    cfg = load_config(TOY)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.batch_size = 2
    # the spiking decoder starts nearly silent (V2's neck has no norm) and
    # learns through the surrogate gradients first: 24 iterations
    iters = 24
    cfg.train_cfg.update(max_iters=iters)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None  # test below
    cfg.default_hooks.checkpoint.interval = iters
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0,
                                by_epoch=False)]
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'toy_seg_{uuid.uuid4().hex}'
    runner = Runner.from_cfg(cfg)
    runner.train()

    # a short toy training lowers the loss (per-iteration history of the
    # runner's message hub)
    losses = runner.message_hub.get_scalar('train/decode.loss_ce').data[0]
    assert len(losses) == iters
    first, last = losses[:4].mean(), losses[-4:].mean()
    assert last < 0.8 * first, losses.tolist()

    # tools/test.py --show-dir: one overlay per evaluated frame
    test_tool = load_script('tools/test.py')
    show_dir = tmp_path / 'vis'
    ckpt = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    metrics = test_tool.main([
        str(TOY), ckpt, '--work-dir', str(tmp_path / 'test'), '--show-dir',
        str(show_dir), '--cfg-options', f'test_dataloader.dataset.data_root='
        f'{data_root}', 'test_dataloader.batch_size=2',
        f'experiment_name=toy_seg_test_{uuid.uuid4().hex}',
        # a fresh visualiser (the training runner made one named
        # 'visualizer' in this process)
        f'visualizer.name=vis_{uuid.uuid4().hex}'
    ])
    # test_evaluator: IoUMetric + VideoConsistencyMetric(windows=(8, 16))
    assert set(metrics) >= {'mIoU', 'aAcc', 'mVC8', 'mVC16'}
    assert 0 <= metrics['mVC8'] <= 100
    assert metrics['mVC16'] != metrics['mVC16']  # nan: 8-frame videos
    overlays = sorted(show_dir.rglob('*.png'))
    names = [p.name for p in overlays]
    assert len(names) == 8, names
    assert all(name.startswith('test_toy_val_000_000000') for name in names)
    # SegLocalVisualizer: ground truth beside prediction, at the 32x32
    # original frame size
    assert mmcv.imread(str(overlays[0])).shape == (32, 64, 3)


def test_toy_generator_is_deterministic(tmp_path):
    gen = load_script('tools/data/generate_toy_vspw.py')
    args = ['--num-train', '1', '--num-val', '1', '--frames', '3', '--size',
            '32']
    gen.main(['--out', str(tmp_path / 'a'), '--seed', '3'] + args)
    gen.main(['--out', str(tmp_path / 'b'), '--seed', '3'] + args)
    gen.main(['--out', str(tmp_path / 'c'), '--seed', '4'] + args)
    files = sorted(p.relative_to(tmp_path / 'a')
                   for p in (tmp_path / 'a' / 'data').rglob('*.*'))
    assert len(files) == 12  # 2 videos x 3 frames x (jpg + png)

    def read(folder, f):
        return (tmp_path / folder / f).read_bytes()

    assert all(read('a', f) == read('b', f) for f in files)
    assert not any(read('a', f) == read('c', f) for f in files)
