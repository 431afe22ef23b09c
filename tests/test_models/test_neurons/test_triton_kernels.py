# Copyright (c) mmsvf contributors. All rights reserved.
"""The Triton neuron kernels equal the reference path (Triton interpreter).

The kernels run on CPU tensors under ``TRITON_INTERPRET=1``, set here before
:mod:`mmsvf.models.neurons.triton_kernels` is first imported (Triton reads it
when the kernels are defined). The interpreter is slow: sizes stay tiny.
"""
import itertools
import os

import pytest
import torch

os.environ.setdefault('TRITON_INTERPRET', '1')
triton = pytest.importorskip('triton')

from mmsvf.models.neurons import (  # noqa: E402
    LIF,
    IntegerLIF,
    LIFParameters,
    backends,
    integer_lif_multistep,
    integer_lif_multistep_reference,
    lif_multistep,
    lif_multistep_reference,
    neuron_backend,
)
from mmsvf.models.neurons.surrogate import SURROGATES  # noqa: E402
from mmsvf.models.neurons.triton_kernels import (  # noqa: E402
    TRITON_SURROGATES,
    _surrogate,
    _surrogate_constants,
)

tl = triton.language

pytestmark = pytest.mark.skipif(
    not backends.triton_interpreted(),
    reason='TRITON_INTERPRET was set to 0 outside the tests')

#: every LIF option: reset (soft, hard at 0, hard elsewhere), decay_input,
#: detach_reset, surrogate
OPTIONS = list(itertools.product([None, 0., -0.3], [True, False],
                                 [True, False], ['sigmoid', 'atan']))


def _params(v_reset, decay_input, detach_reset, surrogate, **kw):
    # tau 3 (1/tau inexact) and off-default thresholds / sharpness
    return LIFParameters(tau=3.0, v_threshold=0.7, v_reset=v_reset,
                         decay_input=decay_input, detach_reset=detach_reset,
                         surrogate=surrogate, **kw)


def _fwd_bwd(fn, x, grad):
    x = x.detach().requires_grad_()
    s = fn(x)
    g, = torch.autograd.grad(s, x, grad)
    return s, g


def _inputs(shape, seed, scale=1.5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * scale
    return x, torch.randn(shape, generator=gen)


@pytest.mark.parametrize('T', [1, 5])
def test_lif_every_option_equals_reference_float32(T):
    # 3 x 7 neurons: odd, fewer than one block
    for i, opt in enumerate(OPTIONS):
        p = _params(*opt)
        x, grad = _inputs((T, 3, 7), i)
        s, g = _fwd_bwd(lambda t: lif_multistep(t, p, backend='triton'), x,
                        grad)
        s_ref, g_ref = _fwd_bwd(lambda t: lif_multistep_reference(t, p), x,
                                grad)
        assert s.dtype == torch.float32
        assert torch.equal(s, s_ref), opt
        torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-6,
                                   msg=lambda m: f'{opt}: {m}')


def test_lif_leak_constant_rounds_like_torch():
    # decay_input=False, tau 3: 1 - 1/tau is folded in double and rounded
    # once (0.6666667, as torch does with the Python scalar); float32
    # arithmetic gives 0.6666666 and misses the threshold (test_lif.py)
    x = torch.tensor([[0.9375], [0.375]])
    s = lif_multistep(x, backend='triton', tau=3.0, decay_input=False)
    assert s.view(-1).tolist() == [0, 1]


def test_lif_several_blocks_and_masked_tail():
    # 1031 neurons per step: two programs, the second mostly masked
    p = _params(0., True, False, 'sigmoid', alpha=3.0)
    x, grad = _inputs((3, 1031), 7)
    s, g = _fwd_bwd(lambda t: lif_multistep(t, p, backend='triton'), x, grad)
    s_ref, g_ref = _fwd_bwd(lambda t: lif_multistep_reference(t, p), x, grad)
    assert torch.equal(s, s_ref) and s.sum() > 0
    torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('opt', [(None, True, False, 'atan'),
                                 (-0.3, False, True, 'sigmoid')])
