# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeConv1d / SpikeConv2d keep spike inputs compactly for backward and
equal nn.Conv bitwise; set_compact_spikes switches every layer; CPU
depthwise convs run channels-last with the same output and input
gradient."""
import copy

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from mmsvf.models.backbones import SpikeVideoFormer
from mmsvf.models.layers import (
    DepthwiseConv2d,
    SpikeConv1d,
    SpikeConv2d,
    set_compact_spikes,
    set_fast_depthwise,
)
from mmsvf.models.neurons import LIF, IntegerLIF, spike_format

TINY = dict(embed_dims=[16, 32, 64, 64], num_heads=2, depths=(1, 1))


@pytest.mark.parametrize('conv_cls,shape,kwargs', [
    (SpikeConv2d, (2, 3, 8, 6, 6), dict(kernel_size=3, padding=1)),
    (SpikeConv2d, (2, 3, 8, 6, 6),
     dict(kernel_size=7, padding=3, groups=8, bias=False)),
    (SpikeConv1d, (2, 3, 8, 10), dict(kernel_size=1)),
])
@pytest.mark.parametrize('neuron', [LIF(), IntegerLIF(max_level=4),
                                    IntegerLIF(max_level=3, normalize=True)])
def test_spike_conv_bitwise_equals_nn_conv(conv_cls, shape, kwargs, neuron):
    out_ch = 8 if kwargs.get('groups') else 16
    torch.manual_seed(0)
    conv = conv_cls(8, out_ch, **kwargs)
    ref = (nn.Conv2d if conv_cls is SpikeConv2d else nn.Conv1d)(
        8, out_ch, **kwargs)
    ref.load_state_dict(conv.state_dict())
    assert isinstance(conv, type(ref))
    # the default: nn.Conv2d's own depthwise kernel
    assert getattr(conv, 'fast_depthwise', False) is False
    x = torch.randn(shape) * 2
    results = []
    for m in (conv, ref):
        xi = x.clone().requires_grad_()
        y = m(neuron(xi).flatten(0, 1))
        y.backward(torch.linspace(-1, 1, y.numel()).view_as(y))
        results.append([y.detach(), xi.grad, m.weight.grad] +
                       ([m.bias.grad] if m.bias is not None else []))
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_spike_conv_falls_back_on_real_or_modified_input():
    conv = SpikeConv2d(4, 4, 1)
    s = LIF()(torch.randn(2, 1, 4, 3, 3) * 3)
    assert spike_format(s.flatten(0, 1)) is not None
    assert spike_format(torch.randn(3)) is None
    s.mul_(2)  # no longer the neuron's spikes
    assert spike_format(s) is None
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: kept.append(t.dtype) or t, lambda t: t):
        conv(s.flatten(0, 1))
    assert torch.bool not in kept


def test_set_compact_spikes_switches_every_layer():
    model = SpikeVideoFormer(compact_spikes=False, **TINY)
    convs = [m for m in model.modules() if isinstance(m, SpikeConv2d)]
    assert convs and not any(c.compact_spikes for c in convs)
    assert type(model.downsample1_1.encode_conv) is nn.Conv2d  # the stem
    assert set_compact_spikes(model, True) > len(convs)
    assert all(c.compact_spikes for c in convs)


class _ConvLayouts(TorchDispatchMode):
    """Records whether each aten convolution (forward or backward) saw a
    channels-last input."""

    def __init__(self):
        super().__init__()
        self.layouts = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.__name__.startswith('convolution'):
            x = args[1] if 'backward' in func.__name__ else args[0]
            self.layouts.append(x.is_contiguous(
                memory_format=torch.channels_last) and
                not x.is_contiguous())
        return func(*args, **(kwargs or {}))


def _run(conv, x):
    xi = x.clone().requires_grad_()
    with _ConvLayouts() as mode:
        y = conv(xi)
        y.backward(torch.linspace(-1, 1, y.numel()).view_as(y))
    return mode.layouts, y, xi.grad, conv.weight.grad


@pytest.mark.parametrize('kind', ['spike-compact', 'spike-float', 'real'])
def test_depthwise_runs_channels_last_with_same_output_and_input_grad(kind):
    torch.manual_seed(0)
    cls = DepthwiseConv2d if kind == 'real' else SpikeConv2d
    conv = cls(8, 8, 7, padding=3, groups=8, bias=False)
    conv.compact_spikes = kind == 'spike-compact'
    assert set_fast_depthwise(conv, True) == 1
    ref = nn.Conv2d(8, 8, 7, padding=3, groups=8, bias=False)
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(2, 3, 8, 9, 9) * 2
    x = LIF()(x).flatten(0, 1) if kind != 'real' else x.flatten(0, 1)
    layouts, y, gx, gw = _run(conv, x)
    ref_layouts, y0, gx0, gw0 = _run(ref, x)
    assert layouts == [True, True] and ref_layouts == [False, False]
    assert y.is_contiguous() and gx.is_contiguous() and gw.is_contiguous()
    assert torch.equal(y, y0) and torch.equal(gx, gx0)
    # the weight gradient sums the same products in another order
    torch.testing.assert_close(gw, gw0, rtol=1e-5, atol=1e-5)
    conv.weight.grad = None
    set_fast_depthwise(conv, False)
    layouts, y, gx, gw = _run(conv, x)
    assert layouts == [False, False]
    assert torch.equal(y, y0) and torch.equal(gx, gx0) and torch.equal(gw,
                                                                       gw0)


def test_channels_last_only_where_it_applies():
    """Grouped-but-not-depthwise, non-depthwise and float64 convs keep
    nn.Conv2d's layout."""
    cases = [(DepthwiseConv2d(8, 8, 3, groups=4), torch.float32),
             (DepthwiseConv2d(8, 8, 3), torch.float32),
             (DepthwiseConv2d(8, 8, 3, groups=8).double(), torch.float64)]
    for conv, dtype in cases:
        conv.fast_depthwise = True
        layouts, *_ = _run(conv, torch.randn(2, 8, 6, 6, dtype=dtype))
        assert layouts == [False, False]


def test_backbone_fast_depthwise_same_forward_close_gradients():
    """The whole backbone: features bitwise equal with the channels-last
    depthwise kernel on and off, every parameter gradient to rounding."""
    torch.manual_seed(0)
    model = SpikeVideoFormer(fast_depthwise=True, **TINY).train()
    depthwise = [m for m in model.modules()
                 if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert {type(m) for m in depthwise} == {SpikeConv2d, DepthwiseConv2d}
    assert all(m.fast_depthwise for m in depthwise)
    assert not any(m.fast_depthwise for m in SpikeVideoFormer(
        **TINY).modules() if hasattr(m, 'fast_depthwise'))
    # a training forward moves the BN running statistics, which RepConv's
    # BNAndPad pads with: every run starts from the same state
    state = copy.deepcopy(model.state_dict())
    x = torch.randn(1, 3, 2, 32, 32) * 2
    runs = []
    for fast in (True, False):
        set_fast_depthwise(model, fast)
        model.load_state_dict(state)
        model.zero_grad(set_to_none=True)
        feats = model(x)
        sum(f.float().pow(2).mean() for f in feats).backward()
        runs.append(([f.detach() for f in feats],
                     {n: p.grad for n, p in model.named_parameters()
                      if p.grad is not None}))
    (f1, g1), (f0, g0) = runs
    assert all(torch.equal(a, b) for a, b in zip(f1, f0))
    assert g1.keys() == g0.keys()
    for name in g0:
        torch.testing.assert_close(g1[name], g0[name], rtol=1e-4,
                                   atol=1e-6, msg=name)
