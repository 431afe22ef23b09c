# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/model_converters/{spikevideoformer,metaspikeformer}2mmsvf.py (and
the metaspikformer2mmsvf.py alias) end to end."""
import argparse
import hashlib
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint

from mmsvf.models.utils.checkpoint_convert import convert_mmsvf_to_official
from mmsvf.utils import register_all_modules
from mmsvf.utils.checkpoint import UnsafeCheckpointError, load_checkpoint_file
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
TOY_CFG = REPO / ('configs/recognition/spikevideoformer/'
                  'spikevideoformer-tiny_1xb8-t8_toy-motion.py')
TINY_BACKBONE = dict(
    type='mmsvf.SpikeVideoFormer',
    embed_dims=[16, 32, 64, 64],
    depths=(2, 1),
    num_heads=2,
    out_indices=(3, ))


def load_tool(name):
    return load_script(f'tools/model_converters/{name}.py')


@pytest.fixture(scope='module')
def recognition_config(tmp_path_factory):
    """The toy recognition config, or a tiny stand-in when it is absent."""
    if TOY_CFG.is_file():
        return str(TOY_CFG)
    path = tmp_path_factory.mktemp('cfg') / 'tiny_recognizer.py'
    path.write_text(
        "default_scope = 'mmaction'\n"
        "custom_imports = dict(imports=['mmsvf.models'])\n"
        f'model = dict(type=\'Recognizer3D\', backbone={TINY_BACKBONE!r}, '
        "cls_head=dict(type='mmsvf.SpikingClsHead', in_channels=64, "
        "num_classes=8), data_preprocessor=dict(type='ActionDataPreprocessor'"
        ", format_shape='NCTHW'))\n")
    return str(path)


def build(config, seed):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - .5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + .5)
    return model.eval()


def scores(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    # (N, num_clips, C, T, H, W), as ActionDataPreprocessor gives
    clip = torch.randn(2, 1, 3, 2, 32, 32, generator=g) * 2
    with torch.no_grad():
        return model.cls_head(model.extract_feat(clip)[0])


def official_file(model, path, drop_attn_bn=False, container='model'):
    state = convert_mmsvf_to_official(model.state_dict())
    if drop_attn_bn:
        state = {k: v for k, v in state.items() if '.attn_bn.' not in k}
    # what the official training scripts store next to the weights
    torch.save({container: state, 'epoch': 199,
                'args': argparse.Namespace(model='metaspikformer_8_256')},
               path)
    return state


def test_svf_checkpoint_round_trip_bit_identical(tmp_path,
                                                 recognition_config):
    source = build(recognition_config, seed=1)
    src = tmp_path / 'svf_official.pth'
    official_file(source, src, container='state_dict')
    dst = tmp_path / 'mmsvf.pth'
    report = load_tool('spikevideoformer2mmsvf').main([
        str(src), str(dst), '--task', 'recognition', '--config',
        recognition_config
    ])
    assert report.clean and not report.attn_bn_initialised
    assert report.head == 'mapped head → cls_head.*'

    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    meta = ckpt['meta']
    assert meta['task'] == 'recognition'
    assert meta['source_format'] == 'spikevideoformer'
    assert meta['converter'] == \
        'tools/model_converters/spikevideoformer2mmsvf.py'
    assert meta['source_sha256'] == hashlib.sha256(
        src.read_bytes()).hexdigest()
    target = build(recognition_config, seed=2)
    assert not torch.equal(scores(target), scores(source))
    target.load_state_dict(ckpt['state_dict'], strict=True)
    assert torch.equal(scores(target), scores(source))


def test_metaspikformer_without_attn_bn(tmp_path, recognition_config,
                                        capsys):
    source = build(recognition_config, seed=3)
    src = tmp_path / 'v2.pth'
    official = official_file(source, src, drop_attn_bn=True)
    dst = tmp_path / 'v2_mmsvf.pth'
    report = load_tool('metaspikeformer2mmsvf').main([
        str(src), str(dst), '--task', 'recognition', '--config',
        recognition_config
    ])
    expected = sorted(k for k in source.state_dict() if '.attn_bn.' in k)
    assert expected and sorted(report.attn_bn_initialised) == expected
    assert report.clean and not report.dropped
    assert 'NEW attn_bn' in capsys.readouterr().out
    state = torch.load(dst, weights_only=True)['state_dict']
    for key in expected:
        name = key.rsplit('.', 1)[1]
        value = {'weight': 1, 'bias': 0, 'running_mean': 0,
                 'running_var': 1, 'num_batches_tracked': 0}[name]
        assert torch.all(state[key] == value)
    assert len(state) == len(official) + len(expected)


def test_backbone_task_and_init_cfg_loading(tmp_path, recognition_config):
    source = build(recognition_config, seed=4)
    src = tmp_path / 'svf.pth'
    official_file(source, src)
    dst = tmp_path / 'backbone.pth'
    report_json = tmp_path / 'report.json'
    report_json.write_text('previous report')
    report = load_tool('spikevideoformer2mmsvf').main(
        [str(src), str(dst), '--task', 'backbone', '--report-json',
         str(report_json)])
    assert set(report.dropped) == {'head.weight', 'head.bias'}
    # the report replaces the old file whole, written atomically
    assert json.loads(report_json.read_text()) == report.to_dict()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == '.tmp'] == []
    cfg = Config.fromfile(recognition_config)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(dst), prefix='backbone.')
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key


def test_class_count_mismatch_drops_head(tmp_path, recognition_config):
    source = build(recognition_config, seed=5)
    src = tmp_path / 'svf.pth'
    official_file(source, src)
    report = load_tool('spikevideoformer2mmsvf').main([
        str(src), str(tmp_path / 'out.pth'), '--num-classes', '5'
    ])
    assert set(report.dropped) == {'head.weight', 'head.bias'}
    assert 'different number of classes' in report.dropped['head.weight']
    state = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert not any(k.startswith('cls_head.') for k in state)


class _Payload:
    """Unpickling this runs ``open(marker, 'w')``: creates the marker."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_code_executing_pickle_is_refused(tmp_path, recognition_config,
                                          capsys):
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'model': {'w': torch.ones(1)}, 'x': _Payload(str(marker))},
               evil)
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'previous output')

    # the converter refuses it, says why and how, and keeps the old output
    with pytest.raises(SystemExit) as info:
        load_tool('spikevideoformer2mmsvf').main(
            [str(evil), str(dst), '--task', 'backbone'])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert 'Refused to load checkpoint' in err and '--unsafe-load' in err
    assert dst.read_bytes() == b'previous output'
    assert not marker.exists()

    # init_cfg=Pretrained (mmengine's CheckpointLoader) refuses it too
    cfg = Config.fromfile(recognition_config)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(evil), prefix='backbone.')
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    with pytest.raises(UnsafeCheckpointError, match='--unsafe-load'):
        model.init_weights()
    # ... and so does load_from / load_checkpoint
    holder = BaseModule()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(holder, str(evil), map_location='cpu')
    assert not marker.exists()


