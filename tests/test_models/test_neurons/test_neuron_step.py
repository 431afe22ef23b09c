# Copyright (c) mmsvf contributors. All rights reserved.
"""Single steps with an explicit membrane are the multistep recurrence."""
import pytest
import torch

from mmsvf.models.neurons import (
    LIF,
    IntegerLIF,
    LIFParameters,
    StreamState,
    integer_lif_multistep,
    integer_lif_multistep_reference,
    integer_lif_step,
    lif_multistep,
    lif_multistep_reference,
    lif_step,
    spike_format,
    streaming,
)

LIF_VARIANTS = [
    LIFParameters(),
    LIFParameters(tau=3.0, v_threshold=0.5),
    LIFParameters(v_reset=None),
    LIFParameters(v_reset=-0.3, decay_input=False),
    LIFParameters(v_reset=None, decay_input=False, detach_reset=False,
                  surrogate='atan'),
]


def current(T=12, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, 3, 17, generator=g, dtype=dtype) * 1.5


@pytest.mark.parametrize('p', LIF_VARIANTS)
def test_lif_steps_equal_the_reference_and_fused_paths(p):
    x = current()
    v, steps = None, []
    for t in range(x.shape[0]):
        s, v = lif_step(x[t], v, p)
        steps.append(s)
    steps = torch.stack(steps)
    assert torch.equal(steps, lif_multistep_reference(x, p))
    assert torch.equal(steps, lif_multistep(x, p))
    assert 0 < steps.mean() < 1


@pytest.mark.parametrize('p', LIF_VARIANTS[:3])
def test_lif_step_gradients_equal_the_reference(p):
    x = current(T=6, seed=1)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    w = torch.linspace(-1, 1, x.numel(), dtype=x.dtype).view_as(x)
    (lif_multistep_reference(xa, p) * w).sum().backward()
    v, out = None, []
    for t in range(x.shape[0]):
        s, v = lif_step(xb[t], v, p)
        out.append(s)
    (torch.stack(out) * w).sum().backward()
    assert torch.equal(xa.grad, xb.grad)


@pytest.mark.parametrize('max_level,leak', [(4, 0.25), (1, 0.5), (8, 0.9)])
def test_integer_lif_steps_equal_the_reference(max_level, leak):
    x = current(seed=2) * 2
    v, out = None, []
    for t in range(x.shape[0]):
        s, v = integer_lif_step(x[t], v, max_level, leak)
        out.append(s)
    out = torch.stack(out)
    assert torch.equal(out, integer_lif_multistep_reference(x, max_level,
                                                            leak))
    assert torch.equal(out, integer_lif_multistep(x, max_level, leak))
    assert out.max() > 1 or max_level == 1
    s, v = integer_lif_step(x[0], None, max_level, leak, stateful=False)
    assert v is None and torch.equal(
        s, integer_lif_multistep_reference(x[:1], max_level, leak,
                                           stateful=False)[0])


def test_step_errors_name_the_problem():
    with pytest.raises(ValueError, match='membrane shape'):
        lif_step(torch.zeros(3, 4), torch.zeros(4, 3))
    with pytest.raises(ValueError, match='membrane shape'):
        integer_lif_step(torch.zeros(3, 4), torch.zeros(2))
    with pytest.raises(TypeError, match='floating-point'):
        lif_step(torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize('neuron', [
    LIF(), LIF(v_reset=None), IntegerLIF(), IntegerLIF(normalize=True),
    IntegerLIF(stateful=False), LIF(reset_each_step=True)
])
def test_neuron_modules_stream_inside_the_context(neuron):
    x = current(T=7, seed=3)
    whole = neuron(x)
    state = StreamState()
    chunks = []
    for t0, t1 in ((0, 1), (1, 4), (4, 5), (5, 7)):  # any chunking
        with streaming(neuron, state):
            chunks.append(neuron(x[t0:t1]))
    assert torch.equal(torch.cat(chunks), whole)
    assert spike_format(chunks[-1]) == neuron.output_format
    # the membrane stays the size of one step; nothing when nothing carries
    carries = not (neuron.reset_each_step
                   or getattr(neuron, 'stateful', True) is False)
    assert state.numel() == (x[0].numel() if carries else 0)
    # outside the context the neuron starts from rest again
    assert torch.equal(neuron(x[5:7]), whole[:2] * 0 + neuron(x[5:7]))
    assert '_stream_slot' not in neuron.__dict__ or \
        neuron._stream_slot is None
