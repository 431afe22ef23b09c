# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/misc/browse_dataset.py on the three toys (tiny generated data)."""
import cv2
import numpy as np
import pytest

from mmsvf_test_utils import REPO_ROOT, load_script

tool = load_script('tools/misc/browse_dataset.py', 'mmsvf_browse_dataset')
CONFIGS = REPO_ROOT / 'configs'
MOTION = CONFIGS / 'recognition/spikevideoformer/' \
    'spikevideoformer-tiny_1xb8-t8_toy-motion.py'
VSPW = CONFIGS / 'segmentation/spikevideoformer/' \
    'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py'
MMHPSD = CONFIGS / 'pose/spikevideoformer/' \
    'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py'


def _read(path):
    image = cv2.imread(str(path))
    assert image is not None, path
    return image[..., ::-1]


def _cells(grid, rows, cols, size, pad=2):
    """The ``rows x cols`` frames of a grid, ``(rows, cols, size, size, 3)``.
    """
    assert grid.shape == (rows * (size + pad) - pad,
                          cols * (size + pad) - pad, 3)
    return np.stack([
        np.stack([
            grid[r * (size + pad):r * (size + pad) + size,
                 c * (size + pad):c * (size + pad) + size]
            for c in range(cols)
        ]) for r in range(rows)
    ])


@pytest.fixture(scope='module')
def motion(tmp_path_factory):
    gen = load_script('tools/data/generate_toy_videos.py')
    root = tmp_path_factory.mktemp('motion')
    gen.generate(gen.parse_args([
        '--out', str(root), '--num-train', '1', '--num-val', '1', '--frames',
        '16', '--size', '48', '--classes', 'move_up', 'move_down']))
    return root


def _motion_options(root, phase):
    loader = f'{phase}_dataloader.dataset'
    return ['--cfg-options', f'{loader}.ann_file={root}/{phase}.txt',
            f'{loader}.data_prefix.video={root}/videos']


def test_motion_train_clips_as_grids(motion, tmp_path, capsys):
    """48-px clips (which only PyAV, the toy's decoder, reads): two draws
    of each of the two training clips, 8 frames each, upscaled x3."""
    out = tmp_path / 'grids'
    tool.main([str(MOTION), '--output-dir', str(out), '--max-clips', '5',
               '--repeat', '2', '--min-size', '128'] +
              _motion_options(motion, 'train'))
    files = sorted(p.name for p in out.iterdir())
    assert files == ['0000_move_up_0000.png', '0001_move_down_0000.png']
    # the config resizes to 64 x 64; x2 reaches 128
    cells = _cells(_read(out / files[0]), 2, 8, 128)
    # the toy's train pipeline has no random transform: both draws agree
    # below the text lines
    np.testing.assert_array_equal(cells[0, :, 40:], cells[1, :, 40:])
    # and the object moves from frame to frame
    assert np.abs(np.diff(cells[0, :, 40:].astype(int), axis=0)).mean() > 1
    assert 'rows of 8 frames 64x64' in capsys.readouterr().out


def test_motion_val_clip_as_video(motion, tmp_path):
    out = tmp_path / 'videos'
    tool.main([str(MOTION), '--output-dir', str(out), '--phase', 'val',
               '--format', 'video', '--max-clips', '1', '--repeat', '1',
               '--min-size', '64'] + _motion_options(motion, 'val'))
    (video, ) = out.iterdir()
    assert video.name == '0000_move_up_0000.mp4'
    cap = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 8 and frames[0].shape == (64, 64, 3)


def test_segmentation_masks_follow_the_clip_flip(tmp_path):
    """Toy VSPW: the label map is blended onto the key frame only, and a
    random flip turns every frame of the clip and its map together."""
    gen = load_script('tools/data/generate_toy_vspw.py')
    root = tmp_path / 'vspw'
    gen.main(['--out', str(root), '--num-train', '1', '--num-val', '1',
              '--frames', '4', '--size', '32'])
    out = tmp_path / 'seg'
    # seed 3 draws flipped and unflipped clips among the draws 2-6
    tool.main([str(VSPW), '--output-dir', str(out), '--max-clips', '1',
               '--repeat', '6', '--min-size', '64', '--seed', '3',
               '--cfg-options', f'train_dataloader.dataset.data_root={root}'])
    (grid, ) = out.iterdir()
    # draw 1 carries two text lines, the others one: compare below them
    rows = _cells(_read(grid), 6, 4, 64).astype(int)[1:, :, 24:]
    flipped = [np.abs(r - rows[0]).mean() > 5 for r in rows]
    assert any(flipped) and not all(flipped), flipped
    k = flipped.index(True)
    # a flipped draw is the mirror image of an unflipped one, frame by
    # frame (apart from the text at the left)
    mirror = rows[k][:, :, ::-1]
    assert np.abs(mirror - rows[0])[:, :, 8:-8].mean() < 2
    # the key frame (last, gt_frames [3]) carries the blended map: it
    # differs from the unannotated frames more than they differ among
    # themselves (the toy objects move little in 4 frames)
    key_vs_rest = np.abs(rows[0, 3] - rows[0, 2]).mean()
    among_rest = np.abs(rows[0, 2] - rows[0, 1]).mean()
    assert key_vs_rest > 3 * among_rest + 1


def test_pose_joints_drawn_on_every_frame(tmp_path):
    gen = load_script('tools/data/generate_toy_mmhpsd.py')
    root = tmp_path / 'mmhpsd'
    gen.main(['--out', str(root), '--subjects', '3', '--groups', '1',
              '--frames', '8', '--size', '32'])
    out = tmp_path / 'pose'
    tool.main([str(MMHPSD), '--output-dir', str(out), '--max-clips', '1',
               '--repeat', '1', '--min-size', '64', '--cfg-options',
               f'train_dataloader.dataset.data_root={root}'])
    (grid, ) = out.iterdir()
    cells = _cells(_read(grid), 1, 4, 64).astype(int)
    # grey frames; the joints are the only red pixels
    red = (cells[..., 0] > 200) & (cells[..., 1] < 120)
    assert (red.reshape(4, -1).sum(1) > 10).all()


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        tool.parse_args([str(MOTION), '--max-clips', '0'])
    with pytest.raises(SystemExit, match='not found'):
        tool.main([str(tmp_path / 'none.py')])
