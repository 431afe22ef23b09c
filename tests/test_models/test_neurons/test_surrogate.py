# Copyright (c) mmsvf contributors. All rights reserved.
"""Surrogate spike functions against their closed-form derivatives."""
import math

import pytest
import torch

from mmsvf.models.neurons import (
    ATanSurrogate,
    SigmoidSurrogate,
    SurrogateSpike,
    get_surrogate,
)
from mmsvf.models.neurons.surrogate import heaviside

X = [-3.0, -0.7, -0.1, 0.0, 1e-7, 0.25, 0.9, 2.5]


def _sigmoid_derivative(x, alpha):
    sig = 1.0 / (1.0 + math.exp(-alpha * x))
    return alpha * sig * (1.0 - sig)


def _atan_derivative(x, alpha):
    return alpha / 2.0 / (1.0 + (math.pi / 2.0 * alpha * x)**2)


CASES = [(SigmoidSurrogate, _sigmoid_derivative, a) for a in (4.0, 1.0, 10.0)
         ] + [(ATanSurrogate, _atan_derivative, a) for a in (2.0, 0.5, 6.0)]


@pytest.mark.parametrize('fn,closed_form,alpha', CASES)
def test_forward_is_heaviside(fn, closed_form, alpha):
    x = torch.tensor(X, dtype=torch.float64)
    s = fn.apply(x, alpha)
    assert s.dtype == x.dtype
    # Θ(0) = 1: a membrane exactly at threshold fires
    assert s.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize('fn,closed_form,alpha', CASES)
def test_backward_is_closed_form(fn, closed_form, alpha):
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    grad_out = torch.linspace(0.5, 2.0, len(X), dtype=torch.float64)
    fn.apply(x, alpha).backward(grad_out)
    expected = torch.tensor(
        [closed_form(v, alpha) * g for v, g in zip(X, grad_out.tolist())],
        dtype=torch.float64)
    torch.testing.assert_close(x.grad, expected, atol=1e-14, rtol=1e-12)
    # ``derivative`` (used by the fused kernels) is the same function
    torch.testing.assert_close(
        fn.derivative(x.detach(), alpha) * grad_out, expected, atol=1e-14,
        rtol=1e-12)


def test_closed_form_shapes():
    # peak at 0: sigmoid alpha/4, atan alpha/2; symmetric; decaying
    x = torch.tensor([0.0, 0.3, -0.3, 3.0], dtype=torch.float64)
    sg = SigmoidSurrogate.derivative(x, 4.0)
    assert sg[0].item() == pytest.approx(1.0)
    assert sg[1].item() == pytest.approx(sg[2].item())
    assert sg[3] < sg[1] < sg[0]
    at = ATanSurrogate.derivative(x, 2.0)
    assert at[0].item() == pytest.approx(1.0)
    assert at[1].item() == pytest.approx(at[2].item())


def test_float32_gradient_matches_float64_closed_form():
    x = torch.linspace(-2, 2, 101, requires_grad=True)
    SigmoidSurrogate.apply(x, 4.0).sum().backward()
    expected = torch.tensor([_sigmoid_derivative(v, 4.0) for v in
                             x.detach().double().tolist()],
                            dtype=torch.float64)
    torch.testing.assert_close(x.grad.double(), expected, atol=1e-6,
                               rtol=1e-5)


def test_defaults_registry_and_heaviside():
    assert SigmoidSurrogate.default_alpha == 4.0
    assert ATanSurrogate.default_alpha == 2.0
    assert get_surrogate('sigmoid') is SigmoidSurrogate
    assert get_surrogate('atan') is ATanSurrogate
    with pytest.raises(ValueError, match="'atan', 'sigmoid'"):
        get_surrogate('tanh')
    h = heaviside(torch.tensor([-1e-30, 0.0, -0.0, 5.0]).bfloat16())
    assert h.dtype == torch.bfloat16 and h.tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_one_definition_in_spikingjelly_order_bitwise(dtype):
    """Backward is ``derivative(x, alpha, grad_output)``, which rounds as
    SpikingJelly 0.0.0.0.12 does (``g * (1 - s) * s * alpha``; atan: the
    derivative times ``g`` last); the bare derivative (fused scans) as
    ``(1 - s) * s * alpha``."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(4096, generator=gen) * 3).to(dtype)
    g = torch.randn(4096, generator=gen).to(dtype)
    sig = (x * 1.7).sigmoid()
    atan = 1.7 / 2 / (1 + (math.pi / 2 * 1.7 * x).pow(2))
    for fn, bare, with_grad in (
            (SigmoidSurrogate, (1. - sig) * sig * 1.7,
             g * (1. - sig) * sig * 1.7),
            (ATanSurrogate, atan, atan * g)):
        xr = x.clone().requires_grad_()
        fn.apply(xr, 1.7).backward(g)
        assert torch.equal(xr.grad, with_grad), fn.__name__
        assert torch.equal(fn.derivative(x, 1.7, g), with_grad)
        assert torch.equal(fn.derivative(x, 1.7), bare)
        assert issubclass(fn, SurrogateSpike)
