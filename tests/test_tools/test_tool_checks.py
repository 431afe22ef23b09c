# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/train.py, tools/test.py and demo/demo_video.py refuse what would
run silently wrong: checkpoints that do not fit, unreadable files, config
typos, a work dir in use, outputs that cannot be written (issue 13)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from mmsvf.models.utils.checkpoint_convert import convert_mmsvf_to_official
from mmsvf.utils import register_all_modules
from mmsvf.utils.work_dir_lock import LOCK_NAME
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
TOY_CONFIG = REPO / 'configs' / 'recognition' / 'spikevideoformer' / \
    'spikevideoformer-tiny_1xb8-t8_toy-motion.py'

train_tool = load_script('tools/train.py', 'mmsvf_train_tool_checks')
test_tool = load_script('tools/test.py', 'mmsvf_test_tool_checks')
demo_tool = load_script('demo/demo_video.py', 'mmsvf_demo_video_checks')

pytestmark = pytest.mark.usefixtures('single_torch_thread')

# 6 clips of 4 frames at 32 x 32; one iteration per epoch, one epoch
TINY = '''
_base_ = [{base!r}]
data_root = {root!r}
model = dict(backbone=dict(depths=(1, 1)))
pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = pipeline
train_dataloader = dict(
    batch_size=6, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ann_file=data_root + '/train.txt',
                 data_prefix=dict(video=data_root + '/videos'),
                 pipeline=pipeline))
val_dataloader = dict(
    batch_size=6, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=data_root + '/val.txt',
                 data_prefix=dict(video=data_root + '/videos'),
                 pipeline=pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
custom_hooks = []
default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
'''


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tool_checks')
    gen = load_script('tools/data/generate_toy_videos.py')
    root = tmp / 'toy_motion'
    gen.generate(gen.parse_args([
        '--out', str(root), '--num-train', '1', '--num-val', '1',
        '--frames', '8', '--size', '32'
    ]))
    cfg = tmp / 'tiny.py'
    cfg.write_text(TINY.format(base=str(TOY_CONFIG), root=str(root)))
    return tmp, root, cfg


def build_model(cfg_path, **backbone):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(cfg_path))
    cfg.model.backbone.update(backbone)
    init_default_scope(cfg.default_scope)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def ckpts(toy):
    """Weights of the tiny model, of a model with another width, and the
    tiny model's official-layout file converted for recognition / backbone.
    """
    tmp, root, cfg = toy
    model = build_model(cfg)
    fits = tmp / 'fits.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, fits)
    other = tmp / 'other_arch.pth'
    wide = build_model(cfg, embed_dims=[8, 16, 32, 64])
    torch.save({'state_dict': wide.state_dict(), 'meta': {}}, other)
    official = tmp / 'official.pth'
    torch.save({'model': convert_mmsvf_to_official(model.state_dict())},
               official)
    convert = load_script('tools/model_converters/spikevideoformer2mmsvf.py')
    convert.main([str(official), str(tmp / 'conv_rec.pth'), '--task',
                  'recognition', '--config', str(cfg)])
    convert.main([str(official), str(tmp / 'conv_bb.pth'), '--task',
                  'backbone'])
    return dict(fits=fits, other=other, rec=tmp / 'conv_rec.pth',
                backbone=tmp / 'conv_bb.pth', model=model)


# -- tools/test.py ----------------------------------------------------------
def test_test_tool_refuses_a_checkpoint_of_another_model(toy, ckpts):
    tmp, root, cfg = toy
    with pytest.raises(SystemExit) as info:
        test_tool.main([str(cfg), str(ckpts['other']), '--work-dir',
                        str(tmp / 't_other')])
    text = str(info.value)
    assert str(ckpts['other']) in text and 'differ in shape' in text
    assert 'backbone.downsample1_1.encode_conv.weight' in text
    assert '--non-strict' in text
    # --non-strict loads what fits (here: the last stage and the head)
    metrics = test_tool.main([str(cfg), str(ckpts['other']), '--non-strict',
                              '--work-dir', str(tmp / 't_other')])
    assert 'acc/top1' in metrics
    # ... but not a file of which nothing fits (a bare backbone state dict)
    bare = tmp / 'bare_backbone.pth'
    torch.save(ckpts['model'].backbone.state_dict(), bare)
    with pytest.raises(SystemExit, match="(?s)no tensor of the checkpoint fits"
                       ".*lack the model's 'backbone.' prefix"):
        test_tool.main([str(cfg), str(bare), '--non-strict', '--work-dir',
                        str(tmp / 't_other')])


