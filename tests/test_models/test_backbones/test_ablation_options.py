# Copyright (c) mmsvf contributors. All rights reserved.
"""The ablation options of docs/ablations.md build and change what they say."""
import importlib.util
import os
import os.path as osp

import pytest
import torch
from mmengine.config import DictAction

from mmsvf.models.attention import SpikeLinearAttention
from mmsvf.models.attention.modules import attn_scale_value, set_attn_scale
from mmsvf.models.backbones import SpikeVideoFormer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
TOY = osp.join(REPO, 'configs/recognition/spikevideoformer/'
               'spikevideoformer-tiny_1xb8-t8_toy-motion.py')
TINY = dict(embed_dims=[8, 16, 32, 32], depths=(1, 1), num_heads=2)


def _scales(model):
    return sorted({m.scale for m in model.modules()
                   if isinstance(m, SpikeLinearAttention)})


def test_default_scale_is_adaptive_for_hamming_and_sdsa_for_dot():
    ham = SpikeVideoFormer(**TINY)
    assert _scales(ham) == [1 / 64]  # 1/(2C), C = 32
    assert ham.attn_scale is None
    assert _scales(SpikeVideoFormer(**TINY, similarity='dot')) == [0.125]
    assert _scales(SpikeVideoFormer(**TINY, similarity='dot',
                                    attn_scale='adaptive')) == [1 / 64]


def _products(model, x):
    """Outputs of every attention product in one forward."""
    outs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o))
             for m in model.modules() if isinstance(m, SpikeLinearAttention)]
    model.train()  # batch statistics: an untrained net is silent in eval
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return outs


@pytest.mark.parametrize('mode', ['joint', 'hierarchical', 'factorized'])
def test_fixed_scale_reaches_every_product_and_changes_the_output(mode):
    torch.manual_seed(1)
    x = torch.rand(1, 3, 2, 32, 32) * 4
    base = SpikeVideoFormer(**TINY, attn_mode=mode)
    fixed = SpikeVideoFormer(**TINY, attn_mode=mode, attn_scale=0.125)
    fixed.load_state_dict(base.state_dict())
    assert _scales(fixed) == [0.125]
    n = sum(isinstance(m, SpikeLinearAttention) for m in fixed.modules())
    assert n == {'joint': 2, 'hierarchical': 4, 'factorized': 4}[mode]
    # the first product sees the same spikes: its output is rescaled by
    # exactly 0.125 / (1/64) = 8
    first_base, first_fixed = _products(base, x)[0], _products(fixed, x)[0]
    assert first_base.abs().sum() > 0
    torch.testing.assert_close(first_fixed, first_base * 8)
    # 'adaptive' spelled out is the default, bit for bit
    adaptive = SpikeVideoFormer(**TINY, attn_mode=mode,
                                attn_scale='adaptive')
    adaptive.load_state_dict(base.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(_products(base, x),
                                                  _products(adaptive, x)))


def _attn_spikes(model, x):
    spikes = []
    hooks = [m.attn_lif.register_forward_hook(
        lambda m, i, o: spikes.append(o.detach()))
        for n, m in model.named_modules() if n.endswith('.attn')]
    model.train()
    with torch.no_grad():
        out = model(x)[-1]
    for h in hooks:
        h.remove()
    return out, spikes


def test_scale_cancels_in_attn_bn_and_matters_without_it():
    torch.manual_seed(2)
    x = torch.rand(2, 3, 4, 32, 32) * 4
    # integer spikes (the toy's neuron): the products' variance is far
    # above BN's eps; with sparse binary spikes it can come near it, and
    # then the scale shifts the output through eps
    ilif = dict(neuron=dict(type='IntegerLIF', max_level=4))
    base = SpikeVideoFormer(**TINY, **ilif)
    nobn = SpikeVideoFormer(**TINY, **ilif, attn_bn=False)
    assert not any('attn_bn' in k for k in nobn.state_dict())
    assert sum('attn_bn' in k for k in base.state_dict()) == 10
    # with the BN (train mode): a constant factor is normalised away
    fixed = SpikeVideoFormer(**TINY, **ilif, attn_scale=0.125)
    fixed.load_state_dict(base.state_dict())
    out_b, sp_b = _attn_spikes(base, x)
    out_f, sp_f = _attn_spikes(fixed, x)
    torch.testing.assert_close(out_f, out_b)
    # without it the scale reaches attn_lif
    state = {k: v for k, v in base.state_dict().items() if 'attn_bn' not in k}
    nobn.load_state_dict(state)
    nobn8 = SpikeVideoFormer(**TINY, **ilif, attn_bn=False,
                             attn_scale=0.125)
    nobn8.load_state_dict(state)
    _, sp_n = _attn_spikes(nobn, x)
    _, sp_n8 = _attn_spikes(nobn8, x)
    assert sp_n8[0].sum() > sp_n[0].sum()  # 8x the charge: more spikes
    with pytest.raises(ValueError, match='attn_bn'):
        SpikeVideoFormer(**TINY, attn_bn='no')


