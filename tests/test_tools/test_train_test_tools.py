# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/train.py, tools/test.py, demo/demo_video.py and tools/dist_train.sh
on a tiny real-video toy set (6 clips, 4 frames of 32 x 32)."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
TOY_CONFIG = REPO / 'configs' / 'recognition' / 'spikevideoformer' / \
    'spikevideoformer-tiny_1xb8-t8_toy-motion.py'


train_tool = load_script('tools/train.py', 'mmsvf_train_tool')
test_tool = load_script('tools/test.py', 'mmsvf_test_tool')
demo_tool = load_script('demo/demo_video.py', 'mmsvf_demo_video')

TEST_CONFIG = '''
_base_ = [{base!r}]
data_root = {root!r}
model = dict(backbone=dict(depths=(1, 1)))
pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
         test_mode=True),  # no sampling randomness: resumable bit for bit
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs',
         meta_keys=('img_shape', 'img_key', 'video_id', 'timestamp',
                    'filename'))
]
# the demo's pipeline too: the 8 x 2 clips of the toy config do not fit these
# 8-frame videos (CheckedSampleFrames refuses to loop them)
test_pipeline = pipeline
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ann_file=data_root + '/train.txt',
                 data_prefix=dict(video=data_root + '/videos'),
                 pipeline=pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=data_root + '/val.txt',
                 data_prefix=dict(video=data_root + '/videos'),
                 pipeline=pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=4, val_interval=4)
optim_wrapper = dict(optimizer=dict(lr=1e-2), clip_grad=None)
param_scheduler = []
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=-1, save_best=None))
log_processor = dict(window_size=1)
randomness = dict(seed=0, deterministic=True)
vis_backends = [dict(type='LocalVisBackend'),
                dict(type='TensorboardVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
'''


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread: these tiny runs gain nothing from more, and on a
    shared, loaded machine OpenMP's spin-waiting threads make them far
    slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """Toy data (1 train + 1 val clip per class) and a tiny config."""
    tmp = tmp_path_factory.mktemp('toy_tools')
    gen = load_script('tools/data/generate_toy_videos.py')
    root = tmp / 'toy_motion'
    gen.generate(gen.parse_args([
        '--out', str(root), '--num-train', '1', '--num-val', '1',
        '--frames', '8', '--size', '32'
    ]))
    cfg = tmp / 'tiny_toy.py'
    cfg.write_text(TEST_CONFIG.format(base=str(TOY_CONFIG), root=str(root)))
    return tmp, root, cfg


def _losses(work_dir):
    """Per-iteration training losses from vis_data/scalars.json."""
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    losses = {}
    for line in files[-1].read_text().splitlines():
        rec = json.loads(line)
        if 'loss' in rec:
            losses[rec['step']] = rec['loss']
    return losses


@pytest.fixture(scope='module')
def trained(toy):
    """4 epochs x 2 iterations, uninterrupted."""
    tmp, root, cfg = toy
    work_dir = tmp / 'run_a'
    train_tool.main([str(cfg), '--work-dir', str(work_dir)])
    return work_dir


