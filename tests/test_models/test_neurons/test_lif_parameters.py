# Copyright (c) mmsvf contributors. All rights reserved.
"""LIFParameters: one immutable, validated object carries the LIF's
parameters through the functional core, the fused scans and the kernels."""
import dataclasses

import numpy as np
import pytest
import torch

from mmsvf.models.neurons import (
    LIF,
    LIFParameters,
    build_neuron,
    lif_multistep,
    lif_multistep_reference,
    numba_kernels,
)
from mmsvf.models.neurons import surrogate as surrogate_module


def test_defaults_are_spikingjelly_multisteplifnode():
    p = LIFParameters()
    assert dataclasses.astuple(p) == (2.0, 1.0, 0.0, True, True, 'sigmoid',
                                      None)
    assert p.surrogate_alpha == 4.0 and p.v_rest == 0.0
    assert not p.soft_reset
    soft = LIFParameters(v_reset=None)
    assert soft.soft_reset and soft.v_rest == 0.0
    assert LIFParameters(v_reset=-0.5).v_rest == -0.5


def test_normalised_frozen_and_hashable():
    p = LIFParameters(tau=3, v_threshold=np.float32(0.5),
                      v_reset=torch.tensor(0), decay_input=0, alpha=2)
    assert (p.tau, p.v_threshold, p.v_reset, p.alpha) == (3.0, 0.5, 0.0, 2.0)
    assert all(type(v) is float for v in (p.tau, p.v_threshold, p.v_reset,
                                          p.alpha))
    assert p.decay_input is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.tau = 4.0
    assert p == LIFParameters(3.0, 0.5, 0.0, False, True, 'sigmoid', 2.0)
    assert len({p, LIFParameters(3.0, 0.5, 0.0, False, True, 'sigmoid',
                                 2.0)}) == 1


def test_replace_revalidates_and_resolves_alpha_again():
    p = LIFParameters()
    atan = p.replace(surrogate='atan')
    # alpha None follows the surrogate: atan's own default, not sigmoid's
    assert atan.surrogate_alpha == 2.0 and p.surrogate_alpha == 4.0
    assert atan.replace(alpha=0.7).surrogate_alpha == 0.7
    with pytest.raises(ValueError, match='tau must be > 1'):
        p.replace(tau=0.5)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(tau=1.0), ValueError, r'tau must be > 1, got 1\.0'),
    (dict(tau=float('nan')), ValueError, 'tau must be finite'),
    (dict(v_threshold=float('inf')), ValueError, 'v_threshold must be '
     'finite'),
    (dict(v_reset='0'), TypeError, "v_reset must be a real number, got '0'"),
    (dict(tau=True), TypeError, 'tau must be a real number'),
    (dict(alpha=0.0), ValueError, r'alpha must be > 0, got 0\.0'),
    (dict(surrogate='relu'), ValueError, "unknown surrogate 'relu'"),
])
def test_bad_parameters_raise_naming_the_field(kwargs, error, match):
    with pytest.raises(error, match=match):
        LIFParameters(**kwargs)
    with pytest.raises(error, match=match):
        LIF(**kwargs)


@pytest.mark.parametrize('backend', ['reference', 'torch', 'numba'])
def test_functions_take_params_or_fields(backend):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 50, generator=gen, dtype=torch.float64) * 3
    p = LIFParameters(tau=3.0, v_reset=None, surrogate='atan', alpha=1.5)
    fields = dataclasses.asdict(p)
    s = lif_multistep(x, p, backend=backend)
    assert torch.equal(s, lif_multistep(x, backend=backend, **fields))
    assert torch.equal(s, lif_multistep_reference(x, p))
    # keywords override the object
    s2 = lif_multistep(x, p, backend=backend, v_threshold=2.0)
    assert torch.equal(s2, lif_multistep_reference(
        x, p.replace(v_threshold=2.0)))
    assert not torch.equal(s, s2)
    with pytest.raises(TypeError, match='LIFParameters'):
        lif_multistep(x, dict(tau=2.0), backend=backend)
    with pytest.raises(TypeError, match='unexpected keyword'):
        lif_multistep(x, backend=backend, max_level=4)


def test_numba_kernels_take_the_parameter_object():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(5, 40, generator=gen, dtype=torch.float64) * 3
    grad = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    p = LIFParameters(tau=4.0, v_threshold=0.8, v_reset=-0.2,
                      decay_input=False, detach_reset=False)
    xr = x.clone().requires_grad_()
    s_ref = lif_multistep_reference(xr, p)
    s_ref.backward(grad)
    assert torch.equal(numba_kernels.lif_forward(x, p), s_ref.detach())
    torch.testing.assert_close(numba_kernels.lif_backward(grad, x, p),
                               xr.grad, atol=1e-12, rtol=1e-10)


def test_numba_backward_refuses_a_surrogate_it_does_not_implement(
        monkeypatch):
    monkeypatch.setitem(surrogate_module.SURROGATES, 'steep',
                        surrogate_module.SigmoidSurrogate)
    p = LIFParameters(surrogate='steep')
    x = torch.rand(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="not 'steep'"):
        numba_kernels.lif_backward(torch.ones_like(x), x, p)


def test_lif_module_holds_one_read_only_parameter_object():
    lif = LIF(tau=3.0, v_reset=None, surrogate='atan', alpha=1.5)
    assert lif.params == LIFParameters(3.0, 1.0, None, True, True, 'atan',
                                       1.5)
    assert (lif.tau, lif.v_reset, lif.surrogate, lif.alpha) == (3.0, None,
                                                                 'atan', 1.5)
    with pytest.raises(AttributeError):
        lif.tau = 4.0
    # every config key users write still builds the same neuron
    cfg = dict(type='LIF', tau=3.0, v_threshold=0.5, v_reset=None,
               decay_input=False, detach_reset=False, surrogate='atan',
               alpha=1.5, backend='torch', reset_each_step=True)
    built = build_neuron(cfg)
    assert built.params == LIFParameters(3.0, 0.5, None, False, False,
                                         'atan', 1.5)
    assert built.backend == 'torch' and built.reset_each_step is True
