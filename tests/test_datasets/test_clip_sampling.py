# Copyright (c) mmsvf contributors. All rights reserved.
"""CheckedSampleFrames: videos shorter than a clip raise (or are looped /
padded when asked, with a log naming the file); others are sampled exactly
as by mmaction's SampleFrames."""
import numpy as np
import pytest
from mmaction.datasets.transforms import SampleFrames
from mmengine.registry import init_default_scope

from mmsvf.datasets import (
    CheckedSampleFrames,
    CheckedVideoDataset,
    ShortClipError,
    VideoDecodeError,
    clip_sampling,
)
from mmsvf_test_utils import load_script


def _results(total, name='short.mp4'):
    return dict(total_frames=total, start_index=0, filename=name)


@pytest.fixture
def logged(monkeypatch):
    out = []
    monkeypatch.setattr(clip_sampling, 'print_log',
                        lambda msg, **kw: out.append((msg, kw)))
    return out


@pytest.mark.parametrize('total', [1, 3, 14])
@pytest.mark.parametrize('test_mode', [False, True])
def test_short_video_raises_with_file_and_numbers(total, test_mode):
    t = CheckedSampleFrames(clip_len=8, frame_interval=2, test_mode=test_mode)
    with pytest.raises(ShortClipError) as info:
        t(_results(total))
    message = str(info.value)
    assert message.startswith(f'short.mp4: {total} frames')
    assert 'clip_len=8' in message and 'frame_interval=2' in message
    assert 'spans 15 frames' in message and "short_clip='loop'" in message


def test_upstream_loops_silently():
    """The defect: 3 frames sampled as [0, 2, 1, 0, ...], motion reversed."""
    inds = SampleFrames(clip_len=8, frame_interval=2, test_mode=True)(
        _results(3))['frame_inds']
    assert inds.tolist() == [0, 2, 1, 0, 2, 1, 0, 2]


def test_loop_policy_is_upstream_and_logged_once(logged):
    t = CheckedSampleFrames(clip_len=8, frame_interval=2, test_mode=True,
                            short_clip='loop')
    for _ in range(2):
        inds = t(_results(3))['frame_inds']
    assert inds.tolist() == [0, 2, 1, 0, 2, 1, 0, 2]
    assert len(logged) == 1
    msg, kwargs = logged[0]
    assert msg.startswith('short.mp4: 3 frames') and 'wrap' in msg
    assert kwargs['level'] == 30  # logging.WARNING


def test_pad_policy_keeps_time_order(logged):
    t = CheckedSampleFrames(clip_len=8, frame_interval=2, num_clips=2,
                            short_clip='pad')
    out = t(_results(5))
    assert out['frame_inds'].tolist() == [0, 2, 4, 4, 4, 4, 4, 4] * 2
    assert out['clip_len'] == 8 and out['num_clips'] == 2
    assert t(_results(1, 'one.mp4'))['frame_inds'].tolist() == [0] * 16
    assert [m.split(':')[0] for m, _ in logged] == ['short.mp4', 'one.mp4']


@pytest.mark.parametrize('kwargs', [
    dict(clip_len=8, frame_interval=2),
    dict(clip_len=8, frame_interval=2, test_mode=True, num_clips=4),
    dict(clip_len=16, frame_interval=4, temporal_jitter=True),
    dict(clip_len=1, frame_interval=1, num_clips=3, test_mode=True),
])
def test_long_enough_videos_sampled_as_upstream(kwargs):
    ours = CheckedSampleFrames(**kwargs)
    needed = (kwargs['clip_len'] - 1) * kwargs['frame_interval'] + 1 + \
        (kwargs['frame_interval'] - 1 if kwargs.get('temporal_jitter')
         else 0)
    assert ours.frames_needed({}) == needed
    for total in (needed, needed + 1, 64, 300):
        np.random.seed(total)
        got = ours(_results(total))['frame_inds']
        np.random.seed(total)
        want = SampleFrames(**kwargs)(_results(total))['frame_inds']
        assert got.tolist() == want.tolist(), total


def test_zero_frames_and_bad_arguments():
    for policy in ('loop', 'pad'):
        with pytest.raises(ShortClipError, match='short.mp4: 0 frames'):
            CheckedSampleFrames(clip_len=4, short_clip=policy)(_results(0))
    with pytest.raises(ValueError, match='short_clip must be one of'):
        CheckedSampleFrames(clip_len=4, short_clip='repeat')
    with pytest.raises(ValueError, match='instead of out_of_bound_opt'):
        CheckedSampleFrames(clip_len=4, out_of_bound_opt='repeat_last')
    assert "short_clip='pad'" in repr(
        CheckedSampleFrames(clip_len=4, short_clip='pad'))


def test_in_a_dataset_the_error_names_video_and_list(tmp_path):
    """A real 4-frame video under the toy config's clip (8 x 2)."""
    gen = load_script('tools/data/generate_toy_videos.py')
    clip = gen.render_clip(0, 4, 32, 0.0, np.random.default_rng(0))
    gen.write_video(str(tmp_path / 'tiny.mp4'), clip, 8)
    (tmp_path / 'list.txt').write_text('tiny.mp4 0\n')
    init_default_scope('mmaction')
    ds = CheckedVideoDataset(
        ann_file=str(tmp_path / 'list.txt'),
        data_prefix=dict(video=str(tmp_path)), num_classes=6,
        pipeline=[dict(type='DecordInit'),
                  dict(type='mmsvf.CheckedSampleFrames', clip_len=8,
                       frame_interval=2, num_clips=1),
                  dict(type='DecordDecode')])
    with pytest.raises(VideoDecodeError) as info:
        ds[0]
    message = str(info.value)
    assert 'tiny.mp4: 4 frames' in message and 'list.txt' in message
    assert isinstance(info.value.__cause__, ShortClipError)
