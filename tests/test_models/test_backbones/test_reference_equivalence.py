# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeVideoFormer equals an independent per-step reference (float64).

The reference (``tests/reference_svf.py``) is written from the paper's
equations (SpikeVideoFormer §3.2-3.4, Eq. 9 with the explicit N x N score
matrix) and the official Meta-SpikeFormer / SpikeVideoFormer model code; it
shares no code with ``mmsvf.models``, only the state dict. Every attention
mode x similarity x neuron is compared in eval mode (running statistics)
and in train mode (batch statistics, plus the updated running statistics),
with random BN statistics that make the neurons fire at healthy rates.
"""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmsvf.models import SpikeVideoFormer
from reference_svf import ReferenceSVF
from svf_fixtures import TINY, set_weights, spike_rates

MODES = ('joint', 'spatial', 'hierarchical', 'factorized')
NEURONS = {
    'LIF': dict(type='LIF'),
    'IntegerLIF': dict(type='IntegerLIF', max_level=4),
}
#: 2 heads in stage 3 (d = 8), 4 in stage 4 (d = 4): per-stage head lists
HEADS = (2, 4)


def make(attn_mode='joint', similarity='hamming', neuron='LIF',
         reset_each_frame=False, seed=0):
    torch.manual_seed(seed)
    kwargs = dict(TINY, num_heads=HEADS, attn_mode=attn_mode,
                  similarity=similarity, reset_each_frame=reset_each_frame)
    model = SpikeVideoFormer(neuron=NEURONS[neuron], **kwargs).double()
    set_weights(model, seed, attn_mode, similarity, integer=neuron != 'LIF')
    return model, dict(kwargs, neuron=neuron)


@pytest.fixture(autouse=True)
def single_torch_thread():
    """One intra-op thread: the forwards are tiny, and on a shared machine
    a second spinning OpenMP thread costs far more than it gains."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def clip():
    # 64x64: 4x4 tokens per frame at stage 3; T = 3 frames
    g = torch.Generator().manual_seed(5)
    return torch.randn(1, 3, 3, 64, 64, generator=g, dtype=torch.float64)


def healthy(rate):
    nonzero, top = rate
    return 0.01 <= nonzero and top <= 0.99


def run_both(model, cfg, x, training):
    """Forward the model and the reference on the same weights."""
    model.train(training)
    rates, handles = spike_rates(model)
    ref = ReferenceSVF({k: v.clone() for k, v in model.state_dict().items()},
                       training=training, **cfg)
    try:
        with torch.no_grad():
            out = model(x)
            expected = ref(x)
    finally:
        for h in handles:
            h.remove()
    return out, expected, rates, ref


def assert_outputs_equal(out, expected):
    assert len(out) == len(expected) == 4
    for o, e in zip(out, expected):
        assert o.shape == e.shape and o.dtype == torch.float64
        torch.testing.assert_close(o, e, rtol=1e-10,
                                   atol=1e-10 * e.abs().max().item())


def assert_running_stats_equal(model, ref):
    n = 0
    for name, m in model.named_modules():
        if isinstance(m, _BatchNorm):
            for stat in ('running_mean', 'running_var'):
                torch.testing.assert_close(
                    getattr(m, stat), ref.buffers[f'{name}.{stat}'],
                    rtol=1e-10, atol=1e-12, msg=f'{name}.{stat}')
            n += 1
    assert n > 40


