# Copyright (c) mmsvf contributors. All rights reserved.
import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsvf.models import IntegerLIF, SpikeVideoFormer
from mmsvf.registry import MODELS

TINY = dict(embed_dims=[16, 32, 64, 64], num_heads=2)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def clip(B=2, T=3, H=32, W=32, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, C, T, H, W, generator=g) * 2


# --------------------------------------------------------------- counts
@pytest.mark.parametrize('arch,similarity,expected', [
    ('small', 'hamming', 14_755_720),
    ('large', 'hamming', 54_717_952),
    ('small', 'dot', 14_751_208),
    ('large', 'dot', 54_709_248),
])
def test_parameter_counts_match_spec(arch, similarity, expected):
    assert n_params(SpikeVideoFormer(arch=arch,
                                     similarity=similarity)) == expected


@pytest.mark.parametrize('arch,expected', [('small', 15_116_720),
                                           ('large', 55_358_952)])
def test_parameter_counts_with_imagenet_head(arch, expected):
    backbone = SpikeVideoFormer(arch=arch)
    head = nn.Linear(backbone.embed_dims[3], 1000)  # Meta-SpikeFormer head
    assert n_params(backbone) + n_params(head) == expected


def test_space_time_designs_parameter_counts():
    d = 64

    def rep(d):  # RepConv(d, d) + BN
        return 2 * d * d + 13 * d + 2 * d

    joint = SpikeVideoFormer(**TINY).block3[0].attn
    assert n_params(joint) == 4 * rep(d) + 2 * d  # + attn_bn
    hier = SpikeVideoFormer(attn_mode='hierarchical', **TINY).block3[0]
    assert n_params(hier.attn) + n_params(hier.attn_t) == 2 * n_params(joint)
    fact = SpikeVideoFormer(attn_mode='factorized', **TINY).block3[0].attn
    assert n_params(fact) == 7 * rep(d) + 2 * d


# ---------------------------------------------------------------- names
def official_keys(embed_dims, similarity='hamming', depths=(6, 2)):
    """Meta-SpikeFormer / SpikeVideoFormer keys of official checkpoints."""
    bn = ['weight', 'bias', 'running_mean', 'running_var',
          'num_batches_tracked']
    keys = []

    def add_bn(prefix):
        keys.extend(f'{prefix}.{k}' for k in bn)

    def down(name):
        keys.extend([f'{name}.encode_conv.weight', f'{name}.encode_conv.bias'])
        add_bn(f'{name}.encode_bn')

    def conv_block(name):
        keys.append(f'{name}.Conv.pwconv1.weight')
        add_bn(f'{name}.Conv.bn1')
        keys.extend([f'{name}.Conv.dwconv.weight',
                     f'{name}.Conv.pwconv2.weight'])
        add_bn(f'{name}.Conv.bn2')
        keys.append(f'{name}.conv1.weight')
        add_bn(f'{name}.bn1')
        keys.append(f'{name}.conv2.weight')
        add_bn(f'{name}.bn2')

    def block(name):
        for p in ('q_conv', 'k_conv', 'v_conv', 'proj_conv'):
            keys.append(f'{name}.attn.{p}.0.body.0.weight')
            add_bn(f'{name}.attn.{p}.0.body.1.bn')
            keys.extend([f'{name}.attn.{p}.0.body.2.0.weight',
                         f'{name}.attn.{p}.0.body.2.1.weight'])
            add_bn(f'{name}.attn.{p}.0.body.2.2')
            add_bn(f'{name}.attn.{p}.1')
        if similarity == 'hamming':
            add_bn(f'{name}.attn.attn_bn')
        for fc in ('fc1', 'fc2'):
            keys.extend([f'{name}.mlp.{fc}_conv.weight',
                         f'{name}.mlp.{fc}_conv.bias'])
            add_bn(f'{name}.mlp.{fc}_bn')

    down('downsample1_1')
    conv_block('ConvBlock1_1.0')
    down('downsample1_2')
    conv_block('ConvBlock1_2.0')
    down('downsample2')
    conv_block('ConvBlock2_1.0')
    conv_block('ConvBlock2_2.0')
    down('downsample3')
    for j in range(depths[0]):
        block(f'block3.{j}')
    down('downsample4')
    for j in range(depths[1]):
        block(f'block4.{j}')
    return keys


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_state_dict_names_follow_official_layout(similarity):
    model = SpikeVideoFormer(arch='small', similarity=similarity)
    expected = official_keys([64, 128, 256, 360], similarity)
    assert sorted(model.state_dict()) == sorted(expected)
    if similarity == 'hamming':
        # 865 keys with the classification head
        assert len(expected) + 2 == 865