def test_training_writes_checkpoints_and_logs(trained):
    for epoch in range(1, 5):
        assert (trained / f'epoch_{epoch}.pth').is_file()
    assert (trained / 'last_checkpoint').read_text().strip().endswith(
        'epoch_4.pth')
    # TensorBoard backend selected by the config wrote an event file
    assert list(trained.glob('*/vis_data/events.out.tfevents.*'))
    ckpt = torch.load(trained / 'epoch_4.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 4 and ckpt['meta']['iter'] == 8
    assert 'cls_head.head.weight' in ckpt['state_dict']


def test_training_decreases_the_loss(trained):
    losses = _losses(trained)
    assert sorted(losses) == list(range(1, 9))
    # the same two fixed batches every epoch (no shuffling): each batch's
    # loss is lower in the last epoch than in the first
    assert losses[7] < losses[1] and losses[8] < losses[2], losses


def test_resume_reproduces_the_uninterrupted_run(toy, trained):
    tmp, root, cfg = toy
    work_dir = tmp / 'run_b'
    train_tool.main([str(cfg), '--work-dir', str(work_dir), '--resume',
                     str(trained / 'epoch_2.pth')])
    resumed = _losses(work_dir)
    full = _losses(trained)
    assert sorted(resumed) == [5, 6, 7, 8]
    for step in resumed:
        assert resumed[step] == pytest.approx(full[step], rel=1e-5), step


def test_test_tool_dump_show_dir_and_progress(toy, trained, capsys):
    tmp, root, cfg = toy
    dump = tmp / 'preds.pkl'
    show = tmp / 'vis'
    metrics = test_tool.main([
        str(cfg), str(trained / 'epoch_4.pth'), '--work-dir',
        str(tmp / 'test'), '--dump', str(dump), '--show-dir', str(show),
        '--interval', '4'
    ])
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    out = capsys.readouterr().out
    assert '6/6' in out  # ProgressBarHook over the 6 test clips
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 6
    assert preds[0]['pred_score'].shape == (6, )
    assert preds[0]['filename'].endswith('.mp4')
    # every 4th clip drawn with its labels
    assert len(list(show.glob('*.mp4'))) == 2


def test_test_tool_bad_arguments(toy, trained):
    tmp, root, cfg = toy
    with pytest.raises(SystemExit, match='not found'):
        test_tool.main([str(cfg), str(tmp / 'nope.pth')])
    with pytest.raises(SystemExit, match='pkl'):
        test_tool.main([str(cfg), str(trained / 'epoch_4.pth'), '--dump',
                        str(tmp / 'x.json')])


def test_amp_on_cpu_is_refused(toy):
    if torch.cuda.is_available():
        pytest.skip('CUDA present')
    tmp, root, cfg = toy
    with pytest.raises(SystemExit, match='--amp'):
        train_tool.main([str(cfg), '--work-dir', str(tmp / 'amp'), '--amp'])


def test_demo_prints_top5_with_names(toy, trained, capsys):
    tmp, root, cfg = toy
    video = root / 'videos' / 'val' / 'grow' / 'grow_0000.mp4'
    result = demo_tool.main([str(video), str(cfg),
                             str(trained / 'epoch_4.pth'), '--label-map',
                             str(root / 'label_map.txt')])
    assert result.pred_score.shape == (6, )
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if '(label' in ln]
    assert len(lines) == 5
    names = (root / 'label_map.txt').read_text().split()
    assert all(any(n in ln for n in names) for ln in lines)
    scores = [float(ln.split()[-1]) for ln in lines]
    assert scores == sorted(scores, reverse=True)


def test_two_process_ddp_training(toy, tmp_path):
    """torchrun --nproc_per_node 2 (gloo on CPU) through dist_train.sh.

    No PORT: on one node the script lets torchrun's c10d rendezvous bind a
    free port itself (no pick-then-release race). The run's working folder is
    ``tmp_path``: mmengine's CPU result collection makes ``.dist_test/``
    there, not in the checkout.
    """
    tmp, root, cfg = toy
    work_dir = tmp / 'ddp'
    env = {k: v for k, v in os.environ.items()
           if k not in ('PORT', 'NNODES', 'NODE_RANK', 'MASTER_ADDR')}
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS='1',
               OMP_WAIT_POLICY='PASSIVE')
    stray = REPO / '.dist_test'
    stray_before = stray.exists()
    # 6 clips / (2 ranks x 4) = 1 iteration per epoch; 2 epochs
    proc = subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(cfg), '2',
         '--work-dir', str(work_dir), '--cfg-options',
         'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
         'log_level=DEBUG'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert stray.exists() == stray_before  # nothing left in the checkout
    assert (tmp_path / '.dist_test').is_dir()  # where it went instead
    assert (work_dir / 'epoch_2.pth').is_file()
    logs = sorted(work_dir.glob('*/*rank*.log'))
    ranks = {p.stem.rsplit('rank', 1)[1] for p in logs}
    assert ranks == {'0', '1'}, logs
    for log in logs:
        text = log.read_text()
        assert 'Epoch(train) [2][1/1]' in text, log  # both ranks trained
    # the checkpoint holds the DDP-trained weights (no 'module.' prefix)
    state = torch.load(work_dir / 'epoch_2.pth',
                       map_location='cpu')['state_dict']
    assert 'backbone.downsample1_1.encode_conv.weight' in state