def test_test_tool_loads_a_converted_official_checkpoint(toy, ckpts):
    tmp, root, cfg = toy
    dump = tmp / 'new_dir' / 'preds.pkl'  # folder made by the dump
    metrics = test_tool.main([str(cfg), str(ckpts['rec']), '--work-dir',
                              str(tmp / 't_rec'), '--dump', str(dump)])
    assert 0.0 <= metrics['acc/top1'] <= 1.0 and dump.is_file()


@pytest.mark.parametrize('content, words', [(b'', 'is empty'),
                                            (b'Not Found\n', 'text file')])
def test_test_tool_names_an_empty_or_text_checkpoint(toy, content, words):
    tmp, root, cfg = toy
    bad = tmp / 'bad.pth'
    bad.write_bytes(content)
    with pytest.raises(SystemExit, match=words) as info:
        test_tool.main([str(cfg), str(bad), '--work-dir', str(tmp / 't')])
    assert str(bad) in str(info.value)


def test_test_tool_checks_outputs_before_the_loop(toy, ckpts):
    tmp, root, cfg = toy
    blocker = tmp / 'a_file'
    blocker.write_text('x')
    for option in ('--dump', '--show-dir'):
        path = blocker / 'sub' / 'out.pkl'
        with pytest.raises(SystemExit, match=f'{option} .*cannot write'):
            test_tool.main([str(cfg), str(ckpts['fits']), '--work-dir',
                            str(tmp / 't'), option, str(path)])


# -- --cfg-options -----------------------------------------------------------
def test_cfg_options_are_checked(toy, capsys):
    tmp, root, cfg = toy
    base = [str(cfg), '--work-dir', str(tmp / 'never')]
    cases = [
        ('trian_cfg.max_epochs=1', "no key 'trian_cfg' .*did you mean "
         "'train_cfg'.*\\+trian_cfg.max_epochs"),
        ('train_cfg.max_epoch=1', "'train_cfg' has no key 'max_epoch'"),
        ('train_cfg.max_epochs=one', "max_epochs='one': the config has an "
         'integer there'),
        ('train_dataloader.batch_size=0',
         'train_dataloader.batch_size = 0: expected a positive integer'),
    ]
    for option, message in cases:
        with pytest.raises(SystemExit, match=message) as info:
            train_tool.main(base + ['--cfg-options', option])
        assert str(cfg) in str(info.value)
    with pytest.raises(SystemExit, match="'val_dataloader.batch_size'"):
        test_tool.main([str(cfg), str(tmp / 'fits.pth'), '--cfg-options',
                        'val_dataloader.batch_size=1',
                        "'val_dataloader.batch_size'=2"])
    assert not (tmp / 'never').exists()
    # an item without "=": argparse's error, exit status 2
    with pytest.raises(SystemExit) as info:
        train_tool.parse_args(base + ['--cfg-options', 'train_cfg'])
    assert info.value.code == 2
    assert "'train_cfg' is not KEY=VALUE" in capsys.readouterr().err
    # "+" marks a new key; Runner arguments and None entries are known
    args = train_tool.parse_args(base + [
        '--cfg-options', '+custom.key=1', 'load_from=None',
        'randomness.seed=3', 'model.backbone.init_cfg.type=Pretrained'])
    from mmsvf.utils import load_tool_config
    merged = train_tool.merge_args(load_tool_config(str(cfg)), args)
    assert merged.custom.key == 1 and merged.randomness.seed == 3
    assert merged.model.backbone.init_cfg.type == 'Pretrained'


