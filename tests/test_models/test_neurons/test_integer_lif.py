# Copyright (c) mmsvf contributors. All rights reserved.
"""Integer LIF: quantiser levels, STE gradient, temporal and stateless
flavours, and integer == binary-sub-step execution."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn

from mmsvf.models.neurons import (
    IntegerLIF,
    expand_integer_spikes,
    integer_lif_multistep,
    integer_lif_multistep_reference,
    quantize_spikes,
)
from mmsvf.registry import MODELS


def test_quantizer_levels():
    u = torch.tensor([-1.0, 0.0, 0.4, 0.5, 0.6, 1.5, 2.5, 3.7, 4.0, 9.0])
    # round(clamp(u, 0, 4)), torch.round is round-half-to-even
    expected = [0, 0, 0, 0, 1, 2, 2, 4, 4, 4]
    assert quantize_spikes(u, 4).tolist() == expected
    assert quantize_spikes(u, 1).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]


def test_quantizer_straight_through_gradient():
    u = torch.tensor([-1.0, -0.01, 0.0, 2.3, 4.0, 4.01, 7.0],
                     requires_grad=True)
    quantize_spikes(u, 4).backward(torch.full_like(u, 3.0))
    # gradient passes unchanged on [0, D] (both ends included), 0 outside
    assert u.grad.tolist() == [0, 0, 3, 3, 3, 0, 0]


# x, spikes and dL/dx for w = 1 written out by hand (D = 4, leak = 0.25):
#   u0 = 1.6                          -> s0 = 2, inside
#   u1 = (1.6 - 2) * 0.25 + 2.0 = 1.9 -> s1 = 2, inside
#   u2 = (1.9 - 2) * 0.25 + 0.3 = 0.275       -> s2 = 0, inside
#   u3 = 0.275 * 0.25 + 5.0 = 5.06875         -> s3 = 4, outside (> D)
#   u4 = (5.06875 - 4) * 0.25 - 1 = -0.7328125 -> s4 = 0, outside (< 0)
# dL/du[t] = inside[t] + leak * dL/du[t+1] (the spike in the reset is
# detached): 0, 0, 1, 1 + 0.25 = 1.25, 1 + 0.3125 = 1.3125
HAND_X = [1.6, 2.0, 0.3, 5.0, -1.0]
HAND_S = [2, 2, 0, 4, 0]
HAND_GRAD = [1.3125, 1.25, 1.0, 0.0, 0.0]


@pytest.mark.parametrize('backend', ['reference', 'auto', 'torch'])
def test_temporal_flavour_hand_computed(backend):
    x = torch.tensor(HAND_X, dtype=torch.float64).view(-1, 1)
    x.requires_grad_()
    s = integer_lif_multistep(x, max_level=4, leak=0.25, backend=backend)
    assert s.view(-1).tolist() == HAND_S
    s.sum().backward()
    torch.testing.assert_close(x.grad.view(-1),
                               torch.tensor(HAND_GRAD, dtype=torch.float64))


def test_stateless_flavour_quantises_each_step():
    x = torch.tensor(HAND_X).view(-1, 1)
    neuron = IntegerLIF(stateful=False)
    # no carry-over: step 1 sees 2.0 alone (-> 2), step 3 sees 5.0 (-> 4)
    assert neuron(x).view(-1).tolist() == [2, 2, 0, 4, 0]
    x2 = torch.tensor([0.5625, 0.5625, 0.5625]).view(-1, 1)
    assert neuron(x2).view(-1).tolist() == [1, 1, 1]
    # the temporal flavour carries the residual: 0.5625 -> 1, then
    # (0.5625 - 1) * 0.25 + 0.5625 = 0.453125 -> 0, then
    # 0.453125 * 0.25 + 0.5625 = 0.67578125 -> 1
    assert IntegerLIF()(x2).view(-1).tolist() == [1, 0, 1]


def test_normalize_divides_by_max_level():
    x = torch.tensor(HAND_X).view(-1, 1)
    out = IntegerLIF(max_level=4, normalize=True)(x)
    assert out.view(-1).tolist() == [0.5, 0.5, 0.0, 1.0, 0.0]
    out = IntegerLIF(max_level=2, normalize=True, stateful=False)(x)
    assert out.view(-1).tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize('max_level,leak', [(4, 0.25), (1, 0.5), (3, 0.0)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_fused_equals_reference(max_level, leak, dtype):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 3, 40, generator=gen) * 2 + 1).to(dtype)
    grad = torch.randn(x.shape, generator=gen).to(dtype)
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    sa = integer_lif_multistep(xa, max_level, leak, backend='auto')
    sb = integer_lif_multistep_reference(xb, max_level, leak)
    assert type(sa.grad_fn).__name__ != type(sb.grad_fn).__name__
    assert torch.equal(sa, sb)
    assert set(sa.unique().tolist()) <= set(range(max_level + 1))
    sa.backward(grad)
    sb.backward(grad)
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-6, rtol=1e-5)


def test_no_state_between_calls():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 2, 10, generator=gen) * 2
    neuron = IntegerLIF()
    first = neuron(x)
    neuron(torch.randn(4, 2, 10, generator=gen) * 5)
    assert torch.equal(neuron(x), first)
    assert neuron.state_dict() == {}


def test_expand_integer_spikes_hand_example():
    s = torch.tensor([[0., 2., 4.], [1., 3., 0.]])  # T = 2, 3 neurons
    b = expand_integer_spikes(s, 4)
    assert b.shape == (8, 3)
    # sub-step k of step t fires iff k < s[t]
    assert b.tolist() == [[0, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1],
                          [1, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]]
    torch.testing.assert_close(b.view(2, 4, 3).sum(1), s)


def test_expand_integer_spikes_is_binary_and_sums_back():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 2, 5, 6, generator=gen) * 3 + 1
    s = integer_lif_multistep(x, max_level=4)
    b = expand_integer_spikes(s, 4)
    assert b.shape == (12, 2, 5, 6)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(b.view(3, 4, 2, 5, 6).sum(1), s)


def _bias_free(layer):
    """The same layer without its bias (bias is added once per real step)."""
    clone = copy.deepcopy(layer)
    clone.bias = None
    return clone


@pytest.mark.parametrize('layer', [
    nn.Conv2d(3, 5, 3, padding=1), nn.Conv2d(3, 4, 1, bias=False),
    nn.Linear(7, 4)
])
def test_integer_and_binary_execution_agree(layer):
    """A linear layer on integer spikes equals the sum over the D binary
    sub-steps of the same layer (its bias counted once per real step)."""
    torch.manual_seed(3)
    D, T, B = 4, 3, 2
    shape = (T, B, 3, 6, 6) if isinstance(layer, nn.Conv2d) else (T, B, 7)
    s = integer_lif_multistep(torch.randn(shape) * 3 + 1, max_level=D)
    assert s.max() > 1  # real integer spikes, not only 0/1
    binary = expand_integer_spikes(s, D)
    with torch.no_grad():
        y_int = layer(s.flatten(0, 1)).view(T, B, *layer(
            s[0]).shape[1:])
        y_sub = _bias_free(layer)(binary.flatten(0, 1))
        y_bin = y_sub.view(T, D, *y_int.shape[1:]).sum(1)
        if layer.bias is not None:
            bias_shape = (-1, 1, 1) if isinstance(layer, nn.Conv2d) else (-1,)
            y_bin = y_bin + layer.bias.view(bias_shape)
    torch.testing.assert_close(y_bin, y_int, atol=1e-5, rtol=1e-5)


def test_module_validation_and_registry():
    with pytest.raises(ValueError, match='max_level'):
        IntegerLIF(max_level=0)
    with pytest.raises(ValueError, match='max_level'):
        IntegerLIF(max_level=2.5)
    with pytest.raises(ValueError, match='dtype'):
        IntegerLIF()(torch.ones(3, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match=r'\(4,\)'):
        IntegerLIF()(torch.ones(4))
    with DefaultScope.overwrite_default_scope('mmsvf'):
        neuron = MODELS.build(dict(type='IntegerLIF', max_level=2,
                                   v_threshold=0.5))
    assert type(neuron) is IntegerLIF and neuron.max_level == 2
    assert 'max_level=2' in repr(neuron)
