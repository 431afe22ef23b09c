# Copyright (c) mmsvf contributors. All rights reserved.
"""neuron_backend / available_backends: which LIF implementation runs."""
import pytest
import torch

from mmsvf.models.neurons import (
    CONCRETE_BACKENDS,
    LIF,
    NEURON_BACKENDS,
    IntegerLIF,
    available_backends,
    backends,
    functional,
    neuron_backend,
    numba_kernels,
)


def test_available_backends(monkeypatch):
    assert set(available_backends()) <= set(CONCRETE_BACKENDS)
    assert {'reference', 'torch', 'inductor'} <= set(available_backends())
    assert ('numba' in available_backends()) == \
        numba_kernels.NUMBA_AVAILABLE
    monkeypatch.setattr(numba_kernels, 'NUMBA_AVAILABLE', False)
    monkeypatch.setattr(backends, 'TRITON_AVAILABLE', False)
    assert available_backends() == ('torch', 'inductor', 'reference')
    assert NEURON_BACKENDS == ('auto', ) + CONCRETE_BACKENDS


@pytest.mark.skipif(not numba_kernels.NUMBA_AVAILABLE, reason='no numba')
def test_auto_picks_numba_for_cpu_float32_float64_only():
    assert neuron_backend() == 'numba'
    assert neuron_backend('auto', 'cpu', torch.float64) == 'numba'
    for dtype in (torch.bfloat16, torch.float16):
        assert neuron_backend('auto', 'cpu', dtype) == 'torch'
    # no CUDA needed to ask about a CUDA tensor: Triton where installed
    assert neuron_backend('auto', torch.device('cuda'), torch.float32) == (
        'triton' if backends.TRITON_AVAILABLE else 'torch')
    assert neuron_backend('auto', torch.device('cuda'),
                          torch.float64) == 'torch'
    for backend in ('torch', 'inductor', 'reference', 'numba'):
        assert neuron_backend(backend) == backend


def test_environment_default(monkeypatch):
    monkeypatch.setenv('MMSVF_NEURON_BACKEND', 'reference')
    assert neuron_backend() == 'reference'
    # an explicit request wins over the environment
    assert neuron_backend('torch') == 'torch'
    monkeypatch.setenv('MMSVF_NEURON_BACKEND', 'bogus')
    with pytest.raises(ValueError, match="MMSVF_NEURON_BACKEND='bogus'"):
        neuron_backend()


def test_errors(monkeypatch):
    with pytest.raises(ValueError, match="neuron backend 'cuda-magic'"):
        neuron_backend('cuda-magic')
    with pytest.raises(ValueError, match="neuron backend 'cuda-magic'"):
        LIF(backend='cuda-magic')  # at construction, not at first forward
    with pytest.raises(ValueError, match="neuron backend 'cuda-magic'"):
        IntegerLIF(backend='cuda-magic')
    if numba_kernels.NUMBA_AVAILABLE:
        with pytest.raises(ValueError,
                           match='CPU float32/float64 tensors only'):
            neuron_backend('numba', 'cpu', torch.bfloat16)
    monkeypatch.setattr(numba_kernels, 'NUMBA_AVAILABLE', False)
    with pytest.raises(RuntimeError, match='needs the numba package'):
        neuron_backend('numba')
    assert neuron_backend() == 'torch'


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
@pytest.mark.parametrize('backend', [None, 'torch', 'reference'])
def test_reported_backend_is_the_one_that_runs(monkeypatch, backend, dtype):
    ran = []
    forward = numba_kernels.lif_forward
    get_scans = functional._get_scans
    monkeypatch.setattr(numba_kernels, 'lif_forward',
                        lambda *a: ran.append('numba') or forward(*a))
    monkeypatch.setattr(functional, '_get_scans',
                        lambda b: ran.append(b) or get_scans(b))
    monkeypatch.setattr(functional, 'lif_multistep_reference',
                        lambda *a, **k: ran.append('reference') or
                        torch.zeros(1))
    LIF(backend=backend)(torch.rand(2, 8, dtype=dtype))
    assert ran == [neuron_backend(backend, 'cpu', dtype)]
