# Copyright (c) mmsvf contributors. All rights reserved.
"""The parameters of a LIF neuron, as one immutable object."""
import dataclasses
import math
from typing import Optional

from .surrogate import get_surrogate

__all__ = ['LIFParameters', 'lif_parameters']


@dataclasses.dataclass(frozen=True)
class LIFParameters:
    """Parameters of the multi-step LIF neuron (SpikingJelly 0.0.0.0.12
    ``MultiStepLIFNode`` defaults).

    One frozen (hashable) object travels through the functional core, the
    fused scans and the Numba kernels instead of loose arguments. Values are
    validated and normalised (floats, bools) on construction; derive a
    variant with :meth:`replace`.

    Args:
        tau (float): membrane time constant, > 1. Default 2.0.
        v_threshold (float): firing threshold. Default 1.0.
        v_reset (float | None): hard-reset value (also the resting
            membrane); None = soft reset (subtract the threshold, rest at 0).
            Default 0.0.
        decay_input (bool): charge with ``(X - (V - v_reset)) / tau`` (input
            scaled by ``1/tau``) instead of ``X - (V - v_reset) / tau``.
            Default True.
        detach_reset (bool): no gradient through the reset. Default True.
        surrogate (str): ``'sigmoid'`` or ``'atan'``. Default ``'sigmoid'``.
        alpha (float | None): surrogate sharpness; None = the surrogate's
            default (4.0 for sigmoid, 2.0 for atan), see
            :attr:`surrogate_alpha`.
    """

    tau: float = 2.0
    v_threshold: float = 1.0
    v_reset: Optional[float] = 0.0
    decay_input: bool = True
    detach_reset: bool = True
    surrogate: str = 'sigmoid'
    alpha: Optional[float] = None

    def __post_init__(self):
        tau = _real('tau', self.tau)
        if not tau > 1.0:
            # SpikingJelly asserts it too: tau <= 1 over-corrects the leak
            raise ValueError(f'LIF tau must be > 1, got {self.tau!r}')
        get_surrogate(self.surrogate)
        alpha = None if self.alpha is None else _real('alpha', self.alpha)
        if alpha is not None and not alpha > 0:
            raise ValueError(f'LIF surrogate alpha must be > 0, got '
                             f'{self.alpha!r}')
        v_reset = None if self.v_reset is None else _real(
            'v_reset', self.v_reset)
        set_field = object.__setattr__  # frozen: normalise in place once
        set_field(self, 'tau', tau)
        set_field(self, 'v_threshold', _real('v_threshold',
                                             self.v_threshold))
        set_field(self, 'v_reset', v_reset)
        set_field(self, 'decay_input', bool(self.decay_input))
        set_field(self, 'detach_reset', bool(self.detach_reset))
        set_field(self, 'alpha', alpha)

    @property
    def surrogate_fn(self):
        """The surrogate :class:`torch.autograd.Function` class."""
        return get_surrogate(self.surrogate)

    @property
    def surrogate_alpha(self):
        """The sharpness that runs: ``alpha`` or the surrogate's default."""
        if self.alpha is None:
            return self.surrogate_fn.default_alpha
        return self.alpha

    @property
    def soft_reset(self):
        """True when the reset subtracts the threshold (``v_reset=None``)."""
        return self.v_reset is None

    @property
    def v_rest(self):
        """The membrane at ``t = 0`` and after a hard reset."""
        return 0. if self.v_reset is None else self.v_reset

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def _real(name, value):
    """``value`` as a finite float (Python, numpy or 0-d tensor scalars)."""
    try:
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f'LIF {name} must be a real number, got '
                        f'{value!r}') from None
    if not math.isfinite(value):
        raise ValueError(f'LIF {name} must be finite, got {value!r}')
    return value


def lif_parameters(params=None, **overrides):
    """``params`` with ``overrides`` applied; defaults when None.

    The functional API takes either a :class:`LIFParameters` or its fields
    as keywords (``lif_multistep(x, tau=3.0)``), or both.
    """
    if params is None:
        return LIFParameters(**overrides)
    if not isinstance(params, LIFParameters):
        raise TypeError(f'params must be LIFParameters, got '
                        f'{type(params).__name__}')
    return params.replace(**overrides) if overrides else params
