# Copyright (c) mmsvf contributors. All rights reserved.
"""Tests written against mutants that survived the neuron tests
(``tools/dev/mutation_check.sh neurons``, docs/testing.md).

Each test names the behaviour the surviving mutant broke: a hard reset to
1.0 and a soft reset with a threshold other than 1 (the existing option grid
only had ``v_reset`` 0 / None / -0.3 and ``v_threshold`` 1), arguments the
modules must pass on (``alpha``, ``detach_reset``, ``reset_each_step``), the
closed ``[0, D]`` straight-through window of I-LIF, the documented defaults,
``backend='numba'`` without Numba, and the spike-storage marks and codes
(tested only through the layers in ``test_speed_memory.py`` before).
"""
import pytest
import torch

from mmsvf.models.neurons import (
    LIF,
    IntegerLIF,
    SpikeFormat,
    compact_spike_tensor,
    decode_spikes,
    encode_spikes,
    integer_lif_multistep,
    integer_lif_multistep_reference,
    lif_multistep,
    lif_multistep_reference,
    mark_spikes,
    numba_kernels,
    spike_format,
)


def _independent_lif(x, tau, v_threshold, v_reset, decay_input):
    """SpikingJelly's MultiStepLIFNode written out, element by element."""
    v = torch.full_like(x[0], 0. if v_reset is None else v_reset)
    out = []
    for t in range(x.shape[0]):
        if decay_input:
            h = v + (x[t] - (v - (0. if v_reset is None else v_reset))) / tau
        else:
            h = v - (v - (0. if v_reset is None else v_reset)) / tau + x[t]
        s = (h >= v_threshold).to(x.dtype)
        if v_reset is None:
            v = h - s * v_threshold
        else:
            v = h * (1. - s) + v_reset * s
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize('backend', ['reference', 'torch', 'numba'])
@pytest.mark.parametrize('decay_input', [True, False])
@pytest.mark.parametrize('v_reset,v_threshold', [(1.0, 1.6), (None, 2.0),
                                                 (None, 0.6)])
def test_reset_to_one_and_soft_reset_threshold(backend, decay_input, v_reset,
                                               v_threshold):
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(12, 257, generator=gen, dtype=torch.float64) * 3
    expected = _independent_lif(x, 2.0, v_threshold, v_reset, decay_input)
    assert 0 < expected.mean() < 1
    kwargs = dict(tau=2.0, v_threshold=v_threshold, v_reset=v_reset,
                  decay_input=decay_input)
    assert torch.equal(lif_multistep(x, backend=backend, **kwargs), expected)
    if backend == 'reference':
        assert torch.equal(lif_multistep_reference(x, **kwargs), expected)


def _grad(fn, x, **kwargs):
    x = x.clone().requires_grad_(True)
    s = fn(x, **kwargs)
    weight = torch.linspace(-1, 1, s.numel(), dtype=s.dtype).view_as(s)
    (s * weight).sum().backward()
    return s.detach(), x.grad


@pytest.mark.parametrize('detach_reset', [True, False])
def test_reference_backend_passes_every_argument(detach_reset):
    gen = torch.Generator().manual_seed(12)
    x = torch.rand(6, 40, generator=gen, dtype=torch.float64) * 3
    kwargs = dict(tau=3.0, v_reset=0.0, detach_reset=detach_reset,
                  surrogate='atan', alpha=0.7)
    s_ref, g_ref = _grad(lif_multistep_reference, x, **kwargs)
    s, g = _grad(lif_multistep, x, backend='reference', **kwargs)
    assert torch.equal(s, s_ref) and torch.equal(g, g_ref)
    # the arguments matter on these inputs: the mutants would agree otherwise
    _, g_other = _grad(lif_multistep_reference, x,
                       **dict(kwargs, detach_reset=not detach_reset))
    _, g_alpha = _grad(lif_multistep_reference, x, **dict(kwargs, alpha=None))
    assert not torch.allclose(g_other, g_ref)
    assert not torch.allclose(g_alpha, g_ref)


