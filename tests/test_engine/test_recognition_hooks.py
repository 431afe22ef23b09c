# Copyright (c) mmsvf contributors. All rights reserved.
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

from mmsvf.engine.hooks import (
    ProgressBarHook,
    VideoVisualizationHook,
    read_label_map,
)


def _runner(n):
    loader = SimpleNamespace(dataset=list(range(n)))
    return SimpleNamespace(test_dataloader=loader, val_dataloader=loader)


def test_progress_bar_counts_samples_and_ends_line(capsys):
    hook = ProgressBarHook()
    runner = _runner(5)
    hook.before_test_epoch(runner)
    for i, size in enumerate((2, 2)):
        hook.after_test_iter(runner, i, outputs=[None] * size)
    out = capsys.readouterr().out
    assert '4/5' in out and '\n' not in out
    hook.after_test_iter(runner, 2, outputs=[None])
    # the line ends as soon as all samples are done, before the metrics
    out = capsys.readouterr().out
    assert '5/5' in out and out.endswith('\n')
    hook.after_test_epoch(runner)
    assert capsys.readouterr().out == ''


def test_progress_bar_val_off_by_default(capsys):
    hook = ProgressBarHook()
    runner = _runner(3)
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, outputs=[None] * 3)
    hook.after_val_epoch(runner)
    assert capsys.readouterr().out == ''
    with pytest.raises(ValueError, match='stream'):
        ProgressBarHook(stream='file')


def test_read_label_map_formats(tmp_path):
    plain = tmp_path / 'plain.txt'
    plain.write_text('walk\nrun\n\njump\n')
    assert read_label_map(str(plain)) == ['walk', 'run', 'jump']
    indexed = tmp_path / 'indexed.txt'
    indexed.write_text('0 walk\n2 jump high\n1,run\n')
    assert read_label_map(str(indexed)) == ['walk', 'run', 'jump high']
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        read_label_map(str(tmp_path / 'nope.txt'))


def test_video_visualization_writes_clip(tmp_path):
    label_map = tmp_path / 'labels.txt'
    label_map.write_text('left\nright\n')
    hook = VideoVisualizationHook(enable=True, out_dir=str(tmp_path / 'vis'),
                                  label_map=str(label_map), interval=2)
    hook.before_test_epoch(_runner(3))
    inputs = [torch.randint(0, 255, (1, 3, 4, 16, 16), dtype=torch.uint8)
              for _ in range(3)]
    samples = []
    for i in range(3):
        s = ActionDataSample().set_gt_label(i % 2)
        s.set_pred_score(torch.tensor([0.3, 0.7]))
        s.set_metainfo(dict(filename=f'/x/clip_{i}.mp4'))
        samples.append(s)
    hook.after_test_iter(None, 0, dict(inputs=inputs), samples)
    written = sorted(p.name for p in (tmp_path / 'vis').glob('*.mp4'))
    assert written == ['clip_0.mp4', 'clip_2.mp4']  # every 2nd sample
    frames = hook.draw(hook.clip_frames(inputs[0]), samples[0])
    assert frames.shape == (4, 256, 256, 3)  # upscaled to min_size
    # the labels are drawn: the frames differ from a plain upscale
    plain = np.repeat(np.repeat(hook.clip_frames(inputs[0]), 16, 1), 16, 2)
    assert np.abs(frames.astype(int) - plain).sum() > 0
    with pytest.raises(ValueError, match='views'):
        hook.clip_frames(torch.zeros(3, 16))
