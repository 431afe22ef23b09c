# Copyright (c) mmsvf contributors. All rights reserved.
"""Unreadable videos give an error naming the file, never a silent sample."""

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmsvf.datasets import CheckedVideoDataset, VideoDecodeError
from mmsvf_test_utils import load_script

PIPELINES = {
    'decord': [dict(type='DecordInit'), 'sample', dict(type='DecordDecode')],
    'pyav': [dict(type='PyAVInit'), 'sample', dict(type='PyAVDecode')],
}


def _pipeline(kind):
    sample = dict(type='SampleFrames', clip_len=4, frame_interval=2,
                  num_clips=1, test_mode=True)
    return [sample if p == 'sample' else p for p in PIPELINES[kind]]


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    """One good clip and four broken ones."""
    gen = load_script('tools/data/generate_toy_videos.py')
    root = tmp_path_factory.mktemp('videos')
    clip = gen.render_clip(1, 8, 32, 0.05, np.random.default_rng(0))
    good = root / 'good.mp4'
    gen.write_video(str(good), clip, 8)
    data = good.read_bytes()
    (root / 'truncated.mp4').write_bytes(data[:len(data) // 2])
    (root / 'garbage.mp4').write_bytes(
        np.random.default_rng(1).integers(0, 256, 3000,
                                          dtype=np.uint8).tobytes())
    (root / 'empty.mp4').write_bytes(b'')
    lines = ['good.mp4 1', 'truncated.mp4 2', 'garbage.mp4 3', 'empty.mp4 4',
             'missing.mp4 5']
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    (root / 'good.txt').write_text('good.mp4 1\n')
    return root


def _dataset(root, kind, ann='list.txt', **kwargs):
    init_default_scope('mmaction')
    return CheckedVideoDataset(
        ann_file=str(root / ann), data_prefix=dict(video=str(root)),
        pipeline=_pipeline(kind), **kwargs)


@pytest.mark.parametrize('kind', ['decord', 'pyav'])
def test_good_clip_loads(videos, kind):
    ds = _dataset(videos, kind, test_mode=True)
    out = ds[0]
    assert np.stack(out['imgs']).shape == (4, 32, 32, 3)
    assert out['label'] == 1


@pytest.mark.parametrize('kind', ['decord', 'pyav'])
@pytest.mark.parametrize('index,name', [(1, 'truncated.mp4'),
                                        (2, 'garbage.mp4'),
                                        (3, 'empty.mp4'),
                                        (4, 'missing.mp4')])
def test_broken_clip_error_names_file(videos, kind, index, name):
    ds = _dataset(videos, kind, test_mode=True)
    with pytest.raises(VideoDecodeError, match=name) as info:
        ds[index]
    assert 'list.txt' in str(info.value)
    assert info.value.__cause__ is not None  # the decoder's own error


def test_upstream_decord_error_does_not_name_file(videos):
    """The defect CheckedVideoDataset fixes (mmaction2 1.2.0 + decord)."""
    from mmaction.datasets import VideoDataset
    init_default_scope('mmaction')
    ds = VideoDataset(ann_file=str(videos / 'list.txt'),
                      data_prefix=dict(video=str(videos)),
                      pipeline=_pipeline('decord'), test_mode=True)
    with pytest.raises(Exception) as info:
        ds[2]
    assert 'garbage.mp4' not in str(info.value)


def test_skip_policy_logs_and_replaces_in_training(videos, monkeypatch):
    from mmsvf.datasets import checked_video_dataset
    logged = []
    monkeypatch.setattr(checked_video_dataset, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    ds = _dataset(videos, 'decord', ann='list.txt', on_error='skip')
    # the broken sample is replaced by another (random) sample; only the
    # good clip is loadable, so the replacement is the good clip
    ds.max_refetch = 200
    np.random.seed(0)
    out = ds[2]
    assert out['filename'].endswith('good.mp4')
    assert logged, 'the skipped video was not logged'
    msg, kwargs = logged[0]
    assert 'garbage.mp4' in msg and 'skipped' in msg
    assert kwargs['level'] == 30  # logging.WARNING


def test_skip_policy_never_applies_in_test_mode(videos):
    ds = _dataset(videos, 'decord', on_error='skip', test_mode=True)
    with pytest.raises(VideoDecodeError, match='truncated.mp4'):
        ds[1]


def test_check_exists_and_bad_arguments(videos):
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        _dataset(videos, 'decord', check_exists=True)
    assert len(_dataset(videos, 'decord', ann='good.txt',
                        check_exists=True)) == 1
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        _dataset(videos, 'decord', ann='nope.txt')
    with pytest.raises(ValueError, match='on_error'):
        _dataset(videos, 'decord', on_error='ignore')