# -- tools/train.py ---------------------------------------------------------
def test_train_refuses_weights_that_do_not_fit(toy, ckpts):
    tmp, root, cfg = toy
    work = tmp / 'w_refused'
    with pytest.raises(SystemExit, match='differ in shape') as info:
        train_tool.main([str(cfg), '--work-dir', str(work), '--cfg-options',
                         f'load_from={ckpts["other"]}'])
    assert str(ckpts['other']) in str(info.value)
    # a converted backbone file without prefix='backbone.'
    with pytest.raises(SystemExit, match="prefix='backbone.'") as info:
        train_tool.main([
            str(cfg), '--work-dir', str(work), '--cfg-options',
            'model.backbone.init_cfg.type=Pretrained',
            f'model.backbone.init_cfg.checkpoint={ckpts["backbone"]}'
        ])
    assert str(ckpts['backbone']) in str(info.value)
    # an empty file in init_cfg: refused before anything is built
    empty = tmp / 'empty_init.pth'
    empty.write_bytes(b'')
    with pytest.raises(SystemExit, match='^model.backbone.init_cfg.'
                       'checkpoint: .*is empty'):
        train_tool.main([
            str(cfg), '--work-dir', str(work), '--cfg-options',
            'model.backbone.init_cfg.type=Pretrained',
            f'model.backbone.init_cfg.checkpoint={empty}'
        ])
    # --resume from a weights-only file
    with pytest.raises(SystemExit, match='not a training checkpoint'):
        train_tool.main([str(cfg), '--work-dir', str(work), '--resume',
                         str(ckpts['rec'])])
    assert not list(work.glob('epoch_*.pth'))
    assert not (work / LOCK_NAME).exists()  # released on the way out


def test_train_with_init_cfg_prefix_takes_over_a_stale_lock(toy, ckpts):
    tmp, root, cfg = toy
    work = tmp / 'w_init'
    work.mkdir()
    # the lock of a training that crashed: its process is gone
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    (work / LOCK_NAME).write_text(
        f'{{"pid": {dead.pid}, "host": "{os.uname().nodename}", '
        '"started": "yesterday", "command": "train.py old"}')
    runner = train_tool.main([
        str(cfg), '--work-dir', str(work), '--cfg-options',
        'model.backbone.init_cfg.type=Pretrained',
        f'model.backbone.init_cfg.checkpoint={ckpts["backbone"]}',
        'model.backbone.init_cfg.prefix=backbone.'
    ])
    assert runner.epoch == 1 and (work / 'epoch_1.pth').is_file()
    assert not (work / LOCK_NAME).exists()
    log = next(work.glob('*/*.log')).read_text()
    assert 'took over the stale lock' in log and f'PID {dead.pid}' in log
    assert 'load backbone. in model from' in log


def test_second_training_on_a_work_dir_is_refused(toy, tmp_path):
    tmp, root, cfg = toy
    work = tmp_path / 'busy'
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import sys, time\n'
         'from mmsvf.utils.work_dir_lock import WorkDirLock\n'
         f'lock = WorkDirLock({str(work)!r}); lock.acquire()\n'
         'print("held", flush=True); time.sleep(60)'],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(SystemExit, match='is in use by another '
                           'training') as info:
            train_tool.main([str(cfg), '--work-dir', str(work)])
        assert f'PID {holder.pid}' in str(info.value)
        assert (work / LOCK_NAME).exists()  # the holder's lock is kept
    finally:
        holder.kill()
        holder.wait()


# -- demo/demo_video.py ------------------------------------------------------
def test_demo_names_a_corrupt_video_and_a_wrong_checkpoint(toy, ckpts):
    tmp, root, cfg = toy
    good = next(root.glob('videos/val/*/*.mp4'))
    broken = tmp / 'broken.mp4'
    broken.write_bytes(good.read_bytes()[:200])
    for video in (broken, tmp / 'empty.mp4'):
        video.touch()
        with pytest.raises(SystemExit, match='cannot read video') as info:
            demo_tool.main([str(video), str(cfg), str(ckpts['fits'])])
        assert str(video) in str(info.value)
    with pytest.raises(SystemExit, match='--non-strict') as info:
        demo_tool.main([str(good), str(cfg), str(ckpts['other'])])
    assert str(ckpts['other']) in str(info.value)
    result = demo_tool.main([str(good), str(cfg), str(ckpts['fits'])])
    assert result.pred_score.shape == (6, )
    # non-finite scores are refused, never printed as a label
    state = torch.load(ckpts['fits'], weights_only=True)
    key = next(k for k in state['state_dict'] if k.endswith('head.bias'))
    state['state_dict'][key][0] = float('nan')
    nan_ckpt = tmp / 'nan_head.pth'
    torch.save(state, nan_ckpt)
    with pytest.raises(SystemExit, match='non-finite class scores') as info:
        demo_tool.main([str(good), str(cfg), str(nan_ckpt)])
    assert str(good) in str(info.value)
