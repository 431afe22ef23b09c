# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.apis: the three inferencers and the streaming recognizer on toy
videos (tools/data generators) and on the shared fixture clips."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmsvf.apis import (
    PoseInferencer,
    RecognitionInferencer,
    SegmentationInferencer,
    StreamingRecognizer,
    iter_frames,
    read_frames,
)
from mmsvf.apis.drawing import draw_skeleton, get_palette, overlay_mask
from mmsvf_test_utils import REPO_ROOT

pytestmark = pytest.mark.usefixtures('single_torch_thread')

REC = 'configs/recognition/spikevideoformer/'
REC_CAUSAL = REC + 'spikevideoformer-tiny_causal-attn_1xb8-t8_toy-motion.py'
REC_JOINT = REC + 'spikevideoformer-tiny_1xb8-t8_toy-motion.py'
SEG = ('configs/segmentation/spikevideoformer/'
       'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py')
POSE = ('configs/pose/spikevideoformer/'
        'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py')


def cfg(path):
    return str(REPO_ROOT / path)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """One 16-frame 32x32 toy-motion clip per class of a time-reversal
    pair, and a toy SMPL body model."""
    root = tmp_path_factory.mktemp('toy_apis')
    subprocess.run([sys.executable, 'tools/data/generate_toy_videos.py',
                    '--out', str(root / 'motion'), '--num-train', '1',
                    '--num-val', '1', '--size', '32', '--classes', 'grow',
                    'shrink'], cwd=REPO_ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, 'tools/data/generate_toy_mmhpsd.py',
                    '--out', str(root / 'mmhpsd'), '--subjects', '1',
                    '--groups', '1', '--frames', '4', '--size', '32'],
                   cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    video = sorted((root / 'motion' / 'videos' / 'val').rglob('*.mp4'))[0]
    return dict(root=root, video=str(video),
                smpl=str(root / 'mmhpsd' / 'toy_smpl.npz'))


def frame_count(path):
    return sum(1 for _ in iter_frames(path))


def test_recognition_on_a_toy_video(toy, tmp_path):
    torch.manual_seed(0)
    infer = RecognitionInferencer(cfg(REC_JOINT),
                                  label_map=[f'c{i}' for i in range(6)])
    out = tmp_path / 'labelled.mp4'
    res = infer(toy['video'], out_file=str(out), topk=3, return_vis=True)
    assert res['pred_score'].shape == (6, )
    assert abs(res['pred_score'].sum() - 1) < 1e-4  # average_clips='prob'
    assert res['pred_label'] == int(np.argmax(res['pred_score']))
    assert [t[1] for t in res['topk']] == [
        f'c{i}' for i in np.argsort(-res['pred_score'])[:3]]
    assert res['num_frames'] == 16 and len(res['windows']) == 1
    # the labels are drawn: frames change, the video has every frame
    frames, _ = read_frames(toy['video'])
    assert not np.array_equal(res['visualization'][0], frames[0])
    assert frame_count(str(out)) == 16
    # frames in memory give the same scores as the file
    again = infer(np.stack(frames))
    np.testing.assert_allclose(again['pred_score'], res['pred_score'])


def test_recognition_windows_and_progress_bar(toy, capsys):
    torch.manual_seed(0)
    infer = RecognitionInferencer(cfg(REC_JOINT))
    frames, _ = read_frames(toy['video'])
    long = frames * 6  # 96 frames at 25 fps (arrays): longer than 3 s
    res = infer(long)
    assert [(w['start'], w['end']) for w in res['windows']] == [
        (a, a + 16) for a in range(0, 96, 16)]
    np.testing.assert_allclose(
        res['pred_score'], np.mean([w['pred_score'] for w in res['windows']],
                                   0), rtol=1e-6)
    assert '96/96' in capsys.readouterr().err
    infer(frames)  # short: no bar
    assert '16/16' not in capsys.readouterr().err
    with pytest.raises(ValueError, match='label map has 2 names'):
        RecognitionInferencer(cfg(REC_JOINT), label_map=['a', 'b'])


def test_segmentation_masks_and_palettes(toy, tmp_path):
    torch.manual_seed(0)
    infer = SegmentationInferencer(cfg(SEG))
    # the config's own palette (its dataset metainfo)
    assert infer.palette.tolist()[:2] == [[120, 120, 120], [220, 40, 40]]
    res = infer(toy['video'], out_file=str(tmp_path / 'seg.mp4'),
                return_vis=True)
    assert res['masks'].shape == (16, 32, 32)
    assert res['masks'].min() >= 0 and res['masks'].max() < 4
    assert frame_count(str(tmp_path / 'seg.mp4')) == 16
    frames, _ = read_frames(toy['video'])
    # every pixel is blended with its class colour
    m, f, v = res['masks'][0], frames[0], res['visualization'][0]
    expect = (0.5 * f + 0.5 * infer.palette[m]).round().astype(np.uint8)
    assert np.abs(v.astype(int) - expect).max() <= 1
    city = SegmentationInferencer(cfg(SEG), palette='cityscapes')
    assert city.palette[0].tolist() == [128, 64, 128]
    assert get_palette('vspw', 4).shape == (4, 3)


