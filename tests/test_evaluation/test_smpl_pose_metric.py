# Copyright (c) mmsvf contributors. All rights reserved.
"""SMPLPoseMetric, and mmpose's MPJPE metric on real Human3.6M data and on
mmsvf's clip data samples."""
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from mmpose.evaluation import MPJPE
from mmpose.structures import PoseDataSample

from mmsvf.evaluation.functional import pose_errors
from mmsvf.evaluation.metrics import SMPLPoseMetric


def _clip_sample(pred, gt, action='subject01_group1_time1', verts=None):
    """A data sample shaped like SpikePoseEstimator.predict's output."""
    t = len(gt)
    ds = PoseDataSample(
        metainfo=dict(target_img_path=[
            f'{action}.fullpic{i:04d}.jpg' for i in range(t)
        ]))
    ds.gt_instances = InstanceData(
        lifting_target=gt.astype(np.float32),
        lifting_target_visible=np.ones(gt.shape[:2], np.float32))
    ds.pred_instances = InstanceData(keypoints=pred.astype(np.float32))
    if verts is not None:
        ds.gt_instances.vertices = verts[1]
        ds.pred_instances.vertices = verts[0]
    return ds.to_dict()


def _run(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_smpl_pose_metric_values_in_mm():
    rng = np.random.default_rng(0)
    gt = rng.normal(scale=0.3, size=(2, 5, 24, 3)) + [0, 0, 4]
    pred = gt + rng.normal(scale=0.02, size=gt.shape) + [0.05, 0, 0]
    metric = SMPLPoseMetric()
    res = _run(metric, [_clip_sample(p, g) for p, g in zip(pred, gt)])
    ref = pose_errors(pred.reshape(-1, 24, 3), gt.reshape(-1, 24, 3))
    assert res['MPJPE'] == pytest.approx(1000 * ref['mpjpe'], rel=1e-5)
    assert res['PEL-MPJPE'] == pytest.approx(1000 * ref['pel_mpjpe'],
                                             rel=1e-5)
    assert res['PA-MPJPE'] == pytest.approx(1000 * ref['pa_mpjpe'], rel=1e-5)
    assert 'PVE' not in res
    assert 0 <= res['PCKh@0.5'] <= 100
    # the global offset of 5 cm is in MPJPE only
    assert res['MPJPE'] > 45 > res['PEL-MPJPE']


def test_smpl_pose_metric_pve_and_pckh():
    rng = np.random.default_rng(1)
    gt = rng.normal(scale=0.3, size=(3, 24, 3)) + [0, 0, 4]
    gt_v = rng.normal(scale=0.3, size=(3, 40, 3)) + [0, 0, 4]
    # the prediction is the ground truth moved and scaled as one body
    pred, pred_v = 1.1 * gt + 0.2, 1.1 * gt_v + 0.2
    res = _run(SMPLPoseMetric(prefix=None),
               [_clip_sample(pred, gt, verts=(pred_v, gt_v))])
    assert res['PVE'] == pytest.approx(0, abs=1e-3)
    assert res['PA-MPJPE'] == pytest.approx(0, abs=1e-3)
    res = _run(SMPLPoseMetric(), [_clip_sample(gt, gt)])
    assert res['PCKh@0.5'] == pytest.approx(100.0)


def test_smpl_pose_metric_bad_input():
    metric = SMPLPoseMetric()
    with pytest.raises(ValueError, match=r'\(T, J, 3\)'):
        metric.process({}, [
            _clip_sample(np.zeros((4, 23, 3)), np.zeros((4, 24, 3)))
        ])


def test_mmpose_mpjpe_reads_clip_samples():
    """mmsvf's clip samples fit mmpose's MPJPE (same value, in metres)."""
    rng = np.random.default_rng(2)
    gt = rng.normal(scale=0.3, size=(4, 24, 3)) + [0, 0, 4]
    pred = gt + rng.normal(scale=0.05, size=gt.shape)
    samples = [_clip_sample(pred, gt, 'subject01_group2_time1')]
    ours = _run(SMPLPoseMetric(), samples)
    for mode, key in (('mpjpe', 'MPJPE'), ('p-mpjpe', 'PA-MPJPE')):
        res = _run(MPJPE(mode=mode), samples)
        name = mode.upper()
        assert res[name] * 1000 == pytest.approx(ours[key], rel=1e-4)
        # the action category comes from the file-name stem
        assert f'{name}_group2' in res


def test_h36m_fixture_through_mmpose_mpjpe(shared_fixtures):
    """Real Human3.6M frames: mmpose's Human36mDataset + PackPoseInputs +
    MPJPE, checked against mmsvf's pose_errors."""
    from mmpose.datasets import Human36mDataset
    root = shared_fixtures / 'mmpose/tests/data/h36m'
    if not (root / 'test_h36m_body3d.npz').is_file():
        pytest.skip(f'{root} lacks test_h36m_body3d.npz')
    codec = dict(
        type='VideoPoseLifting',
        num_keypoints=17,
        zero_center=True,
        root_index=0,
        remove_root=False)
    with DefaultScope.overwrite_default_scope('mmpose'):
        dataset = Human36mDataset(
            ann_file='test_h36m_body3d.npz',
            data_root=str(root),
            data_prefix=dict(img=''),
            seq_len=1,
            camera_param_file='cameras.pkl',
            pipeline=[
                dict(type='GenerateTarget', encoder=codec),
                dict(
                    type='PackPoseInputs',
                    meta_keys=('id', 'category_id', 'target_img_path',
                               'flip_indices', 'target_root'))
            ],
            test_mode=True)
        assert len(dataset) == 4
        rng = np.random.default_rng(3)
        samples, preds, gts = [], [], []
        for i in range(len(dataset)):
            ds = dataset[i]['data_samples']
            gt = np.asarray(ds.gt_instances.lifting_target)
            assert gt.shape == (1, 17, 3)
            pred = gt + rng.normal(scale=0.02, size=gt.shape)
            ds.pred_instances = InstanceData(keypoints=pred)
            samples.append(ds.to_dict())
            preds.append(pred[0])
            gts.append(gt[0])
        ref = pose_errors(np.stack(preds), np.stack(gts))
        for mode, key in (('mpjpe', 'mpjpe'), ('p-mpjpe', 'pa_mpjpe')):
            res = _run(MPJPE(mode=mode), samples)
            assert res[mode.upper()] == pytest.approx(ref[key], rel=1e-6)
            # the four real actions of the fixture
            assert {f'{mode.upper()}_{a}'
                    for a in ('Directions', 'SittingDown', 'Greeting',
                              'WalkDog')} <= set(res)