@pytest.mark.parametrize('bad', [0, -0.5, 'fixed', True, [0.1]])
def test_bad_attn_scale_is_refused_by_name(bad):
    with pytest.raises(ValueError, match='attn_scale'):
        SpikeVideoFormer(**TINY, attn_scale=bad)


def test_attn_scale_value_and_setter():
    assert attn_scale_value('adaptive', 360) == 1 / 720
    assert attn_scale_value(1 / 64, 8) == 1 / 64
    model = SpikeVideoFormer(**TINY)
    assert set_attn_scale(model, 0.5) == 2
    assert _scales(model) == [0.5]


def _ablations():
    path = osp.join(REPO, 'tools/analysis/run_ablations.py')
    spec = importlib.util.spec_from_file_location('run_ablations', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _backbone(opts):
    """The toy config's backbone after the driver's ``--cfg-options``,
    merged the way tools/train.py merges them (unknown keys refused)."""
    from mmsvf.utils import load_tool_config
    action = DictAction(option_strings=[], dest='o')
    ns = type('NS', (), {})()
    action(None, ns, opts)
    cfg = load_tool_config(TOY, getattr(ns, 'o', None))
    kwargs = dict(cfg.model.backbone)
    kwargs.pop('type')
    kwargs.pop('_scope_', None)
    return SpikeVideoFormer(**kwargs), cfg


@pytest.mark.parametrize('name', [
    'baseline', 'scale-1/8', 'scale-1/64', 'nobn-adaptive', 'nobn-1/8',
    'nobn-1/64', 'dot', 'width-d16', 'width-d8', 'heads-d8'])
def test_every_ablation_variant_builds_with_what_it_says(name):
    opts, _ = _ablations().VARIANTS[name]
    model, cfg = _backbone(opts)
    heads = model.num_heads[0]
    head_dim = model.embed_dims[2] // heads
    assert cfg.model.cls_head.in_channels == model.embed_dims[3]
    expect = {
        'baseline': (32, 'hamming', [1 / 128]),
        'scale-1/8': (32, 'hamming', [0.125]),
        'scale-1/64': (32, 'hamming', [1 / 64]),
        'nobn-adaptive': (32, 'hamming', [1 / 128]),
        'nobn-1/8': (32, 'hamming', [0.125]),
        'nobn-1/64': (32, 'hamming', [1 / 64]),
        'dot': (32, 'dot', [0.125]),
        'width-d16': (16, 'hamming', [1 / 64]),
        'width-d8': (8, 'hamming', [1 / 32]),
        'heads-d8': (8, 'hamming', [1 / 128]),
    }[name]
    assert (head_dim, model.similarity, _scales(model)) == expect
    has_bn = any('attn_bn' in k for k in model.state_dict())
    assert has_bn == (model.similarity == 'hamming'
                      and not name.startswith('nobn'))
    out = model(torch.rand(1, 3, 2, 32, 32))[-1]
    assert out.shape[1] == model.embed_dims[3]


def test_ablation_table_mean_and_spread():
    mod = _ablations()
    res = {'dot': {'0': {'top-1 %': 50.0}, '2': {'top-1 %': 60.0}}}
    text = mod.table(res, seeds=(0, 1, 2))
    row = [line for line in text.splitlines() if line.startswith('| dot')]
    assert row == ['| dot | dot-product similarity (scale 1/8) | 50.00 | '
                   'not run | 60.00 | 2 | 50.00 | 55.00 | 55.00 | 10.00 | '
                   '7.07 |']
    three = mod.table({'dot': {str(s): {'top-1 %': v} for s, v in
                               enumerate((90.0, 40.0, 100.0))}})
    assert '| 90.00 | 40.00 | 100.00 | 3 | 40.00 | 90.00 | 76.67 | 60.00 |' \
        in three
    assert '| baseline | main job: Hamming, 1/(2C), D 32 | not run' in text
    one = mod.table({'dot': {'1': {'top-1 %': 50.0}}}, seeds=(0, 1, 2))
    assert ('| not run | 50.00 | not run | 1 | 50.00 | 50.00 | 50.00 | – '
            '| – |') in one


def test_ablation_results_from_two_drivers_are_merged(tmp_path):
    """A driver records into the file as it is now, not into what it read
    at its start: another driver's results survive."""
    mod = _ablations()
    path = str(tmp_path / 'docs' / 'ablations.json')
    mod.record(path, 'dot', 0, {'top-1 %': 50.0})
    stale = mod.load(path)  # what driver A read before B's result came
    mod.record(path, 'width-d8', 1, {'top-1 %': 70.0})  # driver B
    merged = mod.record(path, 'dot', 1, {'top-1 %': 60.0})  # driver A
    assert 'width-d8' not in stale
    assert merged == mod.load(path) == {
        'dot': {'0': {'top-1 %': 50.0}, '1': {'top-1 %': 60.0}},
        'width-d8': {'1': {'top-1 %': 70.0}}}
    assert not [p for p in os.listdir(tmp_path / 'docs')
                if p.endswith('.tmp')]
