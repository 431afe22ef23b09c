# Copyright (c) mmsvf contributors. All rights reserved.
"""Surrogate spike functions: Heaviside forward, smooth derivative backward.

Each surrogate is a :class:`torch.autograd.Function` defined by one
closed-form ``derivative(x, alpha, grad_output=None)``: its own backward and
the fused neuron scans both call it. The formulas (including the order of
floating-point operations) follow SpikingJelly 0.0.0.0.12
``surrogate.Sigmoid`` / ``surrogate.ATan``, so spikes and gradients match it
bit for bit.
"""
import math

import torch

__all__ = ['SurrogateSpike', 'SigmoidSurrogate', 'ATanSurrogate',
           'SURROGATES', 'heaviside', 'get_surrogate']


def heaviside(x):
    """``Θ(x)``: 1 where ``x >= 0`` else 0, in ``x``'s dtype."""
    return (x >= 0).to(x.dtype)


class SurrogateSpike(torch.autograd.Function):
    """``Θ(x)`` forward, ``grad_output · derivative(x, alpha)`` backward.

    Subclasses define ``default_alpha`` and the static
    ``derivative(x, alpha, grad_output=None)``; with ``grad_output`` it
    returns the product in SpikingJelly's order of operations (so the
    reference path is bitwise SpikingJelly's), without it the bare
    derivative (for the fused scans, which combine it with other terms).
    """

    default_alpha = None

    @staticmethod
    def derivative(x, alpha, grad_output=None):
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @classmethod
    def backward(cls, ctx, grad_output):
        x, = ctx.saved_tensors
        return cls.derivative(x, ctx.alpha, grad_output), None


class SigmoidSurrogate(SurrogateSpike):
    """Θ(x) forward; ``α·σ(αx)·(1−σ(αx))`` backward (default α = 4)."""

    default_alpha = 4.0

    @staticmethod
    def derivative(x, alpha, grad_output=None):
        sgax = (x * alpha).sigmoid_()
        d = 1. - sgax
        if grad_output is not None:
            d = grad_output * d  # SpikingJelly: g * (1 - s) * s * alpha
        return d * sgax * alpha


class ATanSurrogate(SurrogateSpike):
    """Θ(x) forward; ``(α/2) / (1 + (π/2·α·x)²)`` backward (default α = 2)."""

    default_alpha = 2.0

    @staticmethod
    def derivative(x, alpha, grad_output=None):
        d = alpha / 2 / (1 + (math.pi / 2 * alpha * x).pow_(2))
        # SpikingJelly multiplies by the upstream gradient last
        return d if grad_output is None else d * grad_output


SURROGATES = {'sigmoid': SigmoidSurrogate, 'atan': ATanSurrogate}


def get_surrogate(name):
    """Return the surrogate class registered under ``name``."""
    try:
        return SURROGATES[name]
    except (KeyError, TypeError):
        raise ValueError(f'unknown surrogate {name!r}; expected one of '
                         f'{sorted(SURROGATES)}') from None
