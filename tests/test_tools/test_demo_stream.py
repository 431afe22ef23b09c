# Copyright (c) mmsvf contributors. All rights reserved.
"""demo/demo_stream.py, demo_segmentation.py, demo_pose.py end to end on a
toy video, and tools/analysis/early_decision.py."""
import subprocess
import sys

import pytest
import torch

from mmsvf.apis import iter_frames
from mmsvf_test_utils import REPO_ROOT, load_script

pytestmark = pytest.mark.usefixtures('single_torch_thread')

demo_stream = load_script('demo/demo_stream.py', 'mmsvf_demo_stream')
demo_seg = load_script('demo/demo_segmentation.py', 'mmsvf_demo_seg')
demo_pose = load_script('demo/demo_pose.py', 'mmsvf_demo_pose')
early = load_script('tools/analysis/early_decision.py',
                    'mmsvf_early_decision')

CAUSAL = str(REPO_ROOT / 'configs/recognition/spikevideoformer/'
             'spikevideoformer-tiny_causal-attn_1xb8-t8_toy-motion.py')
JOINT = str(REPO_ROOT / 'configs/recognition/spikevideoformer/'
            'spikevideoformer-tiny_1xb8-t8_toy-motion.py')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_demos')
    subprocess.run([sys.executable, 'tools/data/generate_toy_videos.py',
                    '--out', str(root / 'motion'), '--num-train', '1',
                    '--num-val', '1', '--size', '32', '--frames', '16',
                    '--classes', 'grow', 'shrink'], cwd=REPO_ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, 'tools/data/generate_toy_mmhpsd.py',
                    '--out', str(root / 'mmhpsd'), '--subjects', '1',
                    '--groups', '1', '--frames', '4', '--size', '32'],
                   cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    video = sorted((root / 'motion' / 'videos' / 'val').rglob('*.mp4'))[0]
    return dict(root=root, video=str(video), data=str(root / 'motion'))


def test_demo_stream_prints_every_frame_and_writes_video(toy, tmp_path,
                                                        capsys):
    out = tmp_path / 'stream.mp4'
    labels = tmp_path / 'labels.txt'
    labels.write_text('\n'.join(f'class{i}' for i in range(6)))
    n = demo_stream.main([toy['video'], CAUSAL, 'none', '--label-map',
                          str(labels), '--topk', '2', '--out-file',
                          str(out), '--report', '4', '12', '--threads', '1'])
    text = capsys.readouterr().out
    assert n == 16
    lines = [ln for ln in text.splitlines() if ln.startswith('frame ')]
    assert len(lines) == 16 and ' ms ' in lines[0] and 'class' in lines[0]
    assert 'report frame 4: latency' in text and 'state' in text
    assert sum(1 for _ in iter_frames(str(out))) == 16


def test_demo_stream_refuses_a_joint_model_and_missing_files(toy):
    with pytest.raises(SystemExit, match='whole clip'):
        demo_stream.main([toy['video'], JOINT, 'none', '--max-frames', '1'])
    with pytest.raises(SystemExit, match='not found'):
        demo_stream.main(['missing.mp4', CAUSAL, 'none'])
    with pytest.raises(SystemExit, match='checkpoint file'):
        demo_stream.main([toy['video'], CAUSAL, 'missing.pth'])


def test_demo_segmentation_and_pose(toy, tmp_path, capsys):
    seg = str(REPO_ROOT / 'configs/segmentation/spikevideoformer/'
              'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py')
    res = demo_seg.main([toy['video'], seg, 'none', '--out-file',
                         str(tmp_path / 'seg.mp4'), '--palette', 'vspw'])
    assert res['masks'].shape == (16, 32, 32)
    assert 'class shares' in capsys.readouterr().out
    pose = str(REPO_ROOT / 'configs/pose/spikevideoformer/'
               'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py')
    smpl = toy['root'] / 'mmhpsd' / 'toy_smpl.npz'
    res = demo_pose.main([toy['video'], pose, 'none', '--out-file',
                          str(tmp_path / 'pose.mp4'), '--save-joints',
                          str(tmp_path / 'j.npz'), '--cfg-options',
                          f'model.head.smpl_cfg.model_path={smpl}'])
    assert res['joints'].shape == (16, 24, 3)
    assert (tmp_path / 'j.npz').is_file()
    assert sum(1 for _ in iter_frames(str(tmp_path / 'pose.mp4'))) == 16


def test_early_decision_stream_equals_truncation(toy, tmp_path):
    out = str(tmp_path / 'ed')
    curves = early.main([
        '--model', 'causal', CAUSAL, 'none', 'stream', '--model', 'joint',
        JOINT, 'none', 'truncate', '--data-root', toy['data'], '--check',
        '--out', out])
    assert [len(c[0]) for c in curves.values()] == [8, 8]
    # (--check compared the streamed answers with the truncated clips)
    torch.manual_seed(3)
    streamed = early.curve(CAUSAL, None, 'stream', toy['data'])
    torch.manual_seed(3)
    assert early.curve(CAUSAL, None, 'truncate', toy['data']) == streamed
    rows = (tmp_path / 'ed.csv').read_text().splitlines()
    assert rows[0].startswith('frames_seen,causal_mean')
    assert len(rows) == 9 and (tmp_path / 'ed.png').stat().st_size > 0
