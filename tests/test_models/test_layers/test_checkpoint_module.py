# Copyright (c) mmsvf contributors. All rights reserved.
"""checkpoint_module: recomputation that leaves BatchNorm statistics and
gradients bitwise equal to the plain run."""
import torch
import torch.utils.checkpoint as cp
from torch import nn

from mmsvf.models.layers import MSConvBlock, RepConv
from mmsvf.models.layers.checkpoint import checkpoint_module
from mmsvf.models.neurons import LIF


def test_checkpoint_module_restores_bn_stats_where_plain_checkpoint_fails():
    """Plain ``torch.utils.checkpoint`` updates the running statistics twice
    (and BNAndPad reads them); :func:`checkpoint_module` does not."""
    torch.manual_seed(0)
    block = nn.Sequential(LIF(), nn.Flatten(0, 1), RepConv(8, 8),
                          nn.BatchNorm2d(8)).train()
    x = torch.randn(2, 2, 8, 6, 6) * 3
    g = torch.linspace(-1, 1, 4 * 8 * 6 * 6).view(4, 8, 6, 6)
    state = {k: v.clone() for k, v in block.state_dict().items()}

    def run(fn):
        block.load_state_dict(state)
        block.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_()
        fn(xi).backward(g)
        return ([xi.grad] + [p.grad.clone() for p in block.parameters()],
                [b.clone() for b in block.buffers()])

    ref_grads, ref_bufs = run(block)
    ok_grads, ok_bufs = run(
        lambda t: checkpoint_module(block, block, t))
    bad_grads, bad_bufs = run(
        lambda t: cp.checkpoint(block, t, use_reentrant=False))
    assert all(torch.equal(a, b) for a, b in zip(ref_grads, ok_grads))
    assert all(torch.equal(a, b) for a, b in zip(ref_bufs, ok_bufs))
    # the failure this guards against is real
    assert not all(torch.equal(a, b) for a, b in zip(ref_bufs, bad_bufs))
    assert not all(torch.equal(a, b) for a, b in zip(ref_grads, bad_grads))


def test_checkpoint_module_skips_eval_and_no_grad():
    block = MSConvBlock(8, neuron=dict(type='LIF')).eval()
    x = torch.randn(2, 1, 8, 4, 4)
    with torch.no_grad():
        y0 = block(x)
        y1 = checkpoint_module(block, block, x)
    assert torch.equal(y0, y1)
    y2 = checkpoint_module(block, block, x.requires_grad_())
    assert torch.equal(y0, y2.detach())