def test_official_layout_state_dict_loads_strictly():
    src = SpikeVideoFormer(**TINY)
    official = {k: torch.randn_like(v.float()).to(v.dtype)
                if v.is_floating_point() else v.clone()
                for k, v in src.state_dict().items()}
    assert set(official) == set(official_keys(TINY['embed_dims']))
    dst = SpikeVideoFormer(**TINY)
    result = dst.load_state_dict(official, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(dst.block3[0].attn.q_conv[0].body[0].weight,
                               official['block3.0.attn.q_conv.0.body.0.weight'])


# --------------------------------------------------------------- shapes
@pytest.mark.parametrize('attn_mode', ['joint', 'spatial', 'hierarchical',
                                       'factorized'])
@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_output_shapes_every_mode(attn_mode, similarity):
    model = SpikeVideoFormer(attn_mode=attn_mode, similarity=similarity,
                             **TINY)
    outs = model(clip(B=2, T=3, H=32, W=48))
    assert [tuple(o.shape) for o in outs] == [
        (2, 8, 3, 16, 24), (2, 16, 3, 8, 12), (2, 32, 3, 4, 6),
        (2, 64, 3, 2, 3)]
    assert model.out_channels == (8, 16, 32, 64)


@pytest.mark.parametrize('arch,channels', [('small', (32, 64, 128, 360)),
                                           ('base', (48, 96, 192, 480)),
                                           ('large', (64, 128, 256, 640))])
def test_output_shapes_every_arch(arch, channels):
    model = SpikeVideoFormer(arch=arch, out_indices=(1, 3)).eval()
    assert model.out_channels == (channels[1], channels[3])
    with torch.no_grad():
        outs = model(clip(B=1, T=2, H=32, W=32))
    assert [tuple(o.shape) for o in outs] == [(1, channels[1], 2, 8, 8),
                                              (1, channels[3], 2, 2, 2)]


def test_builds_from_registry_with_integer_lif():
    model = MODELS.build(dict(type='SpikeVideoFormer',
                              neuron=dict(type='IntegerLIF', max_level=4),
                              **TINY))
    assert isinstance(model.block3[0].attn.q_lif, IntegerLIF)
    spikes = model.block3[0].attn.q_lif(torch.randn(2, 5, 7) * 3)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    outs = model(clip(B=1, T=2))
    assert outs[-1].shape == (1, 64, 2, 2, 2)


def test_legacy_att_mode_aliases():
    m = SpikeVideoFormer(attn_mode='2D', **TINY)
    assert (m.attn_mode, m.similarity) == ('spatial', 'dot')
    m = SpikeVideoFormer(attn_mode='3D_dot', **TINY)
    assert (m.attn_mode, m.similarity) == ('joint', 'dot')


# ---------------------------------------------------------------- state
def test_batch_composition_invariance_eval():
    model = SpikeVideoFormer(**TINY).eval()
    a, b, c = clip(B=1, seed=1), clip(B=1, seed=2), clip(B=1, seed=3)
    with torch.no_grad():
        alone = model(a)
        with_b = model(torch.cat([a, b]))
        with_c = model(torch.cat([c, a]))
    for o1, o2, o3 in zip(alone, with_b, with_c):
        torch.testing.assert_close(o1[0], o2[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(o1[0], o3[1], rtol=1e-5, atol=1e-5)


def test_consecutive_forwards_are_independent():
    model = SpikeVideoFormer(**TINY).eval()
    x, other = clip(seed=4), clip(seed=5)
    with torch.no_grad():
        first = model(x)
        model(other)
        second = model(x)
    for o1, o2 in zip(first, second):
        torch.testing.assert_close(o1, o2, rtol=0, atol=0)


def calibrated(model, T=4, hw=32):
    """Give BN layers data statistics (fresh BNs silence deep layers)."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(2, 3, T, hw, hw, generator=g) * 2)
    return model.eval()


def frame_change_effect(model, T=4, changed=2):
    """``diff[stage][t]``: output change at frame t when one frame changes."""
    x = clip(B=1, T=T, seed=6)
    y = x.clone()
    y[:, :, changed] = torch.randn_like(y[:, :, changed]) * 2
    with torch.no_grad():
        ox, oy = model(x), model(y)
    return [[(a[:, :, t] - b[:, :, t]).abs().max().item() for t in range(T)]
            for a, b in zip(ox, oy)]


def test_spatial_with_per_frame_reset_treats_frames_independently():
    model = calibrated(SpikeVideoFormer(attn_mode='spatial',
                                        reset_each_frame=True, **TINY))
    for diff in frame_change_effect(model):
        assert diff[0] == diff[1] == diff[3] == 0
        assert diff[2] > 0


def test_spatial_without_reset_is_causal_through_neurons():
    model = calibrated(SpikeVideoFormer(attn_mode='spatial', **TINY))
    for diff in frame_change_effect(model):
        assert diff[0] == diff[1] == 0  # earlier frames untouched
        assert diff[3] > 0  # membranes carry frame 2 into frame 3


def test_joint_attention_mixes_all_frames():
    model = calibrated(SpikeVideoFormer(**TINY))
    diffs = frame_change_effect(model)
    for diff in diffs[:3]:  # conv stages: causal
        assert diff[0] == diff[1] == 0 and diff[3] > 0
    assert all(d > 0 for d in diffs[3])  # attention sees every frame


# ------------------------------------------------------------ gradients
@pytest.mark.parametrize('attn_mode', ['joint', 'hierarchical',
                                       'factorized'])
def test_gradients_reach_every_parameter(attn_mode):
    # 64x64 keeps train-mode BN statistics meaningful at stage 3 (4x4 tokens)
    model = SpikeVideoFormer(attn_mode=attn_mode, depths=(2, 1),
                             **TINY).train()
    outs = model(clip(B=2, T=2, H=64, W=64))
    sum(o.square().mean() for o in outs).backward()
    params = dict(model.named_parameters())
    assert not [n for n, p in params.items() if p.grad is None]
    assert not [n for n, p in params.items()
                if not torch.isfinite(p.grad).all()]
    # an attention whose output neuron stays silent at init passes no
    # gradient to its proj_conv weights; everything else must learn
    zero = [n for n, p in params.items() if p.grad.abs().sum() == 0]
    assert all('proj_conv' in n for n in zero), zero
    assert len(zero) <= 0.1 * len(params)


def test_frozen_stages_and_norm_eval():
    model = SpikeVideoFormer(frozen_stages=1, norm_eval=True, **TINY)
    model.train()
    assert not any(p.requires_grad for p in model.downsample1_2.parameters())
    assert all(p.requires_grad for p in model.downsample2.parameters())
    assert not model.block3[0].attn.q_conv[1].training  # norm_eval


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize('shape,match', [
    ((1, 4, 2, 32, 32), r'\(B, 3, T, H, W\).*\(1, 4, 2, 32, 32\)'),
    ((1, 3, 2, 30, 32), r'divisible by 16.*\(1, 3, 2, 30, 32\)'),
    ((1, 3, 32, 32), r'\(B, C, T, H, W\).*\(1, 3, 32, 32\)'),
])
def test_bad_input_raises_clear_error(shape, match):
    model = SpikeVideoFormer(**TINY)
    with pytest.raises(ValueError, match=match):
        model(torch.randn(*shape))


def test_bad_arguments():
    with pytest.raises(ValueError, match='attn_mode'):
        SpikeVideoFormer(attn_mode='global', **TINY)
    with pytest.raises(ValueError, match='arch'):
        SpikeVideoFormer(arch='huge')
    with pytest.raises(ValueError, match='divisible'):
        SpikeVideoFormer(embed_dims=[16, 32, 64, 60], num_heads=8)


SMALL = dict(embed_dims=[16, 32, 64, 64], num_heads=2, depths=(1, 1))


@pytest.mark.parametrize('kwargs,match', [
    # depths: one value per Transformer stage, nothing silently cut
    (dict(depths=(1, 1, 1)), r'depths=\(1, 1, 1\) is invalid; expected 2 '
     r'integers >= 0 \(Transformer blocks of stages 3 and 4\)'),
    (dict(depths=(1, )), r'depths=\(1,\) is invalid; expected 2 integers'),
    (dict(depths=(1, -1)), r'depths=\(1, -1\) is invalid'),
    (dict(depths=(1.5, 1)), r'depths=\(1\.5, 1\) is invalid'),
    (dict(depths=2), r'depths=2 is invalid'),
    (dict(frozen_stages=7), r'frozen_stages=7 is invalid; expected an '
     r'integer in -1\.\.3'),
    (dict(frozen_stages=-2), r'frozen_stages=-2 is invalid'),
    (dict(embed_dims=[16, 32, 64]), r'embed_dims=\[16, 32, 64\] is '
     r'invalid; expected 4 integers >= 1'),
    (dict(embed_dims=[16, 0, 64, 64]), r'embed_dims=\[16, 0, 64, 64\] is '
     'invalid'),
    (dict(embed_dims=[1, 32, 64, 64]), r'embed_dims=\[1, 32, 64, 64\] is '
     r'invalid; expected c0 >= 2 \(the stem has c0 // 2'),
    (dict(num_heads=0), r'num_heads=0 is invalid; expected an integer >= '
     r'1, or one per Transformer stage \(2 integers >= 1\)'),
    (dict(num_heads=(2, 2, 2)), r'num_heads=\(2, 2, 2\) is invalid'),
    (dict(num_heads=(2, 3)), r'num_heads=\(2, 3\) is invalid; expected '
     r'head counts that divide the widths: embed_dims\[3\]=64 is not '
     'divisible by 3'),
    (dict(mlp_ratio=0), r'mlp_ratio=0 is invalid; expected a number > 0'),
    (dict(attn_mode='global'), r"attn_mode='global' is invalid; expected "
     r"one of \('joint', 'spatial', 'hierarchical', 'factorized', "
     "'causal', '3D_ham'"),
    (dict(similarity='cosine'), r"similarity='cosine' is invalid"),
    (dict(neuron=dict(tau=2.0)), r"neuron=\{'tau': 2\.0\} is invalid; "
     "expected a neuron config dict with a 'type'"),
    (dict(in_channels=0), r'in_channels=0 is invalid; expected an integer '
     '>= 1'),
    (dict(out_indices=(3, 1)), r'out_indices=\(3, 1\) is invalid; '
     r'expected increasing stage indices in 0\.\.3'),
    (dict(out_indices=(1, 1)), r'out_indices=\(1, 1\) is invalid'),
    (dict(out_indices=(4, )), r'out_indices=\(4,\) is invalid'),
    (dict(out_indices=()), r'out_indices=\(\) is invalid'),
    (dict(with_cp=(True, False)), r'with_cp=\(True, False\) is invalid; '
     r'expected a bool or 4 bools \(one per stage\)'),
    (dict(compile_blocks='yes'), r"compile_blocks='yes' is invalid; "
     'expected a bool or a dict'),
    (dict(reset_each_frame='no'), r"reset_each_frame='no' is invalid; "
     'expected True or False'),
])
@pytest.mark.parametrize('cls', ['SpikeVideoFormer', 'SpikeVideoFormerImage'])
def test_bad_arguments_name_argument_value_and_expectation(cls, kwargs,
                                                           match):
    cfg = dict(SMALL, **kwargs)
    with pytest.raises(ValueError, match=rf'^{cls}: {match}'):
        MODELS.build(dict(type=cls, **cfg))


def test_edge_arguments_that_are_valid():
    # no Transformer block in stage 3: its heads need not divide its width
    model = SpikeVideoFormer(embed_dims=[16, 32, 60, 64], num_heads=(8, 2),
                             depths=(0, 1))
    assert len(model.block3) == 0 and len(model.block4) == 1
    assert model.depths == (0, 1) and model.num_heads == (8, 2)
    # every stage frozen; lists from a config file are sequences too
    model = SpikeVideoFormer(frozen_stages=3, depths=[1, 1],
                             out_indices=[3], **TINY)
    assert not any(p.requires_grad for p in model.parameters())
    assert model.out_indices == (3, ) and model.out_channels == (64, )
