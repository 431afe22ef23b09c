# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeConv1d / SpikeConv2d keep spike inputs compactly for backward and
equal nn.Conv bitwise; set_compact_spikes switches every layer."""
import pytest
import torch
from torch import nn

from mmsvf.models.backbones import SpikeVideoFormer
from mmsvf.models.layers import SpikeConv1d, SpikeConv2d, set_compact_spikes
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
