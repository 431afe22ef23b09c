# Copyright (c) mmsvf contributors. All rights reserved.
"""Official Meta-SpikeFormer / SpikeVideoFormer key mapping (both ways)."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmsvf.models.backbones import SpikeVideoFormer
from mmsvf.models.utils.checkpoint_convert import (
    backbone_target_shapes,
    convert_mmsvf_to_official,
    convert_official_to_mmsvf,
    extract_state_dict,
    fresh_bn_state,
    infer_backbone_config,
)
from mmsvf.models.utils.conversion_report import ConversionReport

TINY = dict(embed_dims=[16, 32, 64, 64], depths=(2, 1), num_heads=2)


def tiny_backbone(seed=0, **kwargs):
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmsvf'):
        model = SpikeVideoFormer(**{**TINY, **kwargs})
    # non-trivial BN statistics, so a mapping mistake changes the output
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return model


def recognizer_state(seed=0, num_classes=8, with_kd=False):
    """An mmsvf recognizer state dict (backbone + cls_head) of random init."""
    state = {f'backbone.{k}': v
             for k, v in tiny_backbone(seed).state_dict().items()}
    g = torch.Generator().manual_seed(seed + 1)
    state['cls_head.head.weight'] = torch.randn(num_classes, 64, generator=g)
    state['cls_head.head.bias'] = torch.randn(num_classes, generator=g)
    if with_kd:
        state['cls_head.head_kd.weight'] = torch.randn(num_classes, 64,
                                                       generator=g)
        state['cls_head.head_kd.bias'] = torch.randn(num_classes, generator=g)
    return state


def test_official_layout_matches_spec_names():
    official = convert_mmsvf_to_official(recognizer_state())
    assert 'downsample1_1.encode_conv.weight' in official
    assert 'ConvBlock1_1.0.Conv.pwconv1.weight' in official
    assert 'block3.0.attn.q_conv.0.body.0.weight' in official
    assert 'block3.1.attn.attn_bn.running_var' in official
    assert 'block4.0.mlp.fc1_conv.weight' in official
    assert 'head.weight' in official and 'head.bias' in official
    assert not any(k.startswith(('backbone.', 'cls_head.')) for k in official)


@pytest.mark.parametrize('with_kd', [False, True])
def test_round_trip_is_identity(with_kd):
    state = recognizer_state(with_kd=with_kd)
    official = convert_mmsvf_to_official(state)
    back, report = convert_official_to_mmsvf(official, 'recognition')
    assert list(back) == list(state)
    assert all(torch.equal(back[k], state[k]) for k in state)
    assert report.clean and not report.attn_bn_initialised
    assert report.head.startswith('mapped')
    assert ('head_kd' in report.head) == with_kd


def test_infer_backbone_config():
    official = convert_mmsvf_to_official(recognizer_state())
    cfg = infer_backbone_config(official)
    assert cfg == dict(embed_dims=[16, 32, 64, 64], depths=(2, 1),
                       in_channels=3, similarity='hamming')
    no_bn = {k: v for k, v in official.items() if '.attn_bn.' not in k}
    assert infer_backbone_config(no_bn)['similarity'] == 'dot'
    with pytest.raises(ValueError, match='downsample1_2.encode_conv.weight'):
        infer_backbone_config({'head.weight': torch.zeros(2, 2)}, 'x.pth')


def test_missing_attn_bn_initialised_fresh_and_reported():
    official = convert_mmsvf_to_official(recognizer_state())
    removed = sorted(k for k in official if '.attn_bn.' in k)
    assert len(removed) == 3 * 5  # 3 transformer blocks x 5 BN entries
    v2 = {k: v for k, v in official.items() if k not in removed}
    out, report = convert_official_to_mmsvf(v2, 'recognition')
    assert sorted(report.attn_bn_initialised) == sorted(
        'backbone.' + k for k in removed)
    assert report.clean and not report.dropped
    fresh = fresh_bn_state(64)
    for key in report.attn_bn_initialised:
        assert torch.equal(out[key], fresh[key.rsplit('.', 1)[1]])
    with DefaultScope.overwrite_default_scope('mmsvf'):
        model = SpikeVideoFormer(**TINY)
    model.load_state_dict(
        {k[len('backbone.'):]: v for k, v in out.items()
         if k.startswith('backbone.')}, strict=True)


def test_dot_similarity_target_reports_attn_bn_as_unexpected():
    official = convert_mmsvf_to_official(recognizer_state())
    target = backbone_target_shapes(dict(TINY, similarity='dot'))
    out, report = convert_official_to_mmsvf(official, 'backbone', target)
    assert sorted(report.unexpected) == sorted(
        'backbone.' + k for k in official if '.attn_bn.' in k)
    assert not any('.attn_bn.' in k for k in out)
    assert not report.clean
    assert set(report.dropped) == {'head.weight', 'head.bias'}


def test_head_with_other_class_count_is_dropped():
    official = convert_mmsvf_to_official(recognizer_state(num_classes=8))
    target = backbone_target_shapes(TINY)
    target['cls_head.head.weight'] = torch.Size((5, 64))
    target['cls_head.head.bias'] = torch.Size((5, ))
    out, report = convert_official_to_mmsvf(official, 'recognition', target)
    assert 'cls_head.head.weight' not in out
    assert 'different number of classes' in report.dropped['head.weight']
    assert sorted(report.task_keys_left) == [
        'cls_head.head.bias', 'cls_head.head.weight']
    assert report.clean  # backbone complete; the head is the task's own


def test_segmentation_prefixed_source_and_shape_mismatch():
    official = convert_mmsvf_to_official(recognizer_state())
    prefixed = {f'backbone.{k}': v for k, v in official.items()
                if not k.startswith('head')}
    prefixed['neck.lateral_convs.0.conv.weight'] = torch.zeros(4, 8, 1, 1)
    key = 'downsample1_1.encode_conv.weight'
    prefixed[f'backbone.{key}'] = torch.zeros(8, 3, 3, 3)  # wrong kernel
    out, report = convert_official_to_mmsvf(prefixed, 'segmentation')
    assert f'backbone.{key}' in report.shape_mismatch
    assert report.missing == [f'backbone.{key}']
    assert report.unexpected == ['neck.lateral_convs.0.conv.weight']
    assert f'backbone.{key}' not in out


def test_extract_state_dict_variants():
    sd = {'a.weight': torch.ones(1)}
    assert extract_state_dict({'state_dict': sd})[1] == 'state_dict'
    assert extract_state_dict({'model': sd, 'epoch': 3})[1] == 'model'
    got, container = extract_state_dict({'module.a.weight': torch.ones(1)})
    assert container == '' and list(got) == ['a.weight']
    with pytest.raises(ValueError, match='no state dict found'):
        extract_state_dict({'epoch': 3}, 'f.pth')
    with pytest.raises(ValueError, match='non-tensor'):
        extract_state_dict({'model': {'a': 1}}, 'f.pth')


def test_rgb_stem_adapted_for_grey_target():
    official = convert_mmsvf_to_official(recognizer_state())
    target = backbone_target_shapes(dict(TINY, in_channels=1))
    out, report = convert_official_to_mmsvf(official, 'pose', target)
    key = 'backbone.downsample1_1.encode_conv.weight'
    assert list(report.adapted) == [key] and report.clean
    rgb = official['downsample1_1.encode_conv.weight']
    torch.testing.assert_close(out[key], rgb.sum(1, keepdim=True))
    # same response: grey frame vs that frame replicated over RGB
    grey = torch.randn(1, 1, 16, 16)
    torch.testing.assert_close(
        torch.nn.functional.conv2d(grey, out[key], padding=3),
        torch.nn.functional.conv2d(grey.expand(1, 3, 16, 16), rgb,
                                   padding=3))


def test_report_format_and_clean():
    report = ConversionReport(
        task='segmentation', container='model', num_source_keys=3,
        num_output_keys=1, target='T', head='dropped (see dropped)',
        dropped={'head.weight': 'classifier'},
        missing=[f'backbone.k{i}' for i in range(3)],
        task_keys_left=['neck.a', 'neck.b', 'decode_head.c'])
    assert not report.clean
    text = report.format(max_items=2)
    assert 'task: segmentation; weights under "model"' in text
    assert 'MISSING backbone keys (left at their random init): 3' in text
    assert '... and 1 more' in text
    assert "left to the model's own init: neck.* (2), decode_head.* (1)" \
        in text
    assert text.endswith('see MISSING / UNEXPECTED above')
    assert report.to_dict()['missing'] == report.missing
    assert ConversionReport(task='backbone').clean


@pytest.mark.parametrize('scope', ['mmaction', 'mmseg', 'mmpose'])
def test_target_shapes_under_an_upstream_scope(scope):
    expected = {f'backbone.{k}': v.shape
                for k, v in tiny_backbone().state_dict().items()}
    with DefaultScope.overwrite_default_scope(scope):
        shapes = backbone_target_shapes(TINY)
    assert dict(shapes) == expected
