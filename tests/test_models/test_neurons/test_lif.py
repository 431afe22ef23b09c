# Copyright (c) mmsvf contributors. All rights reserved.
"""LIF: hand-computed spike trains, every backend equal to the reference,
statelessness, batch independence and input validation."""
import itertools

import pytest
import torch
from mmengine.registry import DefaultScope

from mmsvf.models.neurons import (
    LIF,
    build_neuron,
    lif_multistep,
    lif_multistep_reference,
    neuron_backend,
    numba_kernels,
)
from mmsvf.registry import MODELS

FAST_BACKENDS = ['reference', 'torch', 'numba', 'auto']
# SpikingJelly option space: reset (hard 0 / soft / hard != 0), decay_input,
# detach_reset, surrogate; tau 2 (1/tau exact) and 3 (true division)
OPTIONS = list(
    itertools.product([0.0, None, -0.3], [True, False], [True, False],
                      ['sigmoid', 'atan'], [2.0, 3.0]))


def _option_id(opt):
    v_reset, decay_input, detach_reset, surrogate, tau = opt
    reset = 'soft' if v_reset is None else f'hard{v_reset:g}'
    return (f'{reset}-{"decay" if decay_input else "nodecay"}-'
            f'{"detach" if detach_reset else "attach"}-{surrogate}-tau{tau:g}')


def _lif(x, backend, **kwargs):
    return lif_multistep(x, backend=backend, **kwargs)


def _run(fn, x, grad, **kwargs):
    """Spikes and input gradient of ``fn`` for upstream gradient ``grad``."""
    x = x.detach().clone().requires_grad_()
    s = fn(x, **kwargs)
    s.backward(grad)
    return s.detach(), x.grad


# --------------------------------------------------------------------------
# hand-computed spike trains
# --------------------------------------------------------------------------
HAND_TRAINS = [
    # constant 1.5, tau 2, hard reset to 0: H = 0.75, 1.125 (fire), 0.75 ...
    (dict(), [1.5] * 5, [0, 1, 0, 1, 0]),
    # soft reset: V = 0.75, 0.125, 0.8125, 0.15625, 0.828125, 0.1640625
    # H = 0.75, 1.125, 0.8125, 1.15625, 0.828125, 1.1640625
    (dict(v_reset=None), [1.5] * 6, [0, 1, 0, 1, 0, 1]),
    # no input decay: H = V/2 + X = 0.6, 0.9, 1.05 (fire), 0.6, 0.9, 1.05
    (dict(decay_input=False), [0.6] * 6, [0, 0, 1, 0, 0, 1]),
    # no input decay, soft: H = 0.75, 1.125, 0.8125, 1.15625, 0.828125
    (dict(decay_input=False, v_reset=None), [0.75] * 5, [0, 1, 0, 1, 0]),
    # v_reset = -0.5 (also the start value): H = 0.5, 1.0 (fires: >=), 0.5 ..
    (dict(v_reset=-0.5), [2.0] * 4, [0, 1, 0, 1]),
    # varying input (exact binary fractions): H = 1.0 (fire), 0, 0.25,
    # 0.25 + (1.75 - 0.25) / 2 = 1.0 (fire), 0.125
    (dict(), [2.0, 0.0, 0.5, 1.75, 0.25], [1, 0, 0, 1, 0]),
    # threshold 0.5, tau 4: H = 0.25, 0.4375, 0.578125 (fire), 0.25
    (dict(tau=4.0, v_threshold=0.5), [1.0] * 4, [0, 0, 1, 0]),
]


