# Copyright (c) mmsvf contributors. All rights reserved.
"""MMHPSDDataset, its clip transforms and the toy-data generator."""
import os

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from mmsvf.models.pose import SMPLLayer, perspective_projection
from mmsvf.registry import DATASETS
from mmsvf_test_utils import load_script

SIZE, FRAMES = 32, 6


@pytest.fixture(scope='module')
def toy_root(repo_root, tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_mmhpsd')
    actions = load_script('tools/data/generate_toy_mmhpsd.py').generate(
        str(root), subjects=(1, 3), frames=FRAMES, size=SIZE, events=True,
        seed=0)
    assert actions == ['subject01_group1_time1', 'subject03_group1_time1']
    return root


def _build(root, pipeline=(), **kwargs):
    with DefaultScope.overwrite_default_scope('mmsvf'):
        return DATASETS.build(
            dict(type='MMHPSDDataset', data_root=str(root),
                 pipeline=list(pipeline), **kwargs))


LOAD = dict(type='LoadMMHPSDClip')
PACK = dict(type='PackClipPoseInputs')


def test_splits_and_clips(toy_root):
    train = _build(toy_root, split='train', clip_len=3, frame_interval=2,
                   clip_stride=1)
    test = _build(toy_root, split='test', clip_len=3, frame_interval=1)
    # subject 3 trains; clips 0-2-4 and 1-3-5
    assert [d['frame_inds'] for d in train] == [[0, 2, 4], [1, 3, 5]]
    assert {d['subject'] for d in train} == {3}
    # subject 1 is a test subject; non-overlapping clips by default
    assert [d['frame_inds'] for d in test] == [[0, 1, 2], [3, 4, 5]]
    assert test[0]['img_paths'][1].endswith(
        'mmhpsd_grayscale_img/subject01_group1_time1/imgs/fullpic0001.jpg')
    assert test[0]['target_img_path'][0] == \
        'subject01_group1_time1.fullpic0000.jpg'
    assert len(_build(toy_root, split='all', clip_len=6,
                      frame_interval=1)) == 2
    with pytest.raises(ValueError, match='no clip of 7 frames'):
        _build(toy_root, subjects=[1], clip_len=7)


def test_pipeline_keeps_camera_consistent(toy_root):
    ds = _build(
        toy_root,
        split='train',
        clip_len=2,
        frame_interval=1,
        pipeline=[
            LOAD,
            dict(type='ClipPoseRandomResizedCrop', size=(48, 40),
                 area_range=(0.5, 0.7)), PACK
        ])
    np.random.seed(0)
    out = ds[0]
    assert out['inputs'].shape == (2, 1, 40, 48)
    assert out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    k = sample.metainfo['intrinsics']
    assert sample.metainfo['img_shape'] == (40, 48)
    labels = sample.gt_instance_labels
    # after the crop, projecting the 3-D joints with the updated intrinsics
    # still lands on the (transformed) 2-D joints
    proj = perspective_projection(labels.joints3d, torch.as_tensor(k))
    torch.testing.assert_close(proj, labels.joints2d, atol=2e-3, rtol=0)
    assert sample.gt_instances.lifting_target.shape == (2, 24, 3)
    # the stored joints are the toy body model posed by the stored params
    smpl = SMPLLayer(str(toy_root / 'toy_smpl.npz'))
    posed = smpl(labels.betas, pose=labels.body_pose, transl=labels.transl)
    torch.testing.assert_close(posed['joints'], labels.joints3d, atol=1e-4,
                               rtol=0)


def test_resize_scales_intrinsics(toy_root):
    ds = _build(toy_root, split='test', clip_len=2, frame_interval=1,
                pipeline=[LOAD])
    raw = ds[0]
    np.testing.assert_allclose(raw['intrinsics'],
                               np.array([1679.3, 1679.3, 641, 641]) * SIZE /
                               1280, rtol=1e-6)
    resized = _build(
        toy_root, split='test', clip_len=2, frame_interval=1,
        pipeline=[LOAD, dict(type='ClipPoseResize', scale=(64, 64))])[0]
    np.testing.assert_allclose(resized['intrinsics'], 2 * raw['intrinsics'])
    np.testing.assert_allclose(resized['joints2d'], 2 * raw['joints2d'])
    assert resized['imgs'][0].shape == (64, 64, 1)


def test_events_modality(toy_root):
    ds = _build(toy_root, split='train', clip_len=2, frame_interval=2,
                modality='events',
                pipeline=[dict(LOAD, event_size=(SIZE, SIZE)), PACK])
    out = ds[0]
    assert out['inputs'].shape == (2, 4, SIZE, SIZE)
    assert set(out['inputs'].unique().tolist()) <= {0, 1}
    assert out['inputs'].sum() > 0  # the figure moves


def test_bad_pose_files(toy_root, tmp_path):
    import shutil
    root = tmp_path / 'broken'
    shutil.copytree(toy_root, root)
    pose = root / 'mmhpsd_events/subject03_group1_time1/poses/pose_0001.npz'
    fields = dict(np.load(pose))
    fields['beta'] = np.zeros((1, 9), np.float32)
    np.savez(pose, **fields)
    ds = _build(root, split='train', clip_len=2, frame_interval=1,
                pipeline=[LOAD])
    with pytest.raises(ValueError, match=r'pose_0001\.npz.*"beta".*\(1, 9\)'):
        ds[0]
    del fields['beta']
    np.savez(pose, **fields)
    with pytest.raises(KeyError, match=r'pose_0001\.npz.*"beta"'):
        ds[0]
    os.remove(root / 'mmhpsd_grayscale_img/subject03_group1_time1/imgs/'
              'fullpic0000.jpg')
    with pytest.raises(FileNotFoundError, match='fullpic0000.jpg'):
        ds[0]
    os.rename(root / 'mmhpsd_events/subject03_group1_time1',
              root / 'mmhpsd_events/person3_group1')
    with pytest.raises(ValueError, match='person3_group1'):
        _build(root, split='train')
    with pytest.raises(FileNotFoundError, match='pose folder'):
        _build(tmp_path / 'nowhere')


def test_shared_mmhpsd_fixture(shared_fixtures):
    """A real MMHPSD-layout sample, if the fixtures ever carry one."""
    roots = sorted(p.parent for p in shared_fixtures.glob('**/mmhpsd_events')
                   if p.is_dir())
    if not roots:
        pytest.skip('no MMHPSD-layout fixture (MANIFEST.md §2c: no public '
                    'sample is available)')
    ds = _build(roots[0], split='all', clip_len=2, frame_interval=1,
                pipeline=[LOAD, dict(type='ClipPoseResize', scale=(64, 64)),
                          PACK])
    assert len(ds) > 0
    out = ds[0]
    assert out['inputs'].shape[:2] == (2, 1)
    assert out['data_samples'].gt_instances.lifting_target.shape == (2, 24, 3)
