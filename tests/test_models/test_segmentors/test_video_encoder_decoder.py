# Copyright (c) mmsvf contributors. All rights reserved.
"""VideoEncoderDecoder and VideoSegDataPreprocessor, tiny SpikeVideoFormer."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmsvf.models  # noqa: F401  (registers the mmsvf types)

NUM_CLASSES = 3


def build_model(mode='whole', neuron=None, **test_cfg):
    init_default_scope('mmseg')
    cfg = dict(
        type='mmsvf.VideoEncoderDecoder',
        data_preprocessor=dict(
            type='mmsvf.VideoSegDataPreprocessor',
            mean=[100., 110., 120.],
            std=[50., 60., 70.],
            bgr_to_rgb=True,
            size=(32, 32),
            test_cfg=dict(size_divisor=16)),
        backbone=dict(
            type='SpikeVideoFormer',
            _scope_='mmsvf',
            embed_dims=[16, 32, 64, 64],
            depths=(1, 1),
            num_heads=2,
            neuron=neuron or dict(type='LIF')),
        neck=dict(
            type='FPN', in_channels=[8, 16, 32, 64], out_channels=16,
            num_outs=4),
        decode_head=dict(
            type='FPNHead',
            in_channels=[16] * 4,
            in_index=[0, 1, 2, 3],
            feature_strides=[2, 4, 8, 16],
            channels=16,
            dropout_ratio=0.1,
            num_classes=NUM_CLASSES,
            norm_cfg=dict(type='BN', requires_grad=True),
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        test_cfg=dict(mode=mode, **test_cfg))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _sample(shape, key_frame=None, gt_frames=None, gt=None):
    meta = dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                img_path='clip.png')
    if key_frame is not None:
        meta['key_frame'] = key_frame
    if gt_frames is not None:
        meta['gt_frames'] = gt_frames
    sample = SegDataSample(metainfo=meta)
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=gt)
    return sample


def _eval(model):
    model.eval()
    # non-trivial running statistics, so eval-mode BN is not an identity
    with torch.no_grad():
        model.train()
        model._forward(torch.randn(2, 2, 3, 32, 32) * 2 + 0.5)
        model.eval()
    return model


def test_preprocessor_normalises_each_frame_and_pads():
    model = build_model()
    clip = torch.randint(0, 256, (2, 3, 24, 30), dtype=torch.uint8)
    gt = torch.randint(0, NUM_CLASSES, (1, 24, 30))
    data = model.data_preprocessor(
        dict(inputs=[clip], data_samples=[_sample((24, 30), gt=gt)]),
        training=True)
    inputs = data['inputs']
    assert inputs.shape == (1, 2, 3, 32, 32)
    mean = torch.tensor([100., 110., 120.]).view(3, 1, 1)
    std = torch.tensor([50., 60., 70.]).view(3, 1, 1)
    for t in range(2):
        expected = (clip[t, [2, 1, 0]].float() - mean) / std
        torch.testing.assert_close(inputs[0, t, :, :24, :30], expected)
    assert (inputs[0, :, :, 24:] == 0).all()  # bottom-right padding
    sample = data['data_samples'][0]
    assert sample.gt_sem_seg.data.shape == (1, 32, 32)
    assert (sample.gt_sem_seg.data[:, 24:] == 255).all()
    assert sample.padding_size == (0, 2, 0, 8)

    # test time: padded to a multiple of 16, padding removed from the output
    data = model.data_preprocessor(
        dict(inputs=[clip], data_samples=[_sample((24, 30), gt=gt)]))
    assert data['inputs'].shape == (1, 2, 3, 32, 32)
    assert data['data_samples'][0].img_padding_size == (0, 2, 0, 8)
    model.eval()
    with torch.no_grad():
        out = model.predict(**data)[0]
    assert out.pred_sem_seg.shape == (24, 30)

    with pytest.raises(ValueError, match=r'\(T, C, H, W\).*sample 0'):
        model.data_preprocessor(dict(inputs=[clip[0]], data_samples=None))
    with pytest.raises(ValueError, match='same number of frames'):
        model.data_preprocessor(
            dict(inputs=[clip, clip[:1]], data_samples=None))


def test_loss_on_annotated_frames():
    model = build_model()
    inputs = torch.randn(2, 3, 3, 32, 32)
    gt_two = torch.randint(0, NUM_CLASSES, (2, 32, 32))
    samples = [
        _sample((32, 32), key_frame=2, gt_frames=[0, 2], gt=gt_two),
        _sample((32, 32), gt=gt_two[:1]),  # default: last frame annotated
    ]
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['decode.loss_ce'])
    losses['decode.loss_ce'].backward()
    assert model.backbone.downsample1_1.encode_conv.weight.grad is not None

    bad = [_sample((32, 32), gt_frames=[0, 1, 2], gt=gt_two)]
    with pytest.raises(ValueError, match='2 ground-truth maps'):
        model.loss(inputs[:1], bad)
    bad = [_sample((32, 32), key_frame=5, gt=gt_two[:1])]
    with pytest.raises(ValueError,
                       match='frame 5 is outside the clip of 3 frames'):
        model.loss(inputs[:1], bad)


def test_predict_key_frame_outputs():
    model = _eval(build_model())
    inputs = torch.randn(1, 3, 3, 32, 32)
    gt = torch.randint(0, NUM_CLASSES, (3, 64, 48))
    sample = _sample((64, 48), key_frame=1, gt_frames=[0, 1, 2], gt=gt)
    with torch.no_grad():
        out = model.predict(inputs, [sample])[0]
        logits = model._forward(inputs)
    assert logits.shape == (1, 3, NUM_CLASSES, 16, 16)  # all frames
    assert out.pred_sem_seg.shape == (64, 48)  # resized to ori_shape
    assert out.seg_logits.data.shape == (NUM_CLASSES, 64, 48)
    # only the key frame's GT is kept, as IoUMetric expects
    torch.testing.assert_close(out.gt_sem_seg.data, gt[1:2])
    assert out.img_path == 'clip.png'
    # the key frame's logits are the tensor-mode logits of frame 1
    expected = F.interpolate(logits[:, 1], size=(32, 32), mode='bilinear',
                             align_corners=False)
    with torch.no_grad():
        key_logits = model.encode_decode(
            inputs, [dict(key_frame=1, img_shape=torch.Size((32, 32)))])
    torch.testing.assert_close(key_logits, expected)
    with torch.no_grad():
        no_meta = model.predict(inputs)  # defaults to the last frame
    assert no_meta[0].pred_sem_seg.shape == (32, 32)
    with pytest.raises(ValueError, match=r'\(B, T, C, H, W\)'):
        model.predict(torch.randn(3, 32, 32))


@pytest.mark.parametrize(
    'neuron', [None, dict(type='IntegerLIF', max_level=4)])
def test_no_state_leaks_between_calls_or_clips(neuron):
    model = _eval(build_model(neuron=neuron))
    clips = torch.randn(2, 3, 3, 32, 32)
    metas = [dict(img_shape=torch.Size((32, 32)))] * 2
    with torch.no_grad():
        first = model.encode_decode(clips, copy.deepcopy(metas))
        second = model.encode_decode(clips, copy.deepcopy(metas))
        alone = model.encode_decode(clips[1:], copy.deepcopy(metas[1:]))
        other = model.encode_decode(
            torch.stack([torch.randn(3, 3, 32, 32), clips[1]]),
            copy.deepcopy(metas))
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first[1:], alone, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(first[1], other[1], rtol=1e-5, atol=1e-5)


def test_slide_equals_whole_on_one_crop():
    whole = _eval(build_model('whole'))
    slide = build_model('slide', crop_size=(32, 32), stride=(16, 16))
    slide.load_state_dict(whole.state_dict())
    slide.eval()
    inputs = torch.randn(1, 2, 3, 32, 32)
    sample = _sample((32, 32))
    with torch.no_grad():
        a = whole.predict(inputs, [copy.deepcopy(sample)])[0]
        b = slide.predict(inputs, [copy.deepcopy(sample)])[0]
    torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)


def test_slide_crops_are_independent():
    model = _eval(build_model('slide', crop_size=(32, 32), stride=(32, 32)))
    left = torch.randn(1, 2, 3, 32, 32)
    right_a = torch.randn(1, 2, 3, 32, 32)
    right_b = torch.randn(1, 2, 3, 32, 32) * 3
    metas = [dict(img_shape=(32, 64), ori_shape=(32, 64))]
    with torch.no_grad():
        a = model.slide_inference(torch.cat([left, right_a], -1),
                                  copy.deepcopy(metas))
        b = model.slide_inference(torch.cat([left, right_b], -1),
                                  copy.deepcopy(metas))
        crop = model.encode_decode(
            left, [dict(img_shape=torch.Size((32, 32)))])
    assert a.shape == (1, NUM_CLASSES, 32, 64)
    # the left crop ignores the other crop and equals a run on it alone
    torch.testing.assert_close(a[..., :32], b[..., :32], rtol=0, atol=0)
    torch.testing.assert_close(a[..., :32], crop, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a[..., 32:], b[..., 32:])


def test_short_training_lowers_loss():
    model = build_model()
    torch.manual_seed(1)
    # class = which colour channel is bright, per pixel; a moving square
    gt = torch.zeros(2, 32, 32, dtype=torch.long)
    gt[0, 8:20, 4:16] = 1
    gt[1, 10:22, 8:20] = 2
    clip = torch.zeros(2, 3, 32, 32)
    for t in range(2):
        for c in range(NUM_CLASSES):
            clip[t, c][gt[t] == c] = 1.5
    inputs = (clip + 0.1 * torch.randn(2, 2, 3, 32, 32))
    samples = [_sample((32, 32), gt=gt[1:2]), _sample((32, 32), gt=gt[1:2])]
    optim = torch.optim.AdamW(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(8):
        loss = model.loss(inputs, samples)['decode.loss_ce']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses
