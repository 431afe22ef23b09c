# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf registries talk to mmaction / mmseg / mmpose in both directions."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

import mmsvf.models  # noqa: F401  (registers LIF, IntegerLIF)
from mmsvf.models.neurons import LIF, IntegerLIF
from mmsvf.registry import METRICS, MODELS


@pytest.fixture(autouse=True)
def restore_default_scope():
    """Each test leaves the process-wide DefaultScope as it found it."""
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.mark.parametrize('scope', ['mmaction', 'mmseg', 'mmpose'])
def test_upstream_scope_builds_mmsvf_types(scope):
    registry = {
        'mmaction': 'mmaction.registry',
        'mmseg': 'mmseg.registry',
        'mmpose': 'mmpose.registry'
    }[scope]
    upstream_models = __import__(registry, fromlist=['MODELS']).MODELS
    assert upstream_models.scope == scope
    with DefaultScope.overwrite_default_scope(scope):
        assert DefaultScope.get_current_instance().scope_name == scope
        lif = upstream_models.build(
            dict(type='mmsvf.LIF', v_reset=None, tau=3.0))
        ilif = upstream_models.build(dict(type='mmsvf.IntegerLIF',
                                          max_level=2))
    assert type(lif) is LIF and lif.v_reset is None and lif.tau == 3.0
    assert type(ilif) is IntegerLIF and ilif.max_level == 2
    # without the prefix the upstream scope does not know the type
    with DefaultScope.overwrite_default_scope(scope):
        with pytest.raises(KeyError, match='LIF'):
            upstream_models.build(dict(type='LIF'))


def test_mmsvf_scope_builds_mmaction_head():
    from mmaction.models import I3DHead
    with DefaultScope.overwrite_default_scope('mmsvf'):
        head = MODELS.build(
            dict(type='mmaction.I3DHead', num_classes=5, in_channels=8,
                 loss_cls=dict(type='mmaction.CrossEntropyLoss')))
        # nested parts resolve in the *current* scope: an unprefixed
        # upstream loss is not found under mmsvf
        with pytest.raises(KeyError, match='CrossEntropyLoss'):
            MODELS.build(dict(type='mmaction.I3DHead', num_classes=5,
                              in_channels=8))
    assert type(head) is I3DHead
    assert head.fc_cls.in_features == 8 and head.fc_cls.out_features == 5


def test_mmsvf_scope_builds_nested_recognizer():
    """``_scope_`` carries to nested parts; an mmsvf part nests inside."""
    from mmaction.models import ActionDataPreprocessor, I3DHead, Recognizer3D
    from mmaction.structures import ActionDataSample
    cfg = dict(
        type='Recognizer3D',
        _scope_='mmaction',
        backbone=dict(type='mmsvf.LIF'),
        cls_head=dict(type='I3DHead', num_classes=4, in_channels=3,
                      average_clips='prob'),
        data_preprocessor=dict(
            type='ActionDataPreprocessor', mean=[0., 0., 0.],
            std=[1., 1., 1.], format_shape='NCTHW'))
    with DefaultScope.overwrite_default_scope('mmsvf'):
        model = MODELS.build(cfg)
        # the type prefix alone does not carry the scope to nested parts
        bad = dict(cfg, type='mmaction.Recognizer3D')
        bad.pop('_scope_')
        with pytest.raises(KeyError, match='ActionDataPreprocessor'):
            MODELS.build(bad)
    assert type(model) is Recognizer3D
    assert type(model.backbone) is LIF
    assert type(model.cls_head) is I3DHead
    assert type(model.data_preprocessor) is ActionDataPreprocessor
    # a real forward through the preprocessor, the LIF and the head
    torch.manual_seed(0)
    clips = [torch.randint(0, 3, (1, 3, 4, 6, 6), dtype=torch.uint8)
             for _ in range(2)]
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    data = model.data_preprocessor(
        dict(inputs=clips, data_samples=samples), training=False)
    assert data['inputs'].shape == (2, 1, 3, 4, 6, 6)
    spikes = model.backbone(data['inputs'].flatten(0, 1))
    assert set(spikes.unique().tolist()) <= {0., 1.}
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2
    for pred in preds:
        assert pred.pred_score.shape == (4, )
        torch.testing.assert_close(pred.pred_score.sum(), torch.tensor(1.))


