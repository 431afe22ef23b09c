# Copyright (c) mmsvf contributors. All rights reserved.
"""Which implementation runs a neuron: the backend choice in one place.

A requested backend is one of :data:`NEURON_BACKENDS`; ``None`` means
``$MMSVF_NEURON_BACKEND`` or ``'auto'``. The backend that actually runs is
one of :data:`CONCRETE_BACKENDS`:

* ``'numba'``: fused CPU kernels (:mod:`.numba_kernels`), float32/64 only;
* ``'torch'``: fused eager scans, any device and floating dtype;
* ``'inductor'``: the same scans compiled by ``torch.compile`` (C++ on CPU,
  Triton on GPU; the first call compiles);
* ``'reference'``: the per-step autograd loop (SpikingJelly's order of
  operations), the ground truth of the tests;
* ``'triton'``: fused Triton kernels (:mod:`.triton_kernels`) registered as
  torch custom ops, CUDA float32/bfloat16/float16 tensors (CPU tensors too
  under ``TRITON_INTERPRET=1``, the Triton interpreter the tests use).

``'auto'`` picks ``'numba'`` for CPU float32/64 tensors when Numba is
installed, ``'triton'`` for CUDA float32/bfloat16/float16 tensors when
Triton is installed, else ``'torch'``. Inside code that ``torch.compile``
traces, the default, ``'auto'`` and ``'numba'`` run ``'torch'`` (Numba
kernels are opaque to the tracer), or ``'triton'`` where ``'auto'`` would
pick it (a custom op, which the compiler keeps in its graph as one node).

:func:`neuron_backend` answers which backend runs for a device and dtype;
:func:`available_backends` lists those this installation can run.
"""
import importlib.util
import os

import torch

from . import numba_kernels

__all__ = ['NEURON_BACKENDS', 'CONCRETE_BACKENDS', 'BACKEND_ENV',
           'available_backends', 'neuron_backend', 'requested_backend',
           'resolve_backend']

#: environment variable holding the process-wide default backend
BACKEND_ENV = 'MMSVF_NEURON_BACKEND'
#: the implementations that can run
CONCRETE_BACKENDS = ('numba', 'torch', 'inductor', 'reference', 'triton')
#: what a neuron may ask for: a concrete backend or ``'auto'``
NEURON_BACKENDS = ('auto', ) + CONCRETE_BACKENDS
_NUMBA_DTYPES = (torch.float32, torch.float64)
_TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
#: whether the ``triton`` package is installed (the kernels module itself is
#: imported on first use only)
TRITON_AVAILABLE = importlib.util.find_spec('triton') is not None


def triton_interpreted():
    """True when ``$TRITON_INTERPRET`` runs Triton kernels on the CPU."""
    return os.environ.get('TRITON_INTERPRET', '0') not in ('', '0')


def _triton_runs(device, dtype):
    if not TRITON_AVAILABLE or dtype not in _TRITON_DTYPES:
        return False
    kind = torch.device(device).type
    return kind == 'cuda' or (kind == 'cpu' and triton_interpreted())


def available_backends():
    """The concrete backends this installation can run.

    ``'numba'`` needs the ``numba`` package; ``'triton'`` the ``triton``
    package and a CUDA device (or ``TRITON_INTERPRET=1``); the others need
    only torch (``'inductor'`` compiles on first use, with a C++ compiler on
    CPU or Triton on GPU).

    Returns:
        tuple[str]: a subset of :data:`CONCRETE_BACKENDS`, in its order.
    """
    triton = TRITON_AVAILABLE and (torch.cuda.is_available()
                                   or triton_interpreted())
    return tuple(b for b in CONCRETE_BACKENDS
                 if (b != 'numba' or numba_kernels.NUMBA_AVAILABLE) and (
                     b != 'triton' or triton))


def requested_backend(backend=None):
    """``backend``, or the process default when it is None.

    Args:
        backend (str | None): one of :data:`NEURON_BACKENDS`; None reads
            ``$MMSVF_NEURON_BACKEND`` (default ``'auto'``).

    Returns:
        str: a validated member of :data:`NEURON_BACKENDS`.
    """
    if backend is None:
        backend = os.environ.get(BACKEND_ENV, 'auto')
        if backend not in NEURON_BACKENDS:
            raise ValueError(f'{BACKEND_ENV}={backend!r}; expected one of '
                             f'{NEURON_BACKENDS}')
    elif backend not in NEURON_BACKENDS:
        raise ValueError(f'neuron backend {backend!r}; expected one of '
                         f'{NEURON_BACKENDS}')
    return backend


def resolve_backend(backend, device, dtype):
    """The concrete backend that runs ``backend`` on ``device`` / ``dtype``.

    Args:
        backend (str | None): as :func:`requested_backend`.
        device (torch.device | str): where the input lives.
        dtype (torch.dtype): the input's dtype.

    Returns:
        str: a member of :data:`CONCRETE_BACKENDS`.
    """
    if backend in (None, 'auto', 'numba') and \
            torch.compiler.is_compiling():
        if backend != 'numba' and torch.device(device).type == 'cuda' \
                and _triton_runs(device, dtype):
            return 'triton'
        return 'torch'
    backend = requested_backend(backend)
    if backend == 'auto':
        if (numba_kernels.NUMBA_AVAILABLE
                and torch.device(device).type == 'cpu'
                and dtype in _NUMBA_DTYPES):
            return 'numba'
        if torch.device(device).type == 'cuda' and _triton_runs(
                device, dtype):
            return 'triton'
        return 'torch'
    if backend == 'triton':
        if not TRITON_AVAILABLE:
            raise RuntimeError('neuron backend "triton" needs the triton '
                               'package; install it or pick one of '
                               f'{available_backends()}')
        if not _triton_runs(device, dtype):
            raise ValueError(
                'neuron backend "triton" runs CUDA float32/bfloat16/float16 '
                f'tensors (CPU ones under TRITON_INTERPRET=1); got a {dtype} '
                f'tensor on {device} (use "auto")')
    if backend == 'numba':
        if not numba_kernels.NUMBA_AVAILABLE:
            raise RuntimeError('neuron backend "numba" needs the numba '
                               'package; install it or pick one of '
                               f'{available_backends()}')
        if torch.device(device).type != 'cpu' or dtype not in _NUMBA_DTYPES:
            raise ValueError(
                'neuron backend "numba" runs CPU float32/float64 tensors '
                f'only; got a {dtype} tensor on {device} (use "auto")')
    return backend


def neuron_backend(backend=None, device='cpu', dtype=torch.float32):
    """Which LIF implementation runs for a tensor on ``device`` in ``dtype``.

    Example::

        >>> from mmsvf.models.neurons import neuron_backend
        >>> neuron_backend()                  # CPU float32, Numba installed
        'numba'
        >>> neuron_backend(dtype=torch.bfloat16)
        'torch'

    Args:
        backend (str | None): the requested backend (a neuron's
            ``backend``); None = ``$MMSVF_NEURON_BACKEND`` or ``'auto'``.
        device (torch.device | str): device of the neuron input.
            Default ``'cpu'``.
        dtype (torch.dtype): dtype of the neuron input. Default float32.

    Returns:
        str: one of :data:`CONCRETE_BACKENDS`.

    Raises:
        ValueError: an unknown backend, or ``'numba'`` for a tensor it
            cannot run.
        RuntimeError: ``'numba'`` without the numba package.
    """
    return resolve_backend(backend, device, dtype)