def test_lif_module_passes_alpha():
    gen = torch.Generator().manual_seed(13)
    x = torch.rand(5, 64, generator=gen, dtype=torch.float64) * 3
    _, g = _grad(LIF(alpha=1.5, backend='torch'), x)
    _, g_fn = _grad(lif_multistep, x, alpha=1.5, backend='torch')
    _, g_default = _grad(LIF(backend='torch'), x)
    assert torch.equal(g, g_fn)
    assert not torch.allclose(g, g_default)
    assert LIF(alpha=1.5).alpha == 1.5 and LIF().alpha is None


@pytest.mark.parametrize('neuron', [
    LIF(reset_each_step=True, backend='torch'),
    IntegerLIF(reset_each_step=True, backend='torch')
], ids=['LIF', 'IntegerLIF'])
def test_reset_each_step_runs_every_step_from_rest(neuron):
    gen = torch.Generator().manual_seed(14)
    x = torch.rand(4, 2, 3, 5, generator=gen) * 3  # [T, B, C, W]
    out = neuron(x)
    assert neuron.reset_each_step is True
    # each step alone, from the resting membrane
    steps = torch.cat([neuron(x[t:t + 1]) for t in range(x.shape[0])])
    assert torch.equal(out, steps)
    # ... which is not what the temporal neuron computes
    neuron.reset_each_step = False
    try:
        assert not torch.equal(neuron(x), out)
    finally:
        neuron.reset_each_step = True


def test_integer_lif_gradient_window_is_closed():
    """The STE passes the gradient on ``0 <= u <= D``, ends included."""
    x = torch.tensor([[0.0, 4.0, 2.5, -0.5, 4.5, 3.0]])  # T = 1, D = 4
    grad = torch.arange(1., 7.).view(1, 6)
    expected = grad * torch.tensor([[1., 1., 1., 0., 0., 1.]])
    for name, fn in (('fused', lambda u: integer_lif_multistep(
            u, 4, 0.25, True, 'torch')), ('reference', lambda u:
                integer_lif_multistep_reference(u, 4, 0.25, True))):
        u = x.clone().requires_grad_(True)
        (fn(u) * grad).sum().backward()
        assert torch.equal(u.grad, expected), name
    # through time (the fused scan): u = 0 and u = D at step 1, D at step 0
    x = torch.tensor([[1.0, 4.0], [0.0, 4.0]])
    for name, fn in (('fused', lambda u: integer_lif_multistep(
            u, 4, 0.25, True, 'torch')), ('reference', lambda u:
                integer_lif_multistep_reference(u, 4, 0.25, True))):
        u = x.clone().requires_grad_(True)
        fn(u).sum().backward()
        assert torch.equal(u.grad, torch.tensor([[1.25, 1.25], [1., 1.]])), \
            name


def test_integer_lif_defaults():
    neuron = IntegerLIF()
    assert (neuron.max_level, neuron.leak) == (4, 0.25)
    assert neuron.normalize is False and neuron.stateful is True
    gen = torch.Generator().manual_seed(15)
    x = torch.rand(5, 30, generator=gen) * 6 - 1
    explicit = integer_lif_multistep_reference(x, 4, 0.25, True)
    assert torch.equal(integer_lif_multistep_reference(x), explicit)
    assert torch.equal(integer_lif_multistep(x, backend='torch'), explicit)
    assert torch.equal(neuron(x), explicit)
    # max_level 1 (binary I-LIF) is a positive integer; 0 is not
    assert IntegerLIF(max_level=1).max_level == 1
    with pytest.raises(ValueError, match='positive'):
        IntegerLIF(max_level=0)


