# Copyright (c) mmsvf contributors. All rights reserved.
"""Activation checkpointing that leaves BatchNorm statistics untouched.

``torch.utils.checkpoint`` re-runs a block's forward during backward. Spiking
neurons recompute exactly (no state, no randomness), but a BatchNorm layer in
training mode updates ``running_mean`` / ``running_var`` /
``num_batches_tracked`` a second time, and :class:`~mmsvf.models.layers.
BNAndPad` even *reads* the running statistics to pad its output, so a second
update would also change the recomputed activations, hence the gradients.

:func:`checkpoint_module` wraps the block with two context managers
(``context_fn`` of the non-reentrant checkpoint):

* around the original forward: snapshot the module's buffers before it runs;
* around the recomputation: put that snapshot back, let the recomputation
  update the buffers exactly as the original forward did (so every
  recomputed activation — including BNAndPad's padding — is bitwise the
  original), then restore the buffers the model had when backward started.

After a checkpointed step the running statistics therefore equal those of the
plain step, and so do the gradients.
"""
import contextlib

import torch
import torch.utils.checkpoint as cp
from torch import nn

__all__ = ['checkpoint_module']


def _buffers(module):
    return [b for b in module.buffers() if b is not None]


class _BufferState:
    """Buffer snapshots of one checkpointed call."""

    def __init__(self, module):
        self.module = module
        self.before = None

    @contextlib.contextmanager
    def forward_ctx(self):
        if self.module.training:
            with torch.no_grad():
                self.before = [b.clone() for b in _buffers(self.module)]
        yield

    @contextlib.contextmanager
    def recompute_ctx(self):
        if self.before is None:
            yield
            return
        bufs = _buffers(self.module)
        with torch.no_grad():
            current = [b.clone() for b in bufs]
            for b, s in zip(bufs, self.before):
                b.copy_(s)
        try:
            yield
        finally:
            with torch.no_grad():
                for b, s in zip(bufs, current):
                    b.copy_(s)


def checkpoint_module(module: nn.Module, fn, *args, enabled: bool = True):
    """Run ``fn(*args)`` (the forward of ``module``) with recomputation.

    Only the inputs are kept; everything ``fn`` saves for backward is
    recomputed when backward reaches it, with ``module``'s buffers (BatchNorm
    running statistics) handled as described in the module docstring.
    Falls back to a plain call when ``enabled`` is False or grad is off.

    Args:
        module (nn.Module): the module whose buffers ``fn`` may update.
        fn (callable): the forward to run, usually ``module.forward`` or an
            inner function of it.
        *args: the inputs of ``fn``.
        enabled (bool): checkpoint at all.

    Returns:
        Whatever ``fn`` returns.
    """
    if not (enabled and torch.is_grad_enabled()):
        return fn(*args)
    state = _BufferState(module)
    # the recomputation is deterministic (no randomness in the blocks, BN
    # state restored), so torch's per-tensor metadata check is skipped
    return cp.checkpoint(
        fn, *args, use_reentrant=False, determinism_check='none',
        context_fn=lambda: (state.forward_ctx(), state.recompute_ctx()))
