# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.Lamb against the LAMB update written out by hand."""
import math

import pytest
import torch

from mmsvf.engine.optimizers import Lamb


def reference_step(p, g, lr, wd, max_norm, eps=1e-6, b1=0.9, b2=0.999,
                   trust_clip=False):
    """First LAMB step for one parameter (m, v start at 0)."""
    norm = g.norm()
    g = g / max(norm / max_norm, 1.0) if max_norm else g
    m = (1 - b1) * g / (1 - b1)  # bias-corrected
    v = (1 - b2) * g * g / (1 - b2)
    u = m / (v.sqrt() + eps) + wd * p
    if wd == 0:
        return p - lr * u
    ratio = p.norm() / u.norm()
    if trust_clip:
        ratio = min(ratio, 1.0)
    return p - lr * ratio * u


@pytest.mark.parametrize('wd,max_norm,trust_clip', [
    (0.05, 1.0, False), (0.05, 1.0, True), (0.0, 1.0, False),
    (0.3, None, False)])
def test_first_step_matches_formula(wd, max_norm, trust_clip):
    p0 = torch.tensor([3.0, -4.0, 0.5], dtype=torch.float64)
    g = torch.tensor([1.0, 2.0, -0.25], dtype=torch.float64)
    p = torch.nn.Parameter(p0.clone())
    p.grad = g.clone()
    opt = Lamb([p], lr=0.1, weight_decay=wd, max_grad_norm=max_norm,
               trust_clip=trust_clip)
    opt.step()
    expected = reference_step(p0, g, 0.1, wd, max_norm,
                              trust_clip=trust_clip)
    torch.testing.assert_close(p.detach(), expected)
    assert opt.param_groups[0]['step'] == 1


def test_global_clip_spans_all_parameters():
    a = torch.nn.Parameter(torch.ones(2))
    b = torch.nn.Parameter(torch.ones(2))
    a.grad = torch.tensor([3.0, 0.0])
    b.grad = torch.tensor([0.0, 4.0])  # global norm 5
    opt = Lamb([a, b], lr=1.0, weight_decay=0.0, max_grad_norm=1.0)
    opt.step()
    g = torch.tensor([0.6, 0.0])  # 3 / 5
    m_hat = g
    v_hat = g * g
    torch.testing.assert_close(a.detach(),
                               1 - m_hat / (v_hat.sqrt() + 1e-6))
    state = opt.state[a]
    torch.testing.assert_close(state['exp_avg'], 0.1 * g)


def test_state_round_trip_and_progress():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    opt = Lamb(model.parameters(), lr=0.05, weight_decay=0.01)

    def loss():
        return (model(x) - y).pow(2).mean()

    first = loss().item()
    for _ in range(30):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < first
    clone = Lamb(torch.nn.Linear(4, 1).parameters(), lr=0.05)
    clone.load_state_dict(opt.state_dict())
    assert clone.param_groups[0]['step'] == 30


def test_invalid_arguments():
    params = [torch.nn.Parameter(torch.ones(1))]
    with pytest.raises(ValueError, match='betas'):
        Lamb(params, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match='max_grad_norm'):
        Lamb(params, max_grad_norm=0)
    with pytest.raises(ValueError, match='lr'):
        Lamb(params, lr=-1)
    assert math.isclose(Lamb(params).defaults['eps'], 1e-6)


def test_registered_in_mmsvf_scope():
    from mmengine.registry import OPTIMIZERS
    assert OPTIMIZERS.get('mmsvf.Lamb') is Lamb
