# Copyright (c) mmsvf contributors. All rights reserved.
"""Carried state for running a spiking model one frame at a time.

A neuron keeps nothing between calls: every forward starts its membrane at
rest. To run a causal model frame by frame, :func:`streaming` lends each
stream-aware sub-module (every :class:`~.modules.SpikingNeuron`, the causal
attention) a slot in one :class:`StreamState`: inside the context the module
reads its state from the slot (its membrane, the running ``KᵀV``), runs its
time steps from there and writes the new state back. Outside the context
nothing changes. The state holds one tensor per module, replaced at every
call, so its size does not depend on how many frames were seen.
"""
import contextlib
from collections import OrderedDict

import torch

__all__ = ['StreamState', 'streaming']


class StreamState:
    """The carried state of a stepped model: one tensor per module.

    Attributes:
        tensors (OrderedDict[str, Tensor]): module name → its state
            (membranes, running sums); a module absent has not run yet or
            carries nothing (e.g. a neuron with ``reset_each_step``).
        frames (int): frames processed so far.
        spec (tuple | None): ``(shape, dtype, device)`` of the first frame;
            later frames must match it.
        extra (dict): free room for owners (e.g. a head's running score
            sum); tensors and tuples of tensors count in :meth:`numel`.
    """

    def __init__(self):
        self.tensors = OrderedDict()
        self.frames = 0
        self.spec = None
        self.extra = {}

    def get(self, key):
        return self.tensors.get(key)

    def set(self, key, value):
        if value is None:
            self.tensors.pop(key, None)
        else:
            self.tensors[key] = value

    def numel(self):
        """Numbers held, over all tensors."""
        return sum(t.numel() for t in self._all())

    def nbytes(self):
        """Bytes held, over all tensors."""
        return sum(t.numel() * t.element_size() for t in self._all())

    def _all(self):
        extra = []
        for value in self.extra.values():
            items = value if isinstance(value, (tuple, list)) else [value]
            extra += [t for t in items if isinstance(t, torch.Tensor)]
        return list(self.tensors.values()) + extra

    def detach_(self):
        """Cut every tensor from autograd (for truncated backprop)."""
        for key, value in self.tensors.items():
            self.tensors[key] = value.detach()
        for key, value in self.extra.items():
            if isinstance(value, torch.Tensor):
                self.extra[key] = value.detach()
            elif isinstance(value, tuple):
                self.extra[key] = tuple(
                    t.detach() if isinstance(t, torch.Tensor) else t
                    for t in value)
        return self

    def __repr__(self):
        return (f'{type(self).__name__}(frames={self.frames}, '
                f'tensors={len(self.tensors)}, numel={self.numel()})')


@contextlib.contextmanager
def streaming(model, state, prefix=''):
    """Inside, the stream-aware modules of ``model`` carry ``state``.

    Stream-aware modules are those whose class sets
    ``supports_streaming = True`` (every spiking neuron, the causal
    attention); each is keyed by ``prefix`` + its name in ``model``.

    Args:
        model (nn.Module): the model to run.
        state (StreamState): where the modules keep their state.
        prefix (str): prepended to the keys (to share one state between
            several models, e.g. a backbone and a head).

    Yields:
        StreamState: ``state``.
    """
    lent = []
    try:
        for name, module in model.named_modules():
            if getattr(type(module), 'supports_streaming', False):
                if module.__dict__.get('_stream_slot') is not None:
                    raise RuntimeError(
                        f'module {prefix + name!r} is already streaming '
                        '(nested streaming contexts over one module)')
                module._stream_slot = (state, prefix + name)
                lent.append(module)
        yield state
    finally:
        for module in lent:
            module._stream_slot = None
