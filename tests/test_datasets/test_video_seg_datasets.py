# Copyright (c) mmsvf contributors. All rights reserved.
"""VSPWDataset, CityscapesSeqDataset and the clip-consistent transforms."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from PIL import Image

from mmsvf.datasets import (
    CityscapesSeqDataset,
    ClipConsistent,
    ClipRandomCrop,
    ClipRandomFlip,
    ClipRandomResize,
    ClipResize,
    LoadClipAnnotations,
    LoadClipFromFiles,
    PackClipSegInputs,
    VSPWDataset,
)

# raw VSPW class → frame colour: background (1) black, object (3) coloured
COLOURS = np.array([[0, 0, 0], [0, 0, 0], [0, 250, 0], [250, 0, 50]],
                   dtype=np.uint8)


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


def _write_mask(path, mask):
    Image.fromarray(mask.astype(np.uint8)).save(path)


def make_vspw(root, videos, size=(16, 24), masks=True, split='train'):
    """VSPW layout; frame t of a video shows a square at x = 2 t."""
    h, w = size
    for video, num_frames in videos.items():
        img_dir = osp.join(root, 'data', video, 'origin')
        mask_dir = osp.join(root, 'data', video, 'mask')
        import os
        os.makedirs(img_dir, exist_ok=True)
        if masks:
            os.makedirs(mask_dir, exist_ok=True)
        for t in range(num_frames):
            mask = np.ones((h, w), dtype=np.uint8)  # class 1 → label 0
            mask[4:10, 2 * t:2 * t + 6] = 3  # class 3 → label 2
            cv2.imwrite(
                osp.join(img_dir, f'{t:08d}.png'),
                COLOURS[mask] if t % 2 == 0 else COLOURS[mask][..., ::-1])
            if masks:
                _write_mask(osp.join(mask_dir, f'{t:08d}.png'), mask)
    with open(osp.join(root, f'{split}.txt'), 'w') as f:
        f.write('\n'.join(videos) + '\n')
    return root


def vspw(root, **kwargs):
    # a VSPW subset: labels 0..2 stay, every other VSPW class → 255
    kwargs.setdefault('metainfo', dict(classes=('wall', 'ceiling', 'door')))
    kwargs.setdefault('pipeline', [])
    return VSPWDataset(data_root=str(root), img_suffix='.png', **kwargs)


def test_vspw_clip_sampling(tmp_path):
    make_vspw(tmp_path, {'v1': 5, 'v2': 3})
    ds = vspw(tmp_path, clip_len=4)
    assert len(ds) == 8  # one sample per annotated frame
    info = ds.get_data_info(1)
    assert info['video_name'] == 'v1' and info['frame_index'] == 1
    assert info['clip_frame_indices'] == [0, 0, 0, 1]  # clamped at start
    assert info['key_frame'] == 3 and info['gt_frames'] == [3]
    assert info['img_path'].endswith('v1/origin/00000001.png')
    assert info['seg_map_paths'] == [info['seg_map_path']]
    assert info['num_classes'] == 3
    assert ds.get_data_info(7)['clip_frame_indices'] == [0, 0, 1, 2]
    # test mode: one sample per annotated frame, every one of them, in order
    test = vspw(tmp_path, clip_len=4, test_mode=True)
    keys = [(test.get_data_info(i)['video_name'],
             test.get_data_info(i)['frame_index']) for i in range(len(test))]
    assert keys == [('v1', f) for f in range(5)] + [('v2', f)
                                                     for f in range(3)]
    assert all(
        test.get_data_info(i)['seg_map_path'].endswith(
            f'{video}/mask/{frame:08d}.png')
        for i, (video, frame) in enumerate(keys))

    ds = vspw(tmp_path, clip_len=3, frame_interval=2, key_frame_index=1,
              annotated_frames='all')
    info = ds.get_data_info(2)
    assert info['clip_frame_indices'] == [0, 2, 4]
    assert ds.get_data_info(4)['clip_frame_indices'] == [2, 4, 4]  # end
    assert info['gt_frames'] == [0, 1, 2] and len(info['seg_map_paths']) == 3
    with pytest.raises(ValueError, match='key_frame_index'):
        vspw(tmp_path, clip_len=2, key_frame_index=2)


def test_vspw_pipeline_clip_consistent(tmp_path):
    make_vspw(tmp_path, {'v1': 4})
    pipeline = [
        LoadClipFromFiles(),
        LoadClipAnnotations(),
        ClipRandomResize(
            scale=(24, 16), ratio_range=(1.5, 3.0), interpolation='nearest'),
        ClipRandomCrop(crop_size=(16, 16), cat_max_ratio=0.9),
        ClipRandomFlip(prob=0.5),
        PackClipSegInputs()
    ]
    ds = vspw(tmp_path, clip_len=3, annotated_frames='all')
    ds.pipeline.transforms.extend(pipeline)
    rng_state = np.random.get_state()
    np.random.seed(0)
    for index in (1, 3, 3, 3):
        out = ds[index]
        clip, sample = out['inputs'], out['data_samples']
        assert clip.shape == (3, 3, 16, 16) and clip.dtype == torch.uint8
        gt = sample.gt_sem_seg.data
        assert gt.shape == (3, 16, 16) and sample.gt_frames == [0, 1, 2]
        # every frame (even ones colour-swapped) and its map moved alike:
        # the object pixels of a frame are exactly its label-2 pixels
        for t in range(3):
            obj = clip[t].int().sum(0) > 0
            assert torch.equal(obj, gt[t] == 2), (index, t)
        # frames t and t+1 differ by the 2-pixel motion only: same geometry
        assert set(torch.unique(gt).tolist()) <= {0, 2}
    np.random.set_state(rng_state)


def test_clip_consistent_wrapper_same_draws():
    frame = np.random.RandomState(0).randint(0, 255, (8, 8, 3), np.uint8)
    results = dict(imgs=[frame.copy() for _ in range(4)], key_frame=3)
    out = ClipConsistent(dict(type='PhotoMetricDistortion')).transform(
        results)
    assert not np.array_equal(out['imgs'][0], frame)
    for img in out['imgs'][1:]:
        np.testing.assert_array_equal(img, out['imgs'][0])
    # resize / flip / crop keep identical frames identical too
    results = dict(
        imgs=[frame.copy() for _ in range(3)],
        key_frame=2,
        gt_seg_maps=[np.arange(64, dtype=np.uint8).reshape(8, 8)],
        gt_frames=[2])
    for t in (ClipResize(scale=(12, 10), keep_ratio=False),
              ClipRandomFlip(prob=1.0), ClipRandomCrop(crop_size=(6, 5))):
        results = t.transform(results)
    assert results['imgs'][0].shape == (6, 5, 3)
    assert results['gt_seg_maps'][0].shape == (6, 5)
    assert results['flip'] and results['img_shape'] == (6, 5)
    for img in results['imgs'][1:]:
        np.testing.assert_array_equal(img, results['imgs'][0])


def test_vspw_bad_input(tmp_path):
    make_vspw(tmp_path / 'nomask', {'vid_nomask': 3}, masks=False)
    with pytest.raises(ValueError, match='"vid_nomask".*no .*masks'):
        vspw(tmp_path / 'nomask')
    # unannotated video: fine for testing, every frame is a sample
    ds = vspw(tmp_path / 'nomask', test_mode=True)
    assert len(ds) == 3 and ds.get_data_info(0)['seg_map_paths'] == []

    root = make_vspw(tmp_path / 'mismatch', {'vid_odd': 4})
    import os
    os.remove(osp.join(root, 'data', 'vid_odd', 'mask', '00000002.png'))
    with pytest.raises(ValueError,
                       match=r'"vid_odd": 4 frames but 3 masks.*00000002'):
        vspw(root)

    root = make_vspw(tmp_path / 'labels', {'vid_lbl': 2})
    mask = np.ones((16, 24), dtype=np.uint8)
    mask[0, 0] = 200  # label 199: not a VSPW class
    _write_mask(osp.join(root, 'data', 'vid_lbl', 'mask', '00000001.png'),
                mask)
    ds = vspw(root, pipeline=[LoadClipFromFiles(), LoadClipAnnotations()])
    ds[0]  # frame 0 is fine
    with pytest.raises(ValueError,
                       match=r'"vid_lbl".*00000001\.png has labels \[199\]'):
        ds[1]

    with open(osp.join(root, 'train.txt'), 'a') as f:
        f.write('vid_missing\n')
    with pytest.raises(FileNotFoundError, match='vid_missing'):
        vspw(root)


def _write_city_sequence(root, frames, annotated, size=(16, 32)):
    import os
    img_dir = osp.join(root, 'leftImg8bit_sequence', 'val', 'aachen')
    gt_dir = osp.join(root, 'gtFine', 'val', 'aachen')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(gt_dir, exist_ok=True)
    for f in frames:
        img = np.full((*size, 3), f, dtype=np.uint8)
        cv2.imwrite(
            osp.join(img_dir, f'aachen_000001_{f:06d}_leftImg8bit.png'), img)
    mask = np.zeros(size, dtype=np.uint8)
    mask[:, :4] = 255
    mask[0, 5] = 18
    _write_mask(
        osp.join(gt_dir, f'aachen_000001_{annotated:06d}'
                 '_gtFine_labelTrainIds.png'), mask)


def _city_kwargs(root):
    """Dataset arguments for a sequence written by _write_city_sequence."""
    return dict(
        data_root=str(root),
        data_prefix=dict(
            img_path='leftImg8bit_sequence/val', seg_map_path='gtFine/val'),
        pipeline=[LoadClipFromFiles(),
                  LoadClipAnnotations(),
                  PackClipSegInputs()])


def test_cityscapes_seq_sampling(tmp_path):
    _write_city_sequence(tmp_path, range(10, 20), 19)
    kwargs = _city_kwargs(tmp_path)
    ds = CityscapesSeqDataset(clip_len=4, **kwargs)
    assert len(ds) == 1 and len(ds.metainfo['classes']) == 19
    out = ds[0]
    # frames 16..19, each image filled with its frame number
    assert out['inputs'][:, 0, 0, 0].tolist() == [16, 17, 18, 19]
    sample = out['data_samples']
    assert sample.video_name == 'aachen_000001' and sample.frame_index == 19
    assert sample.gt_sem_seg.data.shape == (1, 16, 32)
    assert sample.gt_sem_seg.data.max() == 255

    ds = CityscapesSeqDataset(clip_len=4, frame_interval=3, **kwargs)
    assert ds.get_data_info(0)['clip_frame_indices'] == [10, 13, 16, 19]
    with pytest.raises(FileNotFoundError, match='clip frame 7 .*not found'):
        CityscapesSeqDataset(clip_len=5, frame_interval=3, **kwargs)
    ds = CityscapesSeqDataset(
        clip_len=5, frame_interval=3, missing_frames='nearest', **kwargs)
    assert ds.get_data_info(0)['clip_frame_indices'] == [10, 10, 13, 16, 19]


def test_cityscapes_seq_key_frame_offset(tmp_path):
    # the clip may end `offset` frames after the annotated frame 19:
    # key_frame_index = clip_len - 1 - offset
    _write_city_sequence(tmp_path, range(10, 24), 19)
    ds = CityscapesSeqDataset(
        clip_len=4, key_frame_index=1, **_city_kwargs(tmp_path))
    out = ds[0]
    assert out['inputs'][:, 0, 0, 0].tolist() == [18, 19, 20, 21]
    sample = out['data_samples']
    assert sample.key_frame == 1 and sample.gt_frames == [1]
    assert sample.frame_index == 19
    assert sample.img_path.endswith('aachen_000001_000019_leftImg8bit.png')


def test_vspw_fixture(shared_fixtures):
    root = shared_fixtures / 'derived' / 'vspw_style' / 'VSPW_fixture'
    test_pipeline = [
        dict(type='mmsvf.LoadClipFromFiles'),
        dict(type='mmsvf.ClipResize', scale=(64, 32), keep_ratio=False),
        dict(type='mmsvf.LoadClipAnnotations'),
        dict(type='mmsvf.PackClipSegInputs')
    ]
    ds = VSPWDataset(
        data_root=str(root), ann_file='val.txt', clip_len=2, test_mode=True,
        pipeline=test_pipeline)
    assert len(ds) == 5 and len(ds.metainfo['classes']) == 124
    out = ds[4]
    assert out['inputs'].shape == (2, 3, 32, 64)
    sample = out['data_samples']
    assert sample.clip_frame_indices == [3, 4]
    assert sample.ori_shape == (128, 256)
    gt = sample.gt_sem_seg.data
    assert gt.shape == (1, 128, 256)
    values = set(torch.unique(gt).tolist())
    assert 255 in values and values - {255} <= {0, 1, 2}

    ds = VSPWDataset(data_root=str(root), ann_file='test.txt', clip_len=4,
                     test_mode=True, pipeline=test_pipeline)
    assert len(ds) == 10  # real clip without masks: every frame
    out = ds[9]
    assert 'gt_sem_seg' not in out['data_samples']
    assert out['data_samples'].clip_frame_indices == [6, 7, 8, 9]
    # real consecutive frames differ
    assert not torch.equal(out['inputs'][0], out['inputs'][3])


def test_cityscapes_fixture(shared_fixtures):
    root = (shared_fixtures / 'mmsegmentation' / 'tests' / 'data' /
            'pseudo_cityscapes_dataset')
    kwargs = dict(
        data_root=str(root),
        data_prefix=dict(
            img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        test_mode=True,
        pipeline=[
            dict(type='mmsvf.LoadClipFromFiles'),
            dict(type='mmsvf.ClipResize', scale=(128, 64), keep_ratio=True),
            dict(type='mmsvf.LoadClipAnnotations'),
            dict(type='mmsvf.PackClipSegInputs')
        ])
    # only the annotated frame exists (no leftImg8bit_sequence)
    with pytest.raises(FileNotFoundError, match='frankfurt_000000_000291'):
        CityscapesSeqDataset(clip_len=4, **kwargs)
    ds = CityscapesSeqDataset(clip_len=4, missing_frames='nearest', **kwargs)
    assert len(ds) == 1
    out = ds[0]
    assert out['inputs'].shape == (4, 3, 64, 128)
    sample = out['data_samples']
    assert sample.ori_shape == (128, 256)
    assert sample.img_path.endswith('frankfurt_000000_000294_leftImg8bit.png')
    values = set(torch.unique(sample.gt_sem_seg.data).tolist())
    assert values == {0, 1, 2, 4, 5, 7, 8, 10, 11, 13, 255}