@pytest.mark.parametrize('training', [False, True], ids=['eval', 'train'])
@pytest.mark.parametrize('neuron', list(NEURONS))
@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
@pytest.mark.parametrize('attn_mode', MODES)
def test_forward_equals_reference(attn_mode, similarity, neuron, training,
                                  clip):
    model, cfg = make(attn_mode, similarity, neuron)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out, expected, rates, ref = run_both(model, cfg, clip, training)
    assert_outputs_equal(out, expected)
    # the same spikes in every neuron layer (same names as the checkpoint)
    assert set(rates) == set(ref.rates)
    for name, (nonzero, _) in rates.items():
        assert nonzero == pytest.approx(ref.rates[name], abs=1e-12), name
    # not vacuous: the attention neurons and a sample of the other layers
    # fire at healthy rates (neither silent nor saturated)
    attn = [n for n in rates if '.attn' in n and n.endswith(
        ('q_lif', 'k_lif', 'v_lif', 'q_t_lif', 'k_t_lif', 'v_t_lif',
         'attn_lif'))]
    assert len(attn) == {'hierarchical': 16, 'factorized': 14}.get(
        attn_mode, 8)
    others = ['ConvBlock1_1.0.Conv.lif1', 'ConvBlock2_2.0.lif2',
              'downsample3.encode_lif', 'block3.0.mlp.fc1_lif',
              'block4.0.mlp.fc2_lif']
    bad = {n: rates[n] for n in attn + others if not healthy(rates[n])}
    assert not bad, bad
    if training:
        assert_running_stats_equal(model, ref)
    else:  # eval: nothing moves
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), k


@pytest.mark.parametrize('attn_mode,similarity,neuron,training', [
    ('joint', 'hamming', 'LIF', False),
    ('spatial', 'dot', 'LIF', True),
    ('hierarchical', 'hamming', 'IntegerLIF', False),
    ('factorized', 'dot', 'IntegerLIF', True),
])
def test_reset_each_frame_equals_reference(attn_mode, similarity, neuron,
                                           training, clip):
    model, cfg = make(attn_mode, similarity, neuron, reset_each_frame=True)
    out, expected, rates, ref = run_both(model, cfg, clip, training)
    assert_outputs_equal(out, expected)
    assert all(healthy(rates[n]) for n in rates if n.endswith('attn_lif'))
    if training:
        assert_running_stats_equal(model, ref)
    # the switch matters: carried membranes give other outputs
    carried, _ = make(attn_mode, similarity, neuron)
    carried.load_state_dict(model.state_dict())
    carried.train(training)
    with torch.no_grad():
        other = carried(clip)
    assert not torch.allclose(other[3], out[3])


def _grads(fn, x, params, weights):
    x = x.clone().requires_grad_(True)
    outs = fn(x, params)
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    names = sorted(params)
    grads = torch.autograd.grad(loss, [x] + [params[n] for n in names])
    return grads[0], dict(zip(names, grads[1:]))


@pytest.mark.parametrize('neuron', ['LIF', 'IntegerLIF'])
def test_gradients_equal_reference(neuron, clip):
    """Input and parameter gradients of the default configuration (joint
    Hamming attention; LIF: sigmoid surrogate alpha = 4, detached reset;
    I-LIF: straight-through), train mode."""
    model, cfg = make('joint', 'hamming', neuron)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():
        weights = [torch.randn(o.shape, generator=g, dtype=torch.float64)
                   for o in model(clip)]
    model.load_state_dict(state)  # undo the running-statistics update
    names = [n for n, _ in model.named_parameters()]

    def run_model(x, params):
        return model(x)

    ref_params = {n: state[n].clone().requires_grad_(True) for n in names}

    def run_ref(x, params):
        sd = dict(state, **params)
        return ReferenceSVF(sd, training=True, **cfg)(x)

    gx, gp = _grads(run_model, clip, dict(model.named_parameters()),
                    weights)
    rx, rp = _grads(run_ref, clip, ref_params, weights)
    # float64 throughout (the attention products too): agreement to
    # float64 round-off of the different orders of summation
    assert gx.abs().max() > 0
    torch.testing.assert_close(gx, rx, rtol=1e-9,
                               atol=1e-10 * rx.abs().max().item())
    # biases right before a train-mode BN have a zero gradient in exact
    # arithmetic (round-off only): tolerances relative to the largest one
    top = max(g.abs().max().item() for g in rp.values())
    for n in names:
        torch.testing.assert_close(gp[n], rp[n], rtol=1e-9, atol=1e-11 * top,
                                   msg=lambda m, n=n: f'{n}: {m}')
    # gradients reach most parameters, so the check is not vacuous
    reached = [n for n in names if rp[n].abs().max() > 1e-6 * top]
    assert len(reached) >= 0.75 * len(names)
