# Copyright (c) mmsvf contributors. All rights reserved.
"""The temporary-free Hamming core equals the literal ``(2q−1)((2k−1)ᵀv)``."""
import pytest
import torch

from mmsvf.models.attention import SpikeLinearAttention
from mmsvf.models.attention.core import (
    hamming_attention,
    hamming_attention_naive,
)


def _spikes(shape, high, dtype, gen):
    return torch.randint(0, high, shape, generator=gen).to(dtype)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('high', [2, 5])  # binary and integer spikes
@pytest.mark.parametrize('shape', [(1, 1, 1, 1), (2, 3, 7, 5),
                                   (1, 8, 196 * 8, 32)])
def test_forward_bit_for_bit(dtype, high, shape):
    gen = torch.Generator().manual_seed(sum(shape) + high)
    q, k, v = (_spikes(shape, high, dtype, gen) for _ in range(3))
    out = hamming_attention(q, k, v)
    ref = hamming_attention_naive(q, k, v)
    assert out.dtype == ref.dtype and out.shape == ref.shape
    assert torch.equal(out, ref)
    # the literal definition, one query at a time: the naive form is right
    i = shape[-2] // 2
    sim = (2 * q[..., i:i + 1, :] - 1) @ (2 * k - 1).transpose(-2, -1)
    torch.testing.assert_close(out[..., i:i + 1, :], sim @ v, rtol=0,
                               atol=0)


def test_forward_bit_for_bit_at_t32_width():
    # T = 32 joint tokens (196 per frame), 2 heads: integer sums up to ~2^17
    gen = torch.Generator().manual_seed(1)
    q, k, v = (_spikes((1, 2, 196 * 32, 32), 2, torch.float32, gen)
               for _ in range(3))
    assert torch.equal(hamming_attention(q, k, v),
                       hamming_attention_naive(q, k, v))


def test_broadcast_batch_dims_and_non_contiguous_inputs():
    gen = torch.Generator().manual_seed(2)
    q = _spikes((3, 9, 2, 4), 2, torch.float32, gen).transpose(1, 2)
    k = _spikes((1, 2, 9, 4), 2, torch.float32, gen)
    v = _spikes((3, 2, 4, 9), 3, torch.float32, gen).transpose(-1, -2)
    assert torch.equal(hamming_attention(q, k, v),
                       hamming_attention_naive(q, k, v))


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_matches_literal_form(dtype):
    # half types round integer sums > 2^8: both take the literal form, so
    # the numbers stay those of the naive product even where it rounds
    gen = torch.Generator().manual_seed(3)
    q, k, v = (_spikes((1, 2, 300, 16), 2, dtype, gen) for _ in range(3))
    assert torch.equal(hamming_attention(q, k, v),
                       hamming_attention_naive(q, k, v))


@pytest.mark.parametrize('high', [2, 4])
def test_backward_matches_naive(high):
    gen = torch.Generator().manual_seed(4 + high)
    shape = (2, 3, 33, 8)
    inputs = [_spikes(shape, high, torch.float32, gen).requires_grad_()
              for _ in range(3)]
    # integer upstream gradients: every sum is exact, so bit for bit
    g = torch.randint(-3, 4, shape, generator=gen).float()
    fast = torch.autograd.grad(hamming_attention(*inputs), inputs, g)
    ref = torch.autograd.grad(hamming_attention_naive(*inputs), inputs, g)
    for a, b in zip(fast, ref):
        assert torch.equal(a, b)
    # float upstream gradients: equal up to summation order (float32
    # rounding of sums as large as the largest entry)
    g = torch.randn(shape, generator=gen)
    fast = torch.autograd.grad(hamming_attention(*inputs), inputs, g)
    ref = torch.autograd.grad(hamming_attention_naive(*inputs), inputs, g)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=0,
                                   atol=1e-6 * b.abs().max().item())


def test_no_token_sized_temporary_is_saved_for_backward():
    # the literal form saves 2q-1 and 2k-1 (N x d each) for backward; the
    # fast form saves only its inputs (alive anyway) and d x d matrices
    shape = (1, 2, 64, 4)
    inputs = [torch.ones(shape, requires_grad=True) for _ in range(3)]
    ids = {t.data_ptr() for t in inputs}

    def saved_token_sized(fn):
        big = []

        def pack(t):
            if t.numel() >= 64 * 4 and t.data_ptr() not in ids:
                big.append(tuple(t.shape))
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            fn(*inputs)
        return big

    assert len(saved_token_sized(hamming_attention_naive)) == 2
    assert saved_token_sized(hamming_attention) == []


def test_module_numbers_unchanged_with_and_without_compact_storage():
    gen = torch.Generator().manual_seed(5)
    attn = SpikeLinearAttention('hamming', scale=0.125)
    q, k, v = (_spikes((1, 2, 20, 8), 2, torch.float32, gen)
               for _ in range(3))
    assert torch.equal(attn(q, k, v),
                       hamming_attention_naive(q, k, v) * 0.125)


def test_gradcheck_with_broadcast_batch_dims():
    # the formula holds for any real inputs, so gradcheck may use them
    gen = torch.Generator().manual_seed(6)
    q = torch.rand(2, 1, 5, 3, generator=gen, dtype=torch.float64)
    k = torch.rand(1, 2, 5, 3, generator=gen, dtype=torch.float64)
    v = torch.rand(2, 2, 5, 4, generator=gen, dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (q, k, v)]
    assert torch.autograd.gradcheck(hamming_attention, inputs)
    torch.testing.assert_close(hamming_attention(*inputs),
                               hamming_attention_naive(*inputs))