@pytest.mark.parametrize('backend', FAST_BACKENDS)
@pytest.mark.parametrize('kwargs,inputs,expected', HAND_TRAINS)
def test_hand_computed_trains(backend, kwargs, inputs, expected):
    x = torch.tensor(inputs).view(-1, 1)
    for dtype in (torch.float32, torch.float64):
        s = _lif(x.to(dtype), backend, **kwargs)
        assert s.dtype == dtype
        assert s.view(-1).tolist() == expected


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_leak_constant_rounds_like_torch(backend):
    """No input decay, tau = 3: ``V * (1 - 1/tau)`` uses the Python double
    ``1 - 1/3`` rounded once to float32 (0.6666667), as torch does with a
    scalar; float32 arithmetic ``1 - 1/3`` (0.6666666) lands 1 ulp short of
    the threshold here: H2 = 0.9375 * 0.6666667 + 0.375 = 1.0 (fires) versus
    0.99999994 (silent). (The first Numba kernel had exactly this bug.)"""
    x = torch.tensor([[0.9375], [0.375]])
    for dtype in (torch.float32, torch.float64):  # float64: 0.625 + 0.375
        s = _lif(x.to(dtype), backend, tau=3.0, decay_input=False)
        assert s.view(-1).tolist() == [0, 1]


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_single_step_gradient_is_surrogate_over_tau(backend):
    """T = 1: dS/dX = sg(X/tau - v_th)/tau in closed form."""
    x = torch.linspace(-1.0, 4.0, 41, dtype=torch.float64).view(1, -1)
    _, g = _run(_lif, x, torch.ones_like(x), backend=backend)
    z = 4.0 * (x / 2.0 - 1.0)
    expected = 4.0 * torch.sigmoid(z) * (1 - torch.sigmoid(z)) / 2.0
    torch.testing.assert_close(g, expected, atol=1e-12, rtol=1e-10)
    _, g = _run(_lif, x, torch.ones_like(x), backend=backend,
                surrogate='atan', decay_input=False)
    expected = 1.0 / (1 + (torch.pi / 2 * 2.0 * (x - 1.0))**2)
    torch.testing.assert_close(g, expected, atol=1e-12, rtol=1e-10)


# --------------------------------------------------------------------------
# every backend equals the reference path
# --------------------------------------------------------------------------


@pytest.fixture(scope='module')
def inputs64():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 2, 45, generator=gen, dtype=torch.float64) * 1.2 + 0.7
    # a few inputs that land exactly on the threshold
    x[:, 0, :3] = 2.0
    grad = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    return x, grad


