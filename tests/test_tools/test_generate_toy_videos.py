# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/data/generate_toy_videos.py: real mp4 clips whose class is motion."""
import json

import numpy as np
import pytest
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmsvf_test_utils import load_script

gen = load_script('tools/data/generate_toy_videos.py')


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
    assert names == list(gen.DEFAULT_CLASSES) and len(names) == 6
    for split in ('train', 'val'):
        lines = (toy / f'{split}.txt').read_text().splitlines()
        assert len(lines) == 6
        labels = sorted(int(line.split()[1]) for line in lines)
        assert labels == list(range(6))
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
    rel = 'val/grow/grow_0000.mp4'
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
def test_rendered_object_moves_the_right_way(label, expected):
    clip = gen.render_clip(label, 8, 64, 0.0, np.random.default_rng(7))
    grey = clip.astype(np.float32).mean(-1) / 255
    # the object is much darker or brighter than any background pixel
    obj = (grey < 0.3) | (grey > 0.75)
    assert obj.reshape(8, -1).sum(1).min() > 30
    ys, xs = np.mgrid[:64, :64]
    cx = np.array([xs[m].mean() for m in obj])
    cy = np.array([ys[m].mean() for m in obj])
    for track, want in zip((cx, cy), expected):
        step = np.diff(track).mean()
        if want == 0:
            assert abs(step) < 0.5
        else:
            assert np.sign(step) == want and 1.5 < abs(step) < 4.0


@pytest.mark.parametrize('label', [6, 7])
def test_rendered_object_grows_or_shrinks(label):
    clip = gen.render_clip(label, 8, 64, 0.0, np.random.default_rng(5))
    grey = clip.astype(np.float32).mean(-1) / 255
    area = ((grey < 0.3) | (grey > 0.75)).reshape(8, -1).sum(1)
    growth = np.diff(area)
    assert np.all(growth > 0) if label == 6 else np.all(growth < 0)


@pytest.mark.parametrize('pair', [0, 1, 2, 3])
def test_pairs_are_exact_time_reversals(pair):
    """Within a pair the frames are identical, only their order differs, so
    a single frame (or any order-blind model) cannot tell them apart."""
    a = gen.render_clip(2 * pair, 8, 32, 0.05, np.random.default_rng(11))
    b = gen.render_clip(2 * pair + 1, 8, 32, 0.05,
                        np.random.default_rng(11))
    np.testing.assert_array_equal(a, b[::-1])
    assert not np.array_equal(a, b)


def test_class_subset_keeps_streams(tmp_path):
    out = tmp_path / 'all'
    gen.generate(gen.parse_args([
        '--out', str(out), '--num-train', '1', '--num-val', '1', '--frames',
        '4', '--size', '32', '--noise', '0', '--classes', 'grow', 'shrink',
        'rotate_cw', 'rotate_ccw']))
    assert (out / 'label_map.txt').read_text().split() == [
        'grow', 'shrink', 'rotate_cw', 'rotate_ccw']
    lines = (out / 'train.txt').read_text().split('\n')
    assert lines[2] == 'train/rotate_cw/rotate_cw_0000.mp4 2'
    # a clip's random stream does not depend on which classes are written
    same, other = (gen.render_clip(gen.CLASSES.index('grow'), 4, 32, 0.0,
                                   np.random.default_rng([0, 0, 6, i]))
                   for i in (0, 1))
    decoded = np.stack(_decode(out / 'videos/train/grow/grow_0000.mp4',
                               'PyAVInit', 'PyAVDecode', 4)['imgs'])
    decoded = decoded.astype(int)
    # mp4 + yuv420 at 32 px: a few grey levels off the rendered frames
    near, far = (np.abs(decoded - c).mean() for c in (same, other))
    assert near < 5 and near < far / 2, (near, far)


@pytest.mark.parametrize('size', [48, 72])
def test_first_clip_is_checked_with_the_chosen_decoder(tmp_path, size):
    """PyAV (the toy config's decoder) reads the widths Decord 0.6.0
    rejects; asking for the Decord check on them stops with an error that
    names the decoder and the way out."""
    base = ['--num-train', '1', '--num-val', '1', '--frames', '4', '--size',
            str(size), '--classes', 'grow', 'shrink']
    gen.generate(gen.parse_args(base + ['--out', str(tmp_path / 'pyav')]))
    assert (tmp_path / 'pyav' / 'val.txt').is_file()
    with pytest.raises(RuntimeError, match='decord cannot decode.*--size'):
        gen.generate(gen.parse_args(
            base + ['--out', str(tmp_path / 'decord'), '--check-decoder',
                    'decord']))
    # the check can be skipped: the clips are written all the same
    gen.generate(gen.parse_args(
        base + ['--out', str(tmp_path / 'none'), '--check-decoder', 'none']))
    assert (tmp_path / 'none' / 'val.txt').is_file()


def test_bad_arguments():
    with pytest.raises(ValueError, match='time reversal'):
        gen.generate(gen.parse_args(['--classes', 'grow', 'move_up',
                                     'move_down']))
    with pytest.raises(ValueError, match='--frames'):
        gen.generate(gen.parse_args(['--frames', '1']))


def test_existing_clips_are_reused_only_when_rendered_alike(tmp_path):
    """run_toy.sh always calls the generator: clips made with the same
    rendering arguments are kept, others are rendered again."""
    out = tmp_path / 'toy'
    base = ['--out', str(out), '--num-val', '1', '--frames', '4', '--size',
            '32', '--classes', 'grow', 'shrink']
    gen.generate(gen.parse_args(base + ['--num-train', '1']))
    clip = out / 'videos/train/grow/grow_0000.mp4'
    first = clip.read_bytes()
    stamp = clip.stat().st_mtime_ns
    # more clips, same arguments otherwise: the old clip is not rewritten
    gen.generate(gen.parse_args(base + ['--num-train', '2']))
    assert clip.stat().st_mtime_ns == stamp
    assert (out / 'videos/train/grow/grow_0001.mp4').is_file()
    assert len((out / 'train.txt').read_text().split('\n')) == 5
    # another seed: every clip is rendered again
    gen.generate(gen.parse_args(base + ['--num-train', '2', '--seed', '1']))
    assert clip.read_bytes() != first
    assert json.loads((out / 'meta.json').read_text())['seed'] == 1
