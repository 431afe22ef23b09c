# Copyright (c) mmsvf contributors. All rights reserved.
"""Surrogate spike functions: Heaviside forward, smooth derivative backward.

Each surrogate is a :class:`torch.autograd.Function` that owns its backward and
has a closed-form ``derivative(x, alpha)`` used by the fused neuron kernels.
The formulas (including the order of floating-point operations) follow
SpikingJelly 0.0.0.0.12 ``surrogate.Sigmoid`` / ``surrogate.ATan`` so spikes and
gradients match it bit for bit.
"""
import math

import torch

__all__ = ['SigmoidSurrogate', 'ATanSurrogate', 'SURROGATES', 'heaviside',
           'get_surrogate']


def heaviside(x):
    """``Θ(x)``: 1 where ``x >= 0`` else 0, in ``x``'s dtype."""
    return (x >= 0).to(x.dtype)


class SigmoidSurrogate(torch.autograd.Function):
    """Θ(x) forward; ``α·σ(αx)·(1−σ(αx))`` backward (default α = 4)."""

    default_alpha = 4.0

    @staticmethod
    def derivative(x, alpha):
        sgax = (x * alpha).sigmoid_()
        return (1. - sgax) * sgax * alpha

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        sgax = (x * ctx.alpha).sigmoid_()
        return grad_output * (1. - sgax) * sgax * ctx.alpha, None


class ATanSurrogate(torch.autograd.Function):
    """Θ(x) forward; ``(α/2) / (1 + (π/2·α·x)²)`` backward (default α = 2)."""

    default_alpha = 2.0

    @staticmethod
    def derivative(x, alpha):
        return alpha / 2 / (1 + (math.pi / 2 * alpha * x).pow_(2))

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        alpha = ctx.alpha
        return alpha / 2 / (1 + (math.pi / 2 * alpha * x).pow_(2)) \
            * grad_output, None


SURROGATES = {'sigmoid': SigmoidSurrogate, 'atan': ATanSurrogate}


def get_surrogate(name):
    """Return the surrogate class registered under ``name``."""
    try:
        return SURROGATES[name]
    except KeyError:
        raise ValueError(f'unknown surrogate {name!r}; expected one of '
                         f'{sorted(SURROGATES)}') from None