def test_numba_backend_without_numba(monkeypatch):
    monkeypatch.setattr(numba_kernels, 'NUMBA_AVAILABLE', False)
    x = torch.rand(3, 8)
    with pytest.raises(RuntimeError, match='numba'):
        lif_multistep(x, backend='numba')
    # the other backends do not need it; 'auto' falls back to torch
    ref = lif_multistep_reference(x)
    for backend in ('torch', 'auto'):
        assert torch.equal(lif_multistep(x, backend=backend), ref)


# --------------------------------------------------------------------------
# spike storage
# --------------------------------------------------------------------------
def test_mark_spikes_formats_and_limits():
    s = (torch.rand(3, 4) > 0.5).float()
    assert mark_spikes(s) is s
    assert spike_format(s) == SpikeFormat(1, False)
    s4 = torch.randint(0, 5, (3, 4)).float() / 4
    mark_spikes(s4, 4, True)
    assert spike_format(s4) == SpikeFormat(4, True)
    for level, marked in ((1, True), (255, True), (0, False), (256, False)):
        t = torch.zeros(2, 2)
        mark_spikes(t, level)
        assert (spike_format(t) is not None) is marked, level
    # a partial view is not marked, a full view marks (and reads) its base
    base = torch.zeros(2, 3)
    mark_spikes(base[0])
    assert spike_format(base) is None
    mark_spikes(base.view(6))
    assert spike_format(base) == SpikeFormat()
    assert spike_format(base.flatten()) == SpikeFormat()
    # an in-place change drops the mark
    base.add_(1)
    assert spike_format(base) is None and spike_format(base.view(6)) is None
    # not a tensor: returned unchanged, no format
    assert mark_spikes([1, 0]) == [1, 0] and spike_format([1, 0]) is None


@pytest.mark.parametrize('fmt,values', [
    (SpikeFormat(1, False), lambda g: (torch.rand(4, 6, generator=g) > .5)),
    (SpikeFormat(4, False), lambda g: torch.randint(0, 5, (4, 6),
                                                    generator=g)),
    (SpikeFormat(4, True), lambda g: torch.randint(0, 5, (4, 6),
                                                   generator=g) / 4),
    (SpikeFormat(3, True), lambda g: torch.randint(0, 4, (4, 6),
                                                   generator=g) / 3),
])
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_encode_decode_round_trip(fmt, values, dtype):
    gen = torch.Generator().manual_seed(16)
    x = values(gen).to(dtype)
    code = encode_spikes(x, fmt)
    binary = fmt == SpikeFormat(1, False)
    assert code.dtype == (torch.bool if binary else torch.uint8)
    if not binary:
        assert code.max() <= fmt.max_level and code.max() > 1
    assert torch.equal(decode_spikes(code, fmt, dtype), x)


def test_compact_spike_tensor_views_share_one_code():
    base = torch.randint(0, 5, (4, 6)).float()
    fmt = SpikeFormat(4, False)
    mark_spikes(base, 4)
    view = base.view(2, 12)[:, 3:9]  # strided, offset view of the base
    code = compact_spike_tensor(view, fmt)
    assert torch.equal(decode_spikes(code, fmt, torch.float32), view)
    again = compact_spike_tensor(base.t(), fmt)
    assert again.untyped_storage().data_ptr() == \
        code.untyped_storage().data_ptr()  # encoded once, cached on the base
    assert torch.equal(decode_spikes(again, fmt, torch.float32), base.t())
    # another format re-encodes; an in-place change re-encodes
    binary = compact_spike_tensor(base, SpikeFormat(1, False))
    assert binary.dtype == torch.bool
    base.mul_(0)
    zero = compact_spike_tensor(view, fmt)
    assert not zero.any()
    # a non-contiguous base is encoded per call, with the view's values
    odd = torch.empty_strided((4, 6), (1, 4)).copy_(
        torch.randint(0, 2, (4, 6)))
    assert odd._base is None and not odd.is_contiguous()
    assert torch.equal(compact_spike_tensor(odd[1:], SpikeFormat()),
                       odd[1:] != 0)
    assert not hasattr(odd, '_mmsvf_spike_code')


