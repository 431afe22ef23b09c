# Copyright (c) mmsvf contributors. All rights reserved.
"""The one ``torch.compile`` cache of mmsvf's models.

Compiled functions are cached per (function, options): the fused neuron
scans of the ``'inductor'`` backend and the blocks of
``SpikeVideoFormer(compile_blocks=...)`` share it, so each is compiled once
per process however many modules use it.
"""
import torch

__all__ = ['compiled_function']

_COMPILED = {}


def compiled_function(fn, compile_cfg=None):
    """``torch.compile(fn, **compile_cfg)``, cached per function and options.

    Pass *unbound* functions (``MSConvBlock.forward``, not
    ``block.forward``) and the module as first argument at call time: one
    compiled graph then serves every module of the same shape, and a deep
    copy of a model (EMA) never calls into the original's modules.

    Args:
        fn (callable): a plain function (not a bound method of one module).
        compile_cfg (dict | None): ``torch.compile`` keyword arguments.

    Returns:
        callable: the compiled function (the same object for equal
        arguments).
    """
    compile_cfg = dict(compile_cfg or {})
    key = (fn, repr(sorted(compile_cfg.items())))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(fn, **compile_cfg)
    return _COMPILED[key]