def test_strict_refuses_incomplete_conversion(tmp_path):
    src = tmp_path / 'partial.pth'
    state = convert_mmsvf_to_official(build_tiny_backbone_state())
    del state['block4.0.mlp.fc2_bn.weight']
    torch.save({'model': state}, src)
    with pytest.raises(SystemExit):
        load_tool('spikevideoformer2mmsvf').main(
            [str(src), str(tmp_path / 'o.pth'), '--task', 'pose',
             '--strict'])
    assert not (tmp_path / 'o.pth').exists()
    report = load_tool('spikevideoformer2mmsvf').main(
        [str(src), str(tmp_path / 'o.pth'), '--task', 'pose'])
    assert report.missing == ['backbone.block4.0.mlp.fc2_bn.weight']


def build_tiny_backbone_state():
    from mmengine.registry import DefaultScope

    from mmsvf.models.backbones import SpikeVideoFormer
    with DefaultScope.overwrite_default_scope('mmsvf'):
        backbone = SpikeVideoFormer(embed_dims=[16, 32, 64, 64],
                                    depths=(2, 1), num_heads=2)
    return {f'backbone.{k}': v for k, v in backbone.state_dict().items()}


TOY_SEG_CFG = REPO / ('configs/segmentation/spikevideoformer/'
                      'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py')
TOY_POSE_CFG = REPO / ('configs/pose/spikevideoformer/'
                       'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py')


def v2_style_file(path, seed, in_channels=3):
    """A Meta-SpikeFormer-style file (no attn_bn, 1000-class head + head_kd)
    for the (1, 1)-deep toy backbones; returns the mmsvf backbone."""
    from mmengine.registry import DefaultScope

    from mmsvf.models.backbones import SpikeVideoFormer
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmsvf'):
        backbone = SpikeVideoFormer(embed_dims=[16, 32, 64, 64],
                                    depths=(1, 1), num_heads=2,
                                    in_channels=in_channels)
    state = {k: v for k, v in backbone.state_dict().items()
             if '.attn_bn.' not in k}
    for name in ('head', 'head_kd'):
        state[f'{name}.weight'] = torch.randn(1000, 64)
        state[f'{name}.bias'] = torch.randn(1000)
    torch.save({'model': state, 'args': argparse.Namespace(epochs=200)},
               path)
    return backbone


