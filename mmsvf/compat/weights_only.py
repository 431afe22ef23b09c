# Copyright (c) mmsvf contributors. All rights reserved.
"""torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7 checkpoints
need more.

Broken: ``load_checkpoint``, ``load_from`` and ``resume`` fail with
``UnpicklingError: Weights only load failed``: torch 2.6 made
``weights_only=True`` the default of ``torch.load``, mmengine 0.10.7's
local-file loader does not pass the argument, and the checkpoints mmengine's
Runner writes pickle ``HistoryBuffer`` objects and numpy arrays / scalars.

Detected: torch >= 2.6 and the source of mmengine's
``mmengine.runner.checkpoint.load_from_local`` does not mention
``weights_only``.

Patch: the narrow fix, loading stays ``weights_only=True``. Exactly the
globals mmengine's own checkpoints pickle are allow-listed
(:func:`mmsvf.utils.checkpoint.mmengine_safe_globals`), and mmengine's
local-file loader (``init_cfg=Pretrained``, ``load_from``, ``resume``) is
re-registered so that a refused file raises
:class:`mmsvf.utils.checkpoint.UnsafeCheckpointError` naming the file and
the converter. Third-party pickles that would run code stay refused.
"""
import pickle

__all__ = ['NAME', 'torch_version', 'needed', 'apply']

NAME = 'mmengine-weights-only'


def torch_version():
    """``(major, minor)`` of the installed torch."""
    import torch
    from mmengine.utils import digit_version
    return digit_version(torch.__version__)[:2]


def needed():
    """True when torch defaults to ``weights_only=True`` and mmengine's
    checkpoint loader does not say otherwise."""
    if torch_version() < (2, 6):
        return False
    try:
        import inspect

        from mmengine.runner import checkpoint
        src = inspect.getsource(checkpoint.load_from_local)
    except Exception:  # pragma: no cover - mmengine missing
        return False
    return 'weights_only' not in src


def apply():
    """Allow-list mmengine's globals and wrap its local-file loader."""
    import torch
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmsvf.utils.checkpoint import (
        UnsafeCheckpointError,
        mmengine_safe_globals,
        unpickling_reason,
        unsafe_checkpoint_message,
    )
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    original = CheckpointLoader._schemes.get('')
    if original is None or getattr(original, '__mmsvf_wrapped__', False):
        return

    def load_from_local(filename, map_location):
        try:
            return original(filename, map_location)
        except UnsafeCheckpointError:
            raise
        except pickle.UnpicklingError as err:
            raise UnsafeCheckpointError(
                unsafe_checkpoint_message(filename,
                                          unpickling_reason(err))) from err

    load_from_local.__mmsvf_wrapped__ = True
    load_from_local.__wrapped__ = original
    load_from_local.__doc__ = original.__doc__
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local,
                                     force=True)