def test_mmsvf_scope_builds_mmseg_head():
    from mmseg.models.decode_heads import FPNHead
    with DefaultScope.overwrite_default_scope('mmsvf'):
        head = MODELS.build(
            dict(type='mmseg.FPNHead', in_channels=[4, 4], in_index=[0, 1],
                 feature_strides=[4, 8], channels=4, num_classes=3,
                 norm_cfg=dict(type='BN', requires_grad=True),
                 loss_decode=dict(type='mmseg.CrossEntropyLoss')))
    assert type(head) is FPNHead
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4)]
    assert head(feats).shape == (2, 3, 8, 8)


def test_mmsvf_scope_builds_mmpose_metric():
    from mmpose.evaluation.metrics import MPJPE
    with DefaultScope.overwrite_default_scope('mmsvf'):
        metric = METRICS.build(dict(type='mmpose.MPJPE', mode='mpjpe'))
    assert type(metric) is MPJPE
    gt = np.zeros((1, 5, 3), dtype=np.float32)
    pred = gt.copy()
    pred[..., 0] += 3.0  # every joint 3 units off along x
    metric.process([], [dict(
        pred_instances=dict(keypoints=pred),
        gt_instances=dict(lifting_target=gt,
                          lifting_target_visible=np.ones((1, 5))),
        target_img_path=['S9_Walking.0001.jpg'])])
    result = metric.compute_metrics(metric.results)
    assert result['MPJPE'] == pytest.approx(3.0)
    assert result['MPJPE_Walking'] == pytest.approx(3.0)


def test_register_all_modules_sets_mmsvf_scope():
    from mmengine.registry import MODELS as ROOT_MODELS

    from mmsvf.utils import register_all_modules
    DefaultScope._instance_dict.pop('mmsvf', None)
    with DefaultScope.overwrite_default_scope('mmaction'):
        register_all_modules()
        assert DefaultScope.get_current_instance().scope_name == 'mmsvf'
        # unprefixed mmsvf types now resolve through the default scope
        assert type(ROOT_MODELS.build(dict(type='LIF'))) is LIF
    register_all_modules()
    assert DefaultScope.get_current_instance().scope_name == 'mmsvf'
    # once an 'mmsvf' scope exists, another current scope is overridden
    # (with a warning) under a fresh instance name
    with DefaultScope.overwrite_default_scope('mmpose'):
        with pytest.warns(UserWarning, match='force the current default'):
            register_all_modules()
        current = DefaultScope.get_current_instance()
        assert current.scope_name == 'mmsvf'
        assert current.instance_name != 'mmsvf'
    with DefaultScope.overwrite_default_scope('mmseg'):
        register_all_modules(init_default_scope=False)
        assert DefaultScope.get_current_instance().scope_name == 'mmseg'


def test_scoped_names_the_scope_of_nested_parts():
    from mmsvf.registry import MMSVF_SCOPE, scoped
    cfg = dict(type='LIF', tau=2.0)
    out = scoped(cfg)
    assert out == dict(type='LIF', tau=2.0, _scope_=MMSVF_SCOPE)
    assert cfg == dict(type='LIF', tau=2.0)  # the input is not modified
    assert MMSVF_SCOPE == MODELS.scope == METRICS.scope
    assert scoped(dict(type='CrossEntropyLoss'), 'mmaction')['_scope_'] == \
        'mmaction'
    # a scope the user named wins
    assert scoped(dict(type='X', _scope_='mmpose'))['_scope_'] == 'mmpose'


@pytest.mark.parametrize('scope', ['mmaction', 'mmseg', 'mmpose', 'mmsvf'])
def test_nested_mmsvf_parts_build_under_any_scope(scope):
    """The places that build nested parts from config (neuron builder,
    spiking head, pose estimator) apply the one scope rule."""
    from mmaction.models.losses import CrossEntropyLoss

    from mmsvf.models.heads import SpikingClsHead
    from mmsvf.models.neurons import build_neuron
    from mmsvf.models.pose import SpikePoseEstimator
    with DefaultScope.overwrite_default_scope(scope):
        assert type(build_neuron(dict(type='LIF'))) is LIF
        head = SpikingClsHead(num_classes=3, in_channels=4,
                              neuron=dict(type='IntegerLIF', max_level=2))
        assert type(head.lif) is IntegerLIF and head.lif.max_level == 2
        assert type(head.loss_cls) is CrossEntropyLoss
        # a prefixed type resolves by its prefix (no _scope_ is added)
        assert type(build_neuron(dict(type='mmsvf.LIF'))) is LIF
        pose = SpikePoseEstimator(
            backbone=dict(type='LIF'), head=dict(type='IntegerLIF'),
            data_preprocessor=dict(type='ClipPoseDataPreprocessor'))
    assert type(pose.backbone) is LIF and type(pose.head) is IntegerLIF