@pytest.mark.skipif(not TOY_SEG_CFG.is_file(), reason='no toy seg config')
def test_segmentation_config_target_and_init_cfg(tmp_path):
    source = v2_style_file(tmp_path / 'v2.pth', seed=6)
    dst = tmp_path / 'seg.pth'
    report = load_tool('metaspikeformer2mmsvf').main([
        str(tmp_path / 'v2.pth'), str(dst), '--task', 'segmentation',
        '--config', str(TOY_SEG_CFG)
    ])
    assert report.clean and report.target == f'model of {TOY_SEG_CFG}'
    assert sorted(report.attn_bn_initialised) == sorted(
        f'backbone.{k}' for k in source.state_dict() if '.attn_bn.' in k)
    assert set(report.dropped) == {'head.weight', 'head.bias',
                                   'head_kd.weight', 'head_kd.bias'}
    assert {k.split('.')[0] for k in report.task_keys_left} == {
        'neck', 'decode_head'}

    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(TOY_SEG_CFG))
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(dst), prefix='backbone.')
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(source.state_dict())
    for key, value in source.state_dict().items():
        if '.attn_bn.' not in key:
            assert torch.equal(loaded[key], value), key


@pytest.mark.skipif(not TOY_POSE_CFG.is_file(), reason='no toy pose config')
def test_pose_config_without_smpl_file_compares_the_backbone(tmp_path,
                                                            capsys):
    # the SMPL body file is licence-gated; the converter must not need it
    v2_style_file(tmp_path / 'v2.pth', seed=7)
    dst = tmp_path / 'pose.pth'
    report = load_tool('metaspikeformer2mmsvf').main([
        str(tmp_path / 'v2.pth'), str(dst), '--task', 'pose', '--config',
        str(TOY_POSE_CFG), '--cfg-options',
        f'model.head.smpl_cfg.model_path={tmp_path / "absent_smpl.npz"}'
    ])
    assert report.target.startswith(f'backbone of {TOY_POSE_CFG} only')
    assert 'SMPL model file not found' in report.target
    assert 'full model could not be built' in capsys.readouterr().err
    assert report.clean and len(report.attn_bn_initialised) == 2 * 5
    stem = 'backbone.downsample1_1.encode_conv.weight'
    assert list(report.adapted) == [stem]  # grey-scale target

    from mmengine.registry import DefaultScope

    from mmsvf.models.backbones import SpikeVideoFormer
    with DefaultScope.overwrite_default_scope('mmsvf'):
        grey = SpikeVideoFormer(embed_dims=[16, 32, 64, 64], depths=(1, 1),
                                num_heads=2, in_channels=1)
    state = torch.load(dst, weights_only=True)['state_dict']
    grey.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()},
                         strict=True)
    rgb = load_checkpoint_file(str(tmp_path / 'v2.pth'))['model']
    assert torch.equal(state[stem], rgb['downsample1_1.encode_conv.weight']
                       .sum(dim=1, keepdim=True))


def test_official_file_in_init_cfg_points_to_the_converter(tmp_path):
    # an official file (args: Namespace) given straight to init_cfg: refused
    # with the safe way out, which then works without --unsafe-load
    src = tmp_path / 'official.pth'
    v2_style_file(src, seed=8)
    holder = BaseModule()
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(holder, str(src), map_location='cpu')
    message = str(info.value)
    assert 'argparse.Namespace' in message and str(src) in message
    assert 'no --unsafe-load needed' in message
    report = load_tool('metaspikeformer2mmsvf').main(
        [str(src), str(tmp_path / 'out.pth'), '--task', 'backbone'])
    assert report.clean and len(report.attn_bn_initialised) == 2 * 5


def test_official_spelling_alias(tmp_path):
    """``metaspikformer2mmsvf.py`` (the official code's spelling) runs the
    Meta-SpikeFormer converter: same output, same meta."""
    src = tmp_path / 'v2.pth'
    v2_style_file(src, seed=9)
    outputs = {}
    for name in ('metaspikeformer2mmsvf', 'metaspikformer2mmsvf'):
        dst = tmp_path / f'{name}.pth'
        report = load_tool(name).main([str(src), str(dst), '--task',
                                       'backbone'])
        assert report.clean
        outputs[name] = torch.load(dst, weights_only=True)
    canonical, alias = (outputs[n] for n in ('metaspikeformer2mmsvf',
                                              'metaspikformer2mmsvf'))
    assert list(alias['state_dict']) == list(canonical['state_dict'])
    assert all(torch.equal(alias['state_dict'][k], v)
               for k, v in canonical['state_dict'].items())
    for meta in (canonical['meta'], alias['meta']):
        assert meta['source_format'] == 'metaspikeformer'
        assert meta['converter'] == \
            'tools/model_converters/metaspikeformer2mmsvf.py'


def test_unknown_source_format_is_refused(tmp_path):
    from mmsvf.models.utils.checkpoint_convert import convert_file
    src = tmp_path / 'v2.pth'
    v2_style_file(src, seed=10)
    with pytest.raises(ValueError, match="'spikevideoformer'"):
        convert_file(str(src), str(tmp_path / 'o.pth'),
                     source_format='spikformer')
    assert not (tmp_path / 'o.pth').exists()