@pytest.mark.parametrize('backend', ['numba', 'torch'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('opt', OPTIONS, ids=_option_id)
def test_backend_equals_reference(backend, dtype, opt, inputs64):
    v_reset, decay_input, detach_reset, surrogate, tau = opt
    kwargs = dict(tau=tau, v_reset=v_reset, decay_input=decay_input,
                  detach_reset=detach_reset, surrogate=surrogate)
    x, grad = (t.to(dtype) for t in inputs64)
    s_ref, g_ref = _run(lif_multistep_reference, x, grad, **kwargs)
    s, g = _run(_lif, x, grad, backend=backend, **kwargs)
    assert 0 < s_ref.sum() < s_ref.numel()  # both spikes and silence
    assert torch.equal(s, s_ref)  # bit-identical spikes
    torch.testing.assert_close(g, g_ref, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize('alpha', [0.5, 4.0, 25.0])
def test_numba_sigmoid_gradient_matches_torch_exp_float64(alpha):
    """The kernel's polynomial exp agrees with torch's to ~1 ulp over the
    whole range, saturation included (float64)."""
    h = torch.linspace(-80.0, 80.0, 4001, dtype=torch.float64).view(1, -1)
    x = h * 2.0  # T = 1, tau = 2: H = X / 2
    _, g_ref = _run(lif_multistep_reference, x, torch.ones_like(x),
                    alpha=alpha)
    _, g = _run(_lif, x, torch.ones_like(x), backend='numba', alpha=alpha)
    torch.testing.assert_close(g, g_ref, atol=1e-15, rtol=1e-12)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize('chunks_per_thread', [1, 4])
def test_numba_parallel_chunks_equal_reference(monkeypatch,
                                               chunks_per_thread):
    """Thread chunks holding several (ragged) blocks each."""
    monkeypatch.setattr(numba_kernels, 'PARALLEL_MIN_ELEMENTS', 0)
    monkeypatch.setattr(numba_kernels, 'CHUNKS_PER_THREAD', chunks_per_thread)
    monkeypatch.setattr(numba_kernels, 'FORWARD_BLOCK', 100)
    monkeypatch.setattr(numba_kernels, '_SCRATCH_BYTES', 64 * 64 * 4)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        T = 64
        assert numba_kernels.block_size(T, 4) == 256  # the minimum block
        gen = torch.Generator().manual_seed(1)
        # 1 chunk per thread: 384 / 384 / 233 neurons, forward blocks of 100
        # and a remainder, backward blocks of 256 and a remainder; 4 per
        # thread: 7 chunks of 128 and one of 105 taken from a shared queue
        x = torch.randn(T, 1001, generator=gen) + 0.8
        grad = torch.randn(x.shape, generator=gen)
        for v_reset in (0.0, None):
            s_ref, g_ref = _run(lif_multistep_reference, x, grad,
                                v_reset=v_reset)
            s, g = _run(_lif, x, grad, backend='numba', v_reset=v_reset)
            assert torch.equal(s, s_ref)
            torch.testing.assert_close(g, g_ref, atol=1e-6, rtol=1e-5)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def inputs_bf16():
    gen = torch.Generator().manual_seed(2)
    x = (torch.randn(6, 80, generator=gen) + 0.8).bfloat16()
    grad = torch.randn(x.shape, generator=gen).bfloat16()
    return x, grad


def test_bfloat16_resolves_to_torch_path():
    assert neuron_backend('auto', 'cpu', torch.bfloat16) == 'torch'
    assert neuron_backend('auto', 'cpu', torch.float32) == 'numba'
    assert neuron_backend('auto', 'cpu', torch.float64) == 'numba'


@pytest.mark.parametrize('opt', OPTIONS, ids=_option_id)
def test_bfloat16_auto_equals_reference(opt, inputs_bf16):
    v_reset, decay_input, detach_reset, surrogate, tau = opt
    kwargs = dict(tau=tau, v_reset=v_reset, decay_input=decay_input,
                  detach_reset=detach_reset, surrogate=surrogate)
    x, grad = inputs_bf16
    s_ref, g_ref = _run(lif_multistep_reference, x, grad, **kwargs)
    s, g = _run(_lif, x, grad, backend='auto', **kwargs)
    assert s.dtype == g.dtype == torch.bfloat16
    assert torch.equal(s, s_ref)
    # the two bf16 paths round in a different order through the T-step
    # recurrence: they agree to a few bf16 ulps (2^-8) of the gradient's
    # scale (1.3 % of it at most on these inputs, measured)
    scale = g_ref.abs().max().item()
    assert scale > 0.1
    torch.testing.assert_close(g.double(), g_ref.double(),
                               atol=6 * 2**-8 * scale, rtol=0)


@pytest.mark.parametrize('opt', [OPTIONS[0], OPTIONS[9]], ids=_option_id)
def test_inductor_equals_reference(opt, inputs64):
    # torch.compile of the scans, measured on the shared 2-core machine with
    # an empty inductor cache: 25.5 s + 2.1 s for the two option sets
    # (2.9 s + 0.1 s warm), so it runs by default
    v_reset, decay_input, detach_reset, surrogate, tau = opt
    kwargs = dict(tau=tau, v_reset=v_reset, decay_input=decay_input,
                  detach_reset=detach_reset, surrogate=surrogate)
    x, grad = (t.float() for t in inputs64)
    s_ref, g_ref = _run(lif_multistep_reference, x, grad, **kwargs)
    s, g = _run(_lif, x, grad, backend='inductor', **kwargs)
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(g, g_ref, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------
# no state between calls; samples independent of their batch
# --------------------------------------------------------------------------


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_no_state_between_calls(backend):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 3, 20, generator=gen) + 0.8
    other = torch.randn(5, 3, 20, generator=gen) * 3
    neuron = LIF(backend=backend)
    first = neuron(x)
    again = neuron(x)
    neuron(other)
    after_other = neuron(x)
    assert torch.equal(first, again) and torch.equal(first, after_other)
    assert not list(neuron.parameters()) and not list(neuron.buffers())
    assert neuron.state_dict() == {}


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_batch_composition_invariance(backend):
    gen = torch.Generator().manual_seed(4)
    T, B, C = 4, 3, 3000  # 36k elements: the Numba path runs threaded
    x = torch.randn(T, B, C, generator=gen) + 0.8
    grad = torch.randn(x.shape, generator=gen)
    s_all, g_all = _run(_lif, x, grad, backend=backend)
    mixed = torch.randn(T, B, C, generator=gen) * 2
    mixed[:, 1] = x[:, 1]
    s_mix, g_mix = _run(_lif, mixed, grad, backend=backend)
    s_one, g_one = _run(_lif, x[:, 1:2], grad[:, 1:2], backend=backend)
    assert torch.equal(s_all[:, 1:2], s_one)
    assert torch.equal(s_mix[:, 1], s_all[:, 1])
    # the Numba kernels are exact per element wherever a neuron lands in a
    # block or thread chunk; torch's own sigmoid may round a vector tail
    # differently (the reference path too), so those get float tolerance
    tol = dict(atol=0, rtol=0) if backend in ('numba', 'auto') else dict(
        atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(g_all[:, 1:2], g_one, **tol)
    torch.testing.assert_close(g_mix[:, 1], g_all[:, 1], **tol)


# --------------------------------------------------------------------------
# odd layouts and upstream gradients
# --------------------------------------------------------------------------


@pytest.mark.parametrize('backend', ['numba', 'torch'])
def test_non_contiguous_input_and_broadcast_grad(backend):
    gen = torch.Generator().manual_seed(5)
    base = torch.randn(3, 6, 5, generator=gen) + 0.8
    x = base.transpose(0, 1)  # [T=6, 3, 5], not contiguous
    assert not x.is_contiguous()
    xa = x.detach().clone().requires_grad_()
    xb = x.detach().contiguous().requires_grad_()
    sa = _lif(xa, backend)
    sb = lif_multistep_reference(xb)
    assert torch.equal(sa, sb)
    sa.sum().backward()  # upstream gradient is an expanded (stride-0) one
    sb.sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-6, rtol=1e-5)


def test_no_grad_input_and_empty_neurons():
    x = torch.randn(4, 0)
    assert _lif(x, 'numba').shape == (4, 0)
    with torch.no_grad():
        s = _lif(torch.full((3, 2), 1.5), 'numba')
    assert s.tolist() == [[0, 0], [1, 1], [0, 0]]


# --------------------------------------------------------------------------
# input errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize('backend', FAST_BACKENDS)
def test_input_errors(backend):
    with pytest.raises(ValueError, match=r'shape \[T, \.\.\.\].*\(5,\)'):
        _lif(torch.randn(5), backend)
    with pytest.raises(ValueError, match='T = 0'):
        _lif(torch.randn(0, 3), backend)
    with pytest.raises(ValueError, match='torch.int64'):
        _lif(torch.ones(3, 2, dtype=torch.int64), backend)
    with pytest.raises(ValueError, match='dtype torch.bool'):
        LIF(backend=backend)(torch.ones(3, 2, dtype=torch.bool))


def test_option_errors():
    with pytest.raises(ValueError, match='backend'):
        _lif(torch.randn(3, 2), 'cuda-magic')
    with pytest.raises(ValueError, match='surrogate'):
        _lif(torch.randn(3, 2), 'torch', surrogate='relu')
    with pytest.raises(ValueError, match='tau'):
        LIF(tau=1.0)
    with pytest.raises(ValueError, match='surrogate'):
        LIF(surrogate='relu')


def test_backend_from_environment(monkeypatch):
    monkeypatch.setenv('MMSVF_NEURON_BACKEND', 'reference')
    x = torch.randn(3, 4, requires_grad=True)
    s = lif_multistep(x)
    # the reference path records one autograd node per step
    assert type(s.grad_fn).__name__ == 'StackBackward0'
    monkeypatch.setenv('MMSVF_NEURON_BACKEND', 'bogus')
    with pytest.raises(ValueError, match='MMSVF_NEURON_BACKEND'):
        lif_multistep(x)


# --------------------------------------------------------------------------
# module and registry
# --------------------------------------------------------------------------


def test_registered_lif_builds():
    with DefaultScope.overwrite_default_scope('mmsvf'):
        neuron = MODELS.build(dict(type='LIF', v_reset=None))
    assert type(neuron) is LIF and neuron.v_reset is None
    x = torch.tensor([1.5] * 6).view(-1, 1)
    assert neuron(x).view(-1).tolist() == [0, 1, 0, 1, 0, 1]
    assert 'soft' in repr(neuron)


@pytest.mark.parametrize('scope', ['mmsvf', 'mmaction', 'mmengine'])
def test_build_neuron_under_any_default_scope(scope):
    """mmsvf modules built from an upstream-scoped config find neurons."""
    with DefaultScope.overwrite_default_scope(scope):
        # overrides apply (e.g. the attention neuron's threshold)
        half = build_neuron(dict(type='LIF'), v_threshold=0.5)
        assert type(half) is LIF and half.v_threshold == 0.5
        assert type(build_neuron(None)) is LIF
        assert type(build_neuron(dict(type='mmsvf.LIF'))) is LIF


def test_module_surrogate_default_alpha():
    """alpha=None gives each surrogate its own default (sigmoid 4, atan 2)."""
    x = torch.tensor([[0.5, 2.0, 3.0]], dtype=torch.float64)
    for surrogate, alpha in (('sigmoid', 4.0), ('atan', 2.0)):
        neuron = LIF(surrogate=surrogate, backend='torch')
        _, g = _run(neuron, x, torch.ones_like(x))
        _, g_ref = _run(lif_multistep_reference, x, torch.ones_like(x),
                        surrogate=surrogate, alpha=alpha)
        torch.testing.assert_close(g, g_ref, atol=1e-12, rtol=1e-10)
