# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/data/generate_toy_videos.py: real mp4 clips whose class is motion."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'data' / \
    'generate_toy_videos.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location('generate_toy_videos', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_tool()


def _generate(out, seed=0, frames=8, size=32):
    args = gen.parse_args(['--out', str(out), '--seed', str(seed),
                           '--num-train', '1', '--num-val', '1', '--frames',
                           str(frames), '--size', str(size)])
    gen.generate(args)
    return out


def _decode(path, init, decode, frames):
    init_default_scope('mmaction')
    pipeline = Compose([
        dict(type=init),
        dict(type='SampleFrames', clip_len=frames, frame_interval=1,
             num_clips=1, test_mode=True),
        dict(type=decode)
    ])
    out = pipeline(dict(filename=str(path), label=0, start_index=0,
                        modality='RGB'))
    return out


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp('toy') / 'toy_motion')


def test_layout_and_lists(toy):
    names = (toy / 'label_map.txt').read_text().split()
    assert names == list(gen.CLASSES) and len(names) == 8
    for split in ('train', 'val'):
        lines = (toy / f'{split}.txt').read_text().splitlines()
        assert len(lines) == 8
        labels = sorted(int(line.split()[1]) for line in lines)
        assert labels == list(range(8))
        for line in lines:
            rel, label = line.split()
            assert rel.startswith(f'{split}/{names[int(label)]}/')
            assert rel.endswith('.mp4') and (toy / 'videos' / rel).is_file()
    assert (toy / 'meta.json').is_file()


@pytest.mark.parametrize('init,decode', [('DecordInit', 'DecordDecode'),
                                         ('PyAVInit', 'PyAVDecode')])
def test_clips_decode_with_mmaction(toy, init, decode):
    rel = (toy / 'train.txt').read_text().split()[0]
    out = _decode(toy / 'videos' / rel, init, decode, 8)
    assert out['total_frames'] == 8
    imgs = np.stack(out['imgs'])
    assert imgs.shape == (8, 32, 32, 3) and imgs.dtype == np.uint8
    # moving content: consecutive frames differ
    assert np.abs(np.diff(imgs.astype(int), axis=0)).mean() > 1


def test_deterministic_from_seed(tmp_path, toy):
    again = _generate(tmp_path / 'again', seed=0)
    other = _generate(tmp_path / 'other', seed=1)
    rel = 'val/rotate_cw/rotate_cw_0000.mp4'
    a = np.stack(_decode(toy / 'videos' / rel, 'DecordInit', 'DecordDecode',
                         8)['imgs'])
    b = np.stack(_decode(again / 'videos' / rel, 'DecordInit',
                         'DecordDecode', 8)['imgs'])
    c = np.stack(_decode(other / 'videos' / rel, 'DecordInit',
                         'DecordDecode', 8)['imgs'])
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 5


def test_motion_semantics():
    size, frames = 64, 16
    for label, name in enumerate(gen.CLASSES):
        for i in range(10):
            p = gen.motion_params(label, frames, size,
                                  np.random.default_rng([3, label, i]))
            dx, dy, angle, scale = (np.diff(p[:, k]) for k in range(4))
            step = {
                'move_left': (dx, -1), 'move_right': (dx, 1),
                'move_up': (dy, -1), 'move_down': (dy, 1),
                # OpenCV angles count counter-clockwise on screen
                'rotate_cw': (angle, -1), 'rotate_ccw': (angle, 1),
                'grow': (scale, 1), 'shrink': (scale, -1),
            }[name]
            assert np.all(np.sign(step[0]) == step[1]), name


@pytest.mark.parametrize('label,expected', [(0, (-1, 0)), (1, (1, 0)),
                                            (2, (0, -1)), (3, (0, 1))])
def test_rendered_texture_moves_the_right_way(label, expected):
    clip = gen.render_clip(label, 8, 64, 0.0, np.random.default_rng(7))
    grey = clip.astype(np.float32).mean(-1)
    shifts = np.array([cv2.phaseCorrelate(grey[i], grey[i + 1])[0]
                       for i in range(7)])
    # phaseCorrelate(a, b) gives the shift of b relative to a
    mean = shifts.mean(0)
    for got, want in zip(mean, expected):
        if want == 0:
            assert abs(got) < 0.5
        else:
            assert np.sign(got) == want and 1.0 < abs(got) < 3.0


@pytest.mark.parametrize('pair', [0, 1, 2, 3])
def test_pairs_are_exact_time_reversals(pair):
    """Within a pair the frames are identical, only their order differs, so
    a single frame (or any order-blind model) cannot tell them apart."""
    a = gen.render_clip(2 * pair, 8, 32, 0.05, np.random.default_rng(11))
    b = gen.render_clip(2 * pair + 1, 8, 32, 0.05,
                        np.random.default_rng(11))
    np.testing.assert_array_equal(a, b[::-1])
    assert not np.array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match='--frames'):
        gen.generate(gen.parse_args(['--frames', '1']))