def test_lif_half_inputs_keep_float32_state(dtype, opt):
    p = _params(*opt)
    x, grad = _inputs((4, 3, 5), 11)
    x, grad = x.to(dtype), grad.to(dtype)
    s, g = _fwd_bwd(lambda t: lif_multistep(t, p, backend='triton'), x, grad)
    # the float32 reference on the same (exactly upcast) numbers
    s_ref, g_ref = _fwd_bwd(lambda t: lif_multistep_reference(t, p),
                            x.float(), grad.float())
    assert s.dtype == g.dtype == dtype
    assert torch.equal(s.float(), s_ref)
    torch.testing.assert_close(g.float(), g_ref, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize('T,max_level,leak', [(1, 4, 0.25), (5, 4, 0.25),
                                              (4, 3, 0.3)])
def test_integer_lif_equals_reference(T, max_level, leak):
    x, grad = _inputs((T, 3, 7), T, scale=3.)
    # exact halves: torch.round rounds them to even
    x[0, 0, :5] = torch.tensor([0.5, 1.5, 2.5, 3.5, -0.5])
    s, g = _fwd_bwd(
        lambda t: integer_lif_multistep(t, max_level, leak,
                                        backend='triton'), x, grad)
    s_ref, g_ref = _fwd_bwd(
        lambda t: integer_lif_multistep_reference(t, max_level, leak), x,
        grad)
    assert torch.equal(s, s_ref)
    assert s[0, 0, :4].tolist() == [0., 2., 2., min(4., max_level)]
    torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_integer_lif_half_inputs(dtype):
    x, grad = _inputs((3, 2, 5), 3, scale=3.)
    x, grad = x.to(dtype), grad.to(dtype)
    s, g = _fwd_bwd(lambda t: integer_lif_multistep(t, backend='triton'), x,
                    grad)
    s_ref, g_ref = _fwd_bwd(integer_lif_multistep_reference, x.float(),
                            grad.float())
    assert s.dtype == dtype and torch.equal(s.float(), s_ref)
    torch.testing.assert_close(g.float(), g_ref, rtol=1e-2, atol=1e-3)


@triton.jit
def _probe(x_ptr, out_ptr, n, c0, c1, SURROGATE: tl.constexpr,
           BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(out_ptr + offs, _surrogate(x, c0, c1, SURROGATE), mask=offs < n)


def test_surrogates_match_their_torch_definitions():
    assert set(TRITON_SURROGATES) == set(SURROGATES)
    x = torch.linspace(-3, 3, 61)
    for name, alpha in (('sigmoid', 4.0), ('sigmoid', 1.5), ('atan', 2.0),
                        ('atan', 0.7)):
        out = torch.empty_like(x)
        _probe[(1, )](x, out, x.numel(), *_surrogate_constants(name, alpha),
                      SURROGATE=name, BLOCK=64)
        ref = SURROGATES[name].derivative(x.clone(), alpha)
        # σ close to 1: 1 - σ cancels, an ulp of σ is relatively large
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_only_the_input_is_kept_for_backward():
    x = torch.randn(3, 4, 5, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t) or t, lambda t: t):
        lif_multistep(x, backend='triton')
        integer_lif_multistep(x, backend='triton')
    assert len(saved) == 2
    assert all(t.data_ptr() == x.data_ptr() for t in saved)


def test_modules_run_the_kernels(monkeypatch):
    from mmsvf.models.neurons import triton_kernels as tk
    ran = []
    for name in ('lif_triton', 'integer_lif_triton'):
        fn = getattr(tk, name)
        monkeypatch.setattr(tk, name,
                            lambda *a, _f=fn, _n=name: ran.append(_n) or
                            _f(*a))
    x, _ = _inputs((2, 3, 4), 5)
    lif = LIF(v_reset=None, backend='triton', reset_each_step=True)
    assert torch.equal(lif(x), LIF(v_reset=None, backend='reference',
                                   reset_each_step=True)(x))
    ilif = IntegerLIF(normalize=True, backend='triton')
    assert torch.equal(ilif(x), IntegerLIF(normalize=True,
                                           backend='reference')(x))
    assert ran == ['lif_triton', 'integer_lif_triton']


def test_backend_choice(monkeypatch):
    # 'auto' takes Triton on CUDA only; on CPU it stays numba / torch
    assert neuron_backend('auto', 'cuda', torch.bfloat16) == 'triton'
    assert neuron_backend('auto', 'cpu', torch.float32) != 'triton'
    assert neuron_backend('triton', 'cpu', torch.float16) == 'triton'
    assert 'triton' in backends.available_backends()
    with pytest.raises(ValueError, match='float32/bfloat16/float16'):
        neuron_backend('triton', 'cpu', torch.float64)
    monkeypatch.setenv('TRITON_INTERPRET', '0')
    with pytest.raises(ValueError, match='TRITON_INTERPRET=1'):
        neuron_backend('triton', 'cpu', torch.float32)
    monkeypatch.setattr(backends, 'TRITON_AVAILABLE', False)
    with pytest.raises(RuntimeError, match='needs the triton package'):
        neuron_backend('triton', 'cuda', torch.float32)
    assert neuron_backend('auto', 'cuda', torch.float32) == 'torch'


@pytest.mark.parametrize('op,args', [
    ('lif_triton', (1.5, 0.7, None, True, False, 'atan', 2.0)),
    ('lif_triton', (3.0, 1.0, -0.3, False, True, 'sigmoid', 4.0)),
    ('integer_lif_triton', (4.0, 0.25)),
])
def test_opcheck(op, args):
    x, grad = _inputs((3, 2, 5), 1)
    fwd = getattr(torch.ops.mmsvf, op)
    bwd = getattr(torch.ops.mmsvf, op + '_backward')
    torch.library.opcheck(fwd, (x.requires_grad_(), ) + args)
    torch.library.opcheck(bwd, (grad, x.detach()) + args)


def test_block_compiles_in_one_graph_with_the_op_opaque():
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    from mmsvf.models.attention import SpikeDrivenAttention
    torch.manual_seed(0)
    block = SpikeDrivenAttention(8, 2, 'joint',
                                 neuron=dict(type='LIF', backend='triton'))
    # eval: batch-norm statistics fixed, so two calls can be compared
    block.eval()
    x = torch.randn(3, 1, 8, 2, 2) * 2
    graphs, aot_graphs = [], []

    def keep(g, _):
        aot_graphs.append(g)
        return make_boxed_func(g.forward)

    def recorder(gm, example_inputs):
        graphs.append(gm)
        return aot_autograd(fw_compiler=keep, bw_compiler=keep)(
            gm, example_inputs)

    compiled = torch.compile(block, fullgraph=True, backend=recorder)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    out = compiled(xs[0])
    ref = block(xs[1])
    assert torch.equal(out, ref)
    out.square().sum().backward()
    ref.square().sum().backward()
    torch.testing.assert_close(xs[0].grad, xs[1].grad, rtol=1e-6,
                               atol=1e-6)
    assert len(graphs) == 1
    targets = [n.target for n in graphs[0].graph.nodes]
    # the head, q, k, v and attention neurons: five opaque op calls
    assert targets.count(torch.ops.mmsvf.lif_triton.default) == 5
    # forward and backward graphs: the ops and their backward ops as nodes
    fw, bw = ([n.target for n in g.graph.nodes] for g in aot_graphs)
    assert fw.count(torch.ops.mmsvf.lif_triton.default) == 5
    assert bw.count(torch.ops.mmsvf.lif_triton_backward.default) == 5
