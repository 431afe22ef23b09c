# Copyright (c) mmsvf contributors. All rights reserved.
import pytest
import torch
from mmaction.structures import ActionDataSample

from mmsvf.models import SpikingClsHead


def _samples(labels):
    return [ActionDataSample().set_gt_label(int(i)) for i in labels]


def _feat(b=2, c=16, t=4, h=2, w=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, t, h, w, generator=g) * 2 + 1


def test_shapes_and_tuple_input():
    head = SpikingClsHead(num_classes=5, in_channels=16)
    x = _feat()
    out = head(x)
    assert out.shape == (2, 5)
    # a backbone tuple: the last stage is used by default
    other = torch.randn(2, 8, 4, 4, 4)
    assert torch.equal(head((other, x)), out)
    spikes = head.spikes(x)
    assert spikes.shape == (4, 2, 16)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_bad_input_names_shape():
    head = SpikingClsHead(num_classes=5, in_channels=16)
    with pytest.raises(ValueError, match=r'\(2, 8, 4, 2, 2\)'):
        head(torch.randn(2, 8, 4, 2, 2))
    with pytest.raises(ValueError, match='NCTHW'):
        head(torch.randn(2, 16, 4))


def test_init_trunc_normal_zero_bias():
    torch.manual_seed(0)
    head = SpikingClsHead(num_classes=400, in_channels=256, with_kd=True)
    head.init_weights()
    for lin in (head.head, head.head_kd):
        # timm / Meta-SpikeFormer trunc_normal_(std=.02): bounds [-2, 2]
        assert 0.018 < lin.weight.std().item() < 0.022
        assert abs(lin.weight.mean().item()) < 0.002
        assert torch.count_nonzero(lin.bias) == 0


def test_gradients_reach_input_and_weights():
    torch.manual_seed(0)
    head = SpikingClsHead(num_classes=3, in_channels=16)
    x = _feat().requires_grad_(True)
    losses = head.loss(x, _samples([0, 2]))
    assert set(losses) >= {'loss_cls', 'top1_acc'}
    losses['loss_cls'].backward()
    assert head.head.weight.grad.abs().sum() > 0
    # through the LIF surrogate gradient into the backbone feature
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_temporal_state_vs_reset_each_frame():
    torch.manual_seed(0)
    x = _feat(b=4, t=6, seed=1)
    rev = x.flip(2)
    carried = SpikingClsHead(num_classes=3, in_channels=16)
    reset = SpikingClsHead(num_classes=3, in_channels=16,
                           reset_each_frame=True)
    reset.load_state_dict(carried.state_dict())
    # per-frame reset: the score is a mean over frames, order does not matter
    torch.testing.assert_close(reset(x), reset(rev))
    # carried membranes: reversing the frames changes the spikes
    assert not torch.allclose(carried(x), carried(rev))


def test_kd_head_average_and_losses():
    torch.manual_seed(0)
    head = SpikingClsHead(num_classes=4, in_channels=16, with_kd=True,
                          kd_alpha=0.25)
    head.init_weights()
    x = _feat()
    score, score_kd = head.forward_both(x)
    torch.testing.assert_close(head(x), (score + score_kd) / 2)
    losses = head.loss(x, _samples([1, 3]))
    assert set(losses) >= {'loss_cls', 'loss_kd'}
    plain = SpikingClsHead(num_classes=4, in_channels=16)
    plain.head.load_state_dict(head.head.state_dict())
    full = plain.loss(x, _samples([1, 3]))['loss_cls']
    torch.testing.assert_close(losses['loss_cls'], 0.75 * full)
    keys = set(head.state_dict())
    assert {'head.weight', 'head.bias', 'head_kd.weight',
            'head_kd.bias'} <= keys
    assert not any(k.startswith('lif') for k in keys)
    with pytest.raises(ValueError, match='kd_alpha'):
        SpikingClsHead(num_classes=4, in_channels=16, kd_alpha=2)


def test_label_smoothing_through_base_head():
    torch.manual_seed(0)
    x = _feat()
    hard = SpikingClsHead(num_classes=5, in_channels=16)
    smooth = SpikingClsHead(num_classes=5, in_channels=16,
                            label_smooth_eps=0.2)
    smooth.load_state_dict(hard.state_dict())
    s = _samples([0, 4])
    assert not torch.allclose(hard.loss(x, s)['loss_cls'],
                              smooth.loss(x, s)['loss_cls'])


def test_predict_multi_view_average():
    torch.manual_seed(0)
    head = SpikingClsHead(num_classes=5, in_channels=16,
                          average_clips='prob')
    x = _feat(b=6)  # 2 samples x 3 views
    out = head.predict(x, _samples([0, 1]))
    assert len(out) == 2
    for sample in out:
        assert sample.pred_score.shape == (5, )
        torch.testing.assert_close(sample.pred_score.sum(),
                                   torch.tensor(1.0))