@pytest.mark.parametrize('neuron,fmt', [
    (LIF(), SpikeFormat(1, False)),
    (IntegerLIF(), SpikeFormat(4, False)),
    (IntegerLIF(max_level=3, normalize=True), SpikeFormat(3, True)),
], ids=['LIF', 'IntegerLIF', 'IntegerLIF-normalize'])
def test_neuron_outputs_are_marked_with_their_format(neuron, fmt):
    """Consumers encode marked spikes for backward by this format: a wrong
    one (e.g. normalised spikes marked as integers) would lose values."""
    x = torch.rand(3, 2, 40) * 5
    s = neuron(x)
    assert spike_format(s) == fmt
    code = encode_spikes(s, fmt)
    assert torch.equal(decode_spikes(code, fmt, s.dtype), s)


def test_modules_pass_their_backend(monkeypatch):
    from mmsvf.models.neurons import functional, modules
    seen = []

    def spy(name, fn):
        def wrapper(*args, **kwargs):
            seen.append((name, args[-1] if args else None))
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(modules, 'lif_multistep',
                        spy('lif', functional.lif_multistep))
    monkeypatch.setattr(modules, 'integer_lif_multistep',
                        spy('ilif', functional.integer_lif_multistep))
    monkeypatch.setattr(functional, '_get_scans',
                        spy('scans', functional._get_scans))
    x = torch.rand(3, 8) * 3
    for backend in ('numba', 'torch', 'reference'):
        LIF(backend=backend)(x)
    IntegerLIF(backend='reference')(x)
    assert ('lif', 'numba') in seen and ('lif', 'reference') in seen
    assert ('ilif', 'reference') in seen
    # the fused torch path gets its scans for the 'torch' backend
    assert ('lif', 'torch') in seen and ('scans', 'torch') in seen
    assert all(arg == 'torch' for name, arg in seen if name == 'scans')
    assert LIF().backend is None and LIF().reset_each_step is False
    assert IntegerLIF(backend='torch').backend == 'torch'


def test_compact_code_of_a_base_with_a_storage_offset():
    storage = torch.randint(0, 2, (40, )).float()
    base = torch.empty(0).set_(storage.untyped_storage(), 7, (4, 6))
    assert base._base is None and base.storage_offset() == 7
    view = base[1:, 2:]
    code = compact_spike_tensor(view, SpikeFormat())
    assert torch.equal(code, view != 0)


def test_one_thread_runs_on_the_caller_without_a_pool(monkeypatch):
    monkeypatch.setattr(numba_kernels, '_pool',
                        dict(pid=None, executor=None, workers=0))
    monkeypatch.setattr(numba_kernels, 'PARALLEL_MIN_ELEMENTS', 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.rand(8, 1000, dtype=torch.float64) * 3
        s = lif_multistep(x, backend='numba')
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(s, lif_multistep_reference(x))
    assert numba_kernels._pool['executor'] is None


def test_thread_pool_of_another_process_is_not_reused(monkeypatch):
    """After a fork the parent's pool threads do not exist: a pool recorded
    for another pid is replaced, whatever its size."""
    from concurrent.futures import ThreadPoolExecutor
    stale = ThreadPoolExecutor(1)
    stale.shutdown()
    monkeypatch.setattr(numba_kernels, '_pool',
                        dict(pid=-1, executor=stale, workers=8))
    pool = numba_kernels._executor(2)
    try:
        assert pool is not stale
        assert pool.submit(lambda: 7).result() == 7
        # same process, enough workers: reused
        assert numba_kernels._executor(2) is pool
        # more workers: a larger pool replaces it
        bigger = numba_kernels._executor(3)
        assert bigger is not pool and numba_kernels._pool['workers'] == 3
        assert bigger.submit(lambda: 8).result() == 8
    finally:
        numba_kernels._pool['executor'].shutdown()
        pool.shutdown()
