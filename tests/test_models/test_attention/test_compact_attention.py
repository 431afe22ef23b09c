# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeLinearAttention with compact spike storage: identical gradients."""
import pytest
import torch

from mmsvf.models.attention import SpikeLinearAttention
from mmsvf.models.neurons import LIF, mark_spikes


@pytest.mark.parametrize('similarity', ['hamming', 'dot'])
def test_compact_attention_identical_gradients(similarity):
    x = torch.randn(3, 2, 2, 40, 8) * 3
    results = []
    for compact in (False, True):
        att = SpikeLinearAttention(similarity, scale=0.1)
        att.compact_spikes = compact
        xs = [x[i].clone().requires_grad_() for i in range(3)]
        q, k, v = (mark_spikes(LIF()(t)) for t in xs)
        y = att(q, k, v)
        y.backward(torch.linspace(-1, 1, y.numel()).view_as(y))
        results.append([y.detach()] + [t.grad for t in xs])
    for a, b in zip(*results):
        assert torch.equal(a, b)
