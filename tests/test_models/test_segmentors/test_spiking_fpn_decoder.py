# Copyright (c) mmsvf contributors. All rights reserved.
"""Spiking FPN neck + head (V2 FPN_SNN / FPNHead_SNN design) on time-first
maps, alone and inside VideoEncoderDecoder."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from mmsvf.models import SpikingFPN, SpikingFPNHead
from mmsvf.models.neurons import IntegerLIF

CH = [4, 8, 8, 16]
STRIDES = [2, 4, 8, 16]


def _decoder(neuron=None, seed=0):
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    neuron = neuron or dict(type='LIF')
    neck = SpikingFPN(CH, 8, 4, neuron=neuron)
    head = SpikingFPNHead(
        STRIDES, neuron=neuron, in_channels=[8] * 4, in_index=[0, 1, 2, 3],
        channels=8, num_classes=3, dropout_ratio=0.1,
        norm_cfg=dict(type='BN'),
        loss_decode=dict(type='CrossEntropyLoss'))
    # large weights and lively BN statistics: every neuron fires at a
    # non-trivial rate
    with torch.no_grad():
        for m in list(neck.modules()) + list(head.modules()):
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(6.0)
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.fill_(0.05)
                m.bias.fill_(0.5)
    return neck.eval(), head.eval()


def _maps(T=3, B=1, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(T, B, c, 32 // s, 32 // s, generator=g) * scale
            for c, s in zip(CH, STRIDES)]


def _run(neck, head, maps, frames=None):
    with torch.no_grad():
        return head(neck(maps), frames)


def test_shapes_and_frame_selection():
    neck, head = _decoder()
    maps = _maps(T=3, B=2)
    outs = neck(maps)
    assert [tuple(o.shape) for o in outs] == [
        (3, 2, 8, 32 // s, 32 // s) for s in STRIDES]
    all_frames = _run(neck, head, maps)  # row b*T + t
    assert all_frames.shape == (6, 3, 16, 16)
    picked = _run(neck, head, maps, [(1, 2), (0, 0)])
    torch.testing.assert_close(picked, all_frames[[5, 0]])
    with pytest.raises(ValueError, match='outside'):
        _run(neck, head, maps, [(2, 0)])


def test_extra_levels_subsample():
    neck = SpikingFPN(CH, 8, 5).eval()
    with torch.no_grad():
        outs = neck(_maps())
    torch.testing.assert_close(outs[4], outs[3][..., ::2, ::2])


@pytest.mark.parametrize('neuron,levels', [
    (dict(type='LIF'), {0.0, 1.0}),
    (dict(type='IntegerLIF', max_level=4), {0.0, 1.0, 2.0, 3.0, 4.0})])
def test_every_conv_reads_spikes(neuron, levels):
    neck, head = _decoder(neuron)
    seen = {}
    hooks = [m.register_forward_pre_hook(
        lambda m, a, n=n: seen.__setitem__(n, a[0].unique()))
        for mod in (neck, head) for n, m in mod.named_modules()
        if isinstance(m, nn.Conv2d)]
    _run(neck, head, _maps())
    for h in hooks:
        h.remove()
    assert len(seen) == 4 + 4 + 7 + 1  # lateral, fpn, towers, conv_seg
    for name, values in seen.items():
        assert set(values.tolist()) <= levels, name
    fired = [n for n, v in seen.items() if v.max() > 0]
    assert len(fired) >= 8, fired  # the check is not vacuous
    if neuron['type'] == 'IntegerLIF':
        assert isinstance(head.decode_lif, IntegerLIF)


def test_no_state_between_clips():
    neck, head = _decoder()
    a, b = _maps(seed=1), _maps(seed=2)
    first = _run(neck, head, a)
    _run(neck, head, b)
    torch.testing.assert_close(_run(neck, head, a), first, rtol=0, atol=0)
    # the neurons do integrate over the frames of one clip: frame 1 of a
    # clip depends on frame 0, frame 0 not on frame 1
    c = [m.clone() for m in a]
    for m in c:
        m[0] = -m[0]
    other = _run(neck, head, c)
    assert not torch.allclose(other[1], first[1])
    d = [m.clone() for m in a]
    for m in d:
        m[2] = -m[2]
    torch.testing.assert_close(_run(neck, head, d)[:2], first[:2])


def test_batch_composition_invariance():
    neck, head = _decoder()
    a, b = _maps(seed=3), _maps(seed=4)
    alone = _run(neck, head, a)
    both = _run(neck, head, [torch.cat([y, x], 1) for x, y in zip(a, b)])
    torch.testing.assert_close(both[3:], alone, rtol=1e-5, atol=1e-5)


def test_rejects_per_frame_maps():
    neck, head = _decoder()
    with pytest.raises(ValueError, match=r'\[T, B, 4, h, w\]'):
        neck([m[0] for m in _maps()])


# --------------------------------------------------------------- segmentor
def _segmentor(head_type='mmsvf.SpikingFPNHead', neck_type='mmsvf.SpikingFPN'):
    init_default_scope('mmseg')
    head = dict(
        type=head_type, in_channels=[16] * 4, in_index=[0, 1, 2, 3],
        feature_strides=[2, 4, 8, 16], channels=16, dropout_ratio=0.1,
        num_classes=3, norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    cfg = dict(
        type='mmsvf.VideoEncoderDecoder',
        data_preprocessor=dict(
            type='mmsvf.VideoSegDataPreprocessor', mean=[100.] * 3,
            std=[50.] * 3, size=(32, 32), test_cfg=dict(size_divisor=16)),
        backbone=dict(type='SpikeVideoFormer', _scope_='mmsvf',
                      embed_dims=[16, 32, 64, 64], depths=(1, 1),
                      num_heads=2),
        neck=dict(type=neck_type, in_channels=[8, 16, 32, 64],
                  out_channels=16, num_outs=4),
        decode_head=head)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _clip_samples(B, T, gt_frames):
    samples = []
    for _ in range(B):
        s = SegDataSample(metainfo=dict(
            ori_shape=(32, 32), img_shape=(32, 32), pad_shape=(32, 32),
            img_path='x.png', gt_frames=gt_frames, key_frame=T - 1))
        s.gt_sem_seg = PixelData(data=torch.randint(
            0, 3, (len(gt_frames), 32, 32)))
        samples.append(s)
    return samples


def test_segmentor_with_spiking_decoder_trains_and_predicts():
    model = _segmentor()
    assert model.time_first_decoder
    x = torch.randn(2, 3, 3, 32, 32)  # B, T, C, H, W
    losses = model.loss(x, _clip_samples(2, 3, [0, 2]))
    losses['decode.loss_ce'].backward()
    grads = [p.grad for p in model.neck.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    model.eval()
    with torch.no_grad():
        preds = model.predict(x, _clip_samples(2, 3, [2]))
        logits = model(x, mode='tensor')
    assert preds[0].seg_logits.data.shape == (3, 32, 32)
    assert logits.shape == (2, 3, 3, 16, 16)
    # the key frame's logits equal the tensor-mode row of that frame
    with torch.no_grad():
        key = model.encode_decode(x[:1], [dict(key_frame=2,
                                               img_shape=(16, 16))])
    torch.testing.assert_close(key[0], logits[0, 2])


def test_segmentor_batch_composition_invariance():
    model = _segmentor().eval()
    a, b = torch.randn(1, 3, 3, 32, 32), torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        alone = model(a, mode='tensor')
        both = model(torch.cat([b, a]), mode='tensor')
    torch.testing.assert_close(both[1:], alone, rtol=1e-5, atol=1e-5)


def test_segmentor_rejects_mixed_decoders():
    with pytest.raises(ValueError, match='time-first'):
        _segmentor(head_type='FPNHead')
