# Copyright (c) mmsvf contributors. All rights reserved.
"""Values (not shapes) of the classification head and the recognizer:
multi-view averaging written out by hand, and a tiny Recognizer3D's
predicted scores against the independent reference backbone + head
(Meta-SpikeFormer head: spatial mean -> LIF over frames -> Linear -> mean
over frames; mmaction test-time averaging of the views of a sample)."""
import math

import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine.registry import DefaultScope

from mmsvf.models import SpikingClsHead
from mmsvf.registry import MODELS
from reference_svf import ReferenceSVF, reference_cls_head
from svf_fixtures import TINY, set_weights

LN3 = math.log(3.0)


pytestmark = pytest.mark.usefixtures('single_torch_thread')


def samples(n):
    return [ActionDataSample().set_gt_label(0) for _ in range(n)]


# 2 samples x 3 views (sample-major rows), 2 classes. softmax([0, ln 3]) =
# [1/4, 3/4], softmax([ln 3, 0]) = [3/4, 1/4], softmax([0, 0]) = [1/2, 1/2]
VIEW_SCORES = torch.tensor([
    [0.0, LN3], [0.0, LN3], [0.0, 0.0],  # sample 0
    [LN3, 0.0], [0.0, 0.0], [0.0, 0.0],  # sample 1
], dtype=torch.float64)


@pytest.mark.parametrize('average_clips,expected', [
    # mean of the probabilities: (1/4 + 1/4 + 1/2) / 3 = 1/3, ...
    ('prob', [[1 / 3, 2 / 3], [7 / 12, 5 / 12]]),
    # mean of the raw scores
    ('score', [[0.0, 2 * LN3 / 3], [LN3 / 3, 0.0]]),
])
def test_multi_view_average_hand_values(average_clips, expected):
    head = SpikingClsHead(num_classes=2, in_channels=4,
                          average_clips=average_clips)
    out = head.predict_by_feat(VIEW_SCORES.clone(), samples(2))
    assert len(out) == 2
    for sample, exp in zip(out, expected):
        torch.testing.assert_close(
            sample.pred_score, torch.tensor(exp, dtype=torch.float64),
            rtol=1e-12, atol=1e-12)
    assert [int(s.pred_label) for s in out] == [1, 0]


@pytest.mark.parametrize('average_clips', ['prob', 'score'])
def test_predict_averages_views_of_head_scores(average_clips):
    torch.manual_seed(0)
    head = SpikingClsHead(num_classes=5, in_channels=16,
                          average_clips=average_clips).double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        head.head.weight.copy_(torch.randn(5, 16, generator=g,
                                           dtype=torch.float64))
        head.head.bias.copy_(torch.randn(5, generator=g,
                                         dtype=torch.float64))
    # 2 samples x 3 views, (B, C, T, h, w) membranes
    feats = torch.randn(6, 16, 4, 2, 2, generator=g,
                        dtype=torch.float64) * 2 + 1
    spikes = head.spikes(feats)
    assert 0.1 < spikes.mean().item() < 0.9
    out = head.predict(feats, samples(2))
    views = reference_cls_head(feats, head.head.weight.detach(),
                               head.head.bias.detach())
    for i, sample in enumerate(out):
        rows = views[3 * i:3 * i + 3]  # the views of sample i
        if average_clips == 'prob':
            exp = [sum(math.exp(r[c]) / sum(math.exp(x) for x in r)
                       for r in rows.tolist()) / 3 for c in range(5)]
        else:
            exp = [sum(r[c] for r in rows.tolist()) / 3 for c in range(5)]
        torch.testing.assert_close(sample.pred_score,
                                   torch.tensor(exp, dtype=torch.float64),
                                   rtol=1e-10, atol=1e-12)


def test_recognizer_scores_equal_reference():
    """Recognizer3D(SpikeVideoFormer, SpikingClsHead): 2 samples x 2 views,
    ``average_clips='prob'``, float64, non-trivial BN statistics."""
    mean = [123.675, 116.28, 103.53]
    std = [58.395, 57.12, 57.375]
    cfg = dict(
        type='Recognizer3D',
        _scope_='mmaction',
        backbone=dict(type='mmsvf.SpikeVideoFormer', _scope_='mmsvf',
                      out_indices=(3, ), **TINY),
        cls_head=dict(type='mmsvf.SpikingClsHead', in_channels=16,
                      num_classes=5, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor', mean=mean,
                               std=std, format_shape='NCTHW'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmsvf'):
        model = MODELS.build(cfg)
    model = model.double().eval()
    set_weights(model.backbone, 0)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        model.cls_head.head.weight.copy_(
            torch.randn(5, 16, generator=g, dtype=torch.float64))
        model.cls_head.head.bias.copy_(
            torch.randn(5, generator=g, dtype=torch.float64))
    clips = [torch.randint(0, 256, (2, 3, 3, 32, 32), generator=g,
                           dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(
        dict(inputs=[c.clone() for c in clips], data_samples=samples(2)),
        training=False)
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2

    ref = ReferenceSVF(model.backbone.state_dict(), TINY['embed_dims'],
                       TINY['depths'])
    head = model.cls_head
    for clip, pred in zip(clips, preds):
        x = clip.double()
        x = (x - torch.tensor(mean, dtype=torch.float64).view(3, 1, 1, 1)) \
            / torch.tensor(std, dtype=torch.float64).view(3, 1, 1, 1)
        feat = ref(x)[3]  # (views, 16, T, 2, 2)
        scores = reference_cls_head(feat, head.head.weight.detach(),
                                    head.head.bias.detach())
        assert scores.shape == (2, 5)
        assert ref.rates['block4.0.attn.attn_lif'] > 0.01
        with torch.no_grad():  # the head neuron is neither silent nor full
            assert 0.05 < head.spikes(feat).mean().item() < 0.95
        expected = torch.softmax(scores, dim=1).mean(dim=0)
        torch.testing.assert_close(pred.pred_score, expected, rtol=1e-10,
                                   atol=1e-12)
        assert int(pred.pred_label) == int(expected.argmax())
    # different clips, different answers (the check is not vacuous)
    assert not torch.allclose(preds[0].pred_score, preds[1].pred_score)
