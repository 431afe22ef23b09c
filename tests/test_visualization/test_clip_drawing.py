# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.visualization: packed clips to frames, grids, overlays, files."""
import uuid

import cv2
import numpy as np
import pytest
import torch

from mmsvf.registry import VISUALIZERS
from mmsvf.visualization import (
    ClipVisualizer,
    clip_frames,
    clip_views,
    draw_points,
    frames_grid,
    overlay_seg_map,
    upscale,
)


def _clip(*shape):
    return torch.arange(int(np.prod(shape))).reshape(shape) % 256


def test_clip_views_layouts():
    ncthw = _clip(2, 3, 4, 5, 6)  # (views, C, T, H, W)
    views = clip_views(ncthw, 'NCTHW')
    assert views.shape == (2, 4, 5, 6, 3) and views.dtype == np.uint8
    # view 1, frame 2, pixel (3, 4), channel 1
    assert views[1, 2, 3, 4, 1] == ncthw[1, 1, 2, 3, 4]
    tchw = _clip(4, 1, 5, 6)  # grey (T, C, H, W): repeated to RGB
    views = clip_views(tchw, 'TCHW')
    assert views.shape == (1, 4, 5, 6, 3)
    assert (views[0, 3, 2, 1] == tchw[3, 0, 2, 1].item()).all()
    nchw = _clip(3, 3, 5, 6)
    assert clip_views(nchw, 'NCHW').shape == (3, 1, 5, 6, 3)
    np.testing.assert_array_equal(clip_frames(ncthw), clip_views(ncthw)[0])
    # float inputs are clamped to 0..255 and rounded
    floats = torch.full((1, 3, 1, 2, 2), 300.0)
    floats[..., 0, 0] = -4.0
    floats[..., 1, 1] = 7.6
    frame = clip_views(floats)[0, 0]
    assert frame[0, 0, 0] == 0 and frame[0, 1, 0] == 255
    assert frame[1, 1, 0] == 8


def test_clip_views_errors_name_shape_and_layout():
    with pytest.raises(ValueError, match=r'NCTHW.*5 dimensions.*\(3, 16\)'):
        clip_views(torch.zeros(3, 16), 'NCTHW')
    with pytest.raises(ValueError, match='1 or 3 channels'):
        clip_views(torch.zeros(4, 2, 5, 5), 'TCHW')
    with pytest.raises(ValueError, match='layout must be one of'):
        clip_views(torch.zeros(4, 3, 5, 5), 'THWC')


def test_upscale_and_grid():
    frames = np.random.default_rng(0).integers(0, 255, (3, 4, 6, 3),
                                               dtype=np.uint8)
    big = upscale(frames, 10)  # short side 4 -> factor 3
    assert big.shape == (3, 12, 18, 3)
    np.testing.assert_array_equal(big[:, ::3, ::3], frames)
    assert upscale(frames, 2).shape == frames.shape
    short = frames[:2, :2, :3]  # fewer and smaller frames: padded
    grid = frames_grid([frames, short], pad=1, pad_value=7)
    assert grid.shape == (2 * 4 + 1, 3 * 6 + 2, 3)
    np.testing.assert_array_equal(grid[:4, 7:13], frames[1])
    np.testing.assert_array_equal(grid[5:7, 7:10], short[1])
    assert (grid[4] == 7).all() and (grid[5:, 14:] == 7).all()
    with pytest.raises(ValueError, match=r'clip 0 must be \(T, H, W, 3\)'):
        frames_grid([frames[..., 0]])


def test_overlay_seg_map_and_points():
    frame = np.full((4, 5, 3), 100, np.uint8)
    seg = np.array([[0] * 5, [1] * 5, [255] * 5, [1] * 5])
    out = overlay_seg_map(frame, seg, palette=[(0, 0, 0), (200, 0, 0)],
                          alpha=0.5)
    assert (out[0] == 50).all()  # label 0 -> black at half weight
    assert (out[1] == (150, 50, 50)).all()
    np.testing.assert_array_equal(out[2], frame[2])  # ignored label
    with pytest.raises(ValueError, match='does not match the frame'):
        overlay_seg_map(frame, seg[:3])
    dots = draw_points(np.zeros((20, 20, 3), np.uint8),
                       np.array([[5.0, 15.0], [np.nan, 1.0]]))
    assert dots[15, 5].any() and not dots[5, 15].any()


def test_clip_visualizer_files_and_backend(tmp_path):
    vis = VISUALIZERS.build(dict(
        type='mmsvf.ClipVisualizer', name=f'clip_{uuid.uuid4().hex}',
        min_size=16, pad=2, save_dir=str(tmp_path / 'vis'),
        vis_backends=[dict(type='LocalVisBackend')]))
    assert isinstance(vis, ClipVisualizer)
    rng = np.random.default_rng(1)
    clips = [rng.integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
             for _ in range(2)]
    grid = vis.add_clips('g', clips, [['a'], []],
                         out_file=str(tmp_path / 'g.png'))
    assert grid.shape == (2 * 16 + 2, 3 * 16 + 4, 3)
    read = cv2.imread(str(tmp_path / 'g.png'))[..., ::-1]
    np.testing.assert_array_equal(read, grid)
    # the second clip carries no text: a plain upscale of its frames
    np.testing.assert_array_equal(grid[18:34, :16], upscale(clips[1], 16)[0])
    video = vis.add_clips('v', clips, out_file=str(tmp_path / 'v.mp4'))
    assert video.shape == (3, 34, 16, 3)  # the clips one above the other
    cap = cv2.VideoCapture(str(tmp_path / 'v.mp4'))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 3
    # without out_file: through the backends
    vis.add_clips('backend', clips, step=5)
    assert list((tmp_path / 'vis').rglob('backend_5.png'))
    with pytest.raises(ValueError, match='1 text lists for 2 clips'):
        vis.draw_clips(clips, [['x']])
