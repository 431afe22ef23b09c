# Copyright (c) mmsvf contributors. All rights reserved.
import pytest
import torch

from mmsvf.models.attention import (
    SpikeLinearAttention,
    dot_attention,
    from_tokens,
    hamming_attention,
    to_tokens,
)


def _spikes(*shape, p=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()


def test_hamming_attention_equals_naive_sum():
    q, k, v = (_spikes(2, 3, 7, 5, seed=s) for s in range(3))
    out = hamming_attention(q, k, v)
    naive = torch.zeros_like(out)
    for i in range(7):
        for j in range(7):
            score = ((2 * q[..., i, :] - 1) * (2 * k[..., j, :] - 1)).sum(-1)
            naive[..., i, :] += score[..., None] * v[..., j, :]
    assert out.shape == (2, 3, 7, 5)
    torch.testing.assert_close(out, naive, rtol=0, atol=0)


def test_normalised_hamming_identity_on_vectors():
    # f_H = 1 - d_H / D = 1/2 + (2q-1)·(2k-1) / (2D)
    D = 16
    for seed in range(5):
        q, k = _spikes(D, seed=seed), _spikes(D, seed=seed + 10)
        f_h = 1 - (q != k).sum().item() / D
        via_pm1 = 0.5 + ((2 * q - 1) @ (2 * k - 1)).item() / (2 * D)
        assert f_h == pytest.approx(via_pm1)


def test_dot_mode_is_q_ktv_times_0125():
    q, k, v = (_spikes(2, 4, 9, 6, seed=s) for s in range(3))
    attn = SpikeLinearAttention('dot', 0.125)
    expected = ((q @ k.transpose(-2, -1)) @ v) * 0.125
    torch.testing.assert_close(attn(q, k, v), expected)
    torch.testing.assert_close(dot_attention(q, k, v), expected / 0.125)


def test_linear_order_never_forms_token_by_token_matrix():
    # N = 300k tokens: an N x N float matrix would need 360 GB.
    q, k, v = (_spikes(1, 1, 300_000, 4, seed=s) for s in range(3))
    out = hamming_attention(q, k, v)
    assert out.shape == (1, 1, 300_000, 4)
    kv = (2 * k - 1)[0, 0].T @ v[0, 0]
    torch.testing.assert_close(out[0, 0, :5], (2 * q - 1)[0, 0, :5] @ kv)


def test_attention_runs_in_float32_under_bf16_autocast():
    # integer sums over many tokens must not be rounded by bf16
    q, k, v = (_spikes(1, 1, 4096, 8, p=0.5, seed=s) for s in range(3))
    attn = SpikeLinearAttention('hamming', 1.0)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = attn(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert out.dtype == torch.bfloat16
    exact = hamming_attention(q.double(), k.double(), v.double())
    # only the final cast to bf16 rounds
    torch.testing.assert_close(out.double(), exact.bfloat16().double())


def test_unknown_similarity_is_rejected():
    with pytest.raises(ValueError, match='hamming'):
        SpikeLinearAttention('cosine')


@pytest.mark.parametrize('axis', ['joint', 'spatial', 'temporal'])
def test_token_layouts_round_trip_and_group_heads(axis):
    T, B, C, H, W, M = 3, 2, 8, 2, 4, 2
    x = torch.randn(T, B, C, H, W)
    tokens = to_tokens(x, axis, M)
    torch.testing.assert_close(from_tokens(tokens, axis, x.shape), x)
    d = C // M
    # head m holds channels m*d .. m*d+d-1
    if axis == 'joint':
        assert tokens.shape == (B, M, T * H * W, d)
        # token index t*H*W + h*W + w
        t, h, w = 2, 1, 3
        torch.testing.assert_close(tokens[1, 1, t * H * W + h * W + w],
                                   x[t, 1, d:2 * d, h, w])
    elif axis == 'spatial':
        assert tokens.shape == (T * B, M, H * W, d)
    else:
        assert tokens.shape == (B * H * W, M, T, d)
        torch.testing.assert_close(tokens[1 * H * W + 1 * W + 2, 0, :, :],
                                   x[:, 1, :d, 1, 2])