def test_pose_joints_projected(toy, tmp_path):
    torch.manual_seed(0)
    infer = PoseInferencer(cfg(POSE), cfg_options={
        'model.head.smpl_cfg.model_path': toy['smpl']})
    res = infer(toy['video'], out_file=str(tmp_path / 'pose'),
                return_vis=True)
    assert res['joints'].shape == (16, 24, 3)
    assert res['keypoints_2d'].shape == (16, 24, 2)
    assert np.isfinite(res['keypoints_2d']).all()
    fx, fy, cx, cy = res['intrinsics']  # MMHPSD camera scaled to 32 px
    assert abs(cx - 641 * 32 / 1280) < 1e-9
    # the projection is the pinhole one of the returned joints
    j = res['joints'][3, 5]
    np.testing.assert_allclose(res['keypoints_2d'][3, 5],
                               [fx * j[0] / j[2] + cx, fy * j[1] / j[2] + cy],
                               rtol=1e-5)
    assert len(list((tmp_path / 'pose').glob('*.png'))) == 16
    assert any(not np.array_equal(a, b) for a, b in zip(
        res['visualization'], read_frames(toy['video'])[0]))


def test_streaming_recognizer_equals_the_clip(toy):
    torch.manual_seed(0)
    rec = StreamingRecognizer(cfg(REC_CAUSAL))
    frames, _ = read_frames(toy['video'])
    model = rec.model
    xs = []
    for t, frame in enumerate(frames[:6]):
        out = rec.step(frame, topk=2)
        xs.append(rec.preprocess(frame))
        clip = torch.stack(xs, 2)  # (1, C, t+1, H, W)
        with torch.no_grad():
            ref = model.cls_head(model.backbone(clip))[0].softmax(-1)
        np.testing.assert_allclose(out['pred_score'], ref.numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert out['frame'] == t and len(out['topk']) == 2
    size = rec.state_nbytes()
    rec.step(frames[6])
    assert rec.state_nbytes() == size
    rec.reset()
    assert rec.frames == 0 and rec.state_nbytes() == 0
    joint = StreamingRecognizer(cfg(REC_JOINT))
    with pytest.raises(ValueError, match="attn_mode='joint'"):
        joint.step(frames[0])


def test_drawing_errors_name_the_problem():
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match='mask shape'):
        overlay_mask(frame, np.zeros((4, 4), int), get_palette('vspw', 3))
    with pytest.raises(ValueError, match='palette'):
        get_palette('ade', 3)
    with pytest.raises(ValueError, match=r'\(24, 2\)'):
        draw_skeleton(frame, np.zeros((5, 2)), list(range(-1, 23)))
    with pytest.raises(ValueError, match='RGB uint8'):
        list(iter_frames([np.zeros((4, 4), np.uint8)]))
    with pytest.raises(FileNotFoundError, match='not found'):
        read_frames('no/such/video.mp4')


# --------------------------------------------------------- shared fixtures
def test_recognition_on_fixture_clip(shared_fixtures, capsys):
    video = shared_fixtures / 'mmaction2' / 'tests' / 'data' / 'test.avi'
    if not video.is_file():
        pytest.skip(f'{video} absent')
    torch.manual_seed(0)
    res = RecognitionInferencer(cfg(REC_JOINT))(str(video))
    assert res['num_frames'] == 164 and res['fps'] == 25
    assert len(res['windows']) == 10  # 164 frames / 16-frame spans
    assert '164/164' in capsys.readouterr().err  # 6.6 s: progress bar


def test_segmentation_on_fixture_frames(shared_fixtures):
    folder = shared_fixtures / 'mmaction2' / 'tests' / 'data' / 'imgs'
    if not folder.is_dir():
        pytest.skip(f'{folder} absent')
    frames = [f for f in read_frames(str(folder))[0]]
    frames = frames[:10]  # img_00001..10 (the x_/y_ flow frames sort after)
    torch.manual_seed(0)
    res = SegmentationInferencer(cfg(SEG), palette='vspw')(frames)
    assert res['masks'].shape == (10, 240, 320)
