# Copyright (c) mmsvf contributors. All rights reserved.
"""Safe checkpoint loading and saving: the one place mmsvf unpickles.

Loading never runs code named by a file unless the user says so:

- :func:`load_checkpoint_file` reads with ``torch.load(weights_only=True)``
  plus :class:`argparse.Namespace` (what the official Meta-SpikeFormer /
  SpikeVideoFormer training scripts pickle next to the weights) and refuses
  anything else with :class:`UnsafeCheckpointError`; ``unsafe=True`` (the
  converters' ``--unsafe-load``) lifts that for a file the user trusts.
- :func:`mmengine_safe_globals` lists exactly the non-tensor globals
  mmengine's own training checkpoints pickle; :mod:`mmsvf.compat.weights_only`
  allow-lists them for every ``torch.load`` and makes mmengine's loader raise
  :class:`UnsafeCheckpointError` with :func:`unsafe_checkpoint_message`.

Saving goes through :func:`mmsvf.utils.fileio.atomic_torch_save`, so a crash
never leaves a truncated checkpoint.
"""
import argparse
import hashlib
import os.path as osp
import pickle
import re
import sys
import warnings

import torch

from .fileio import atomic_torch_save

__all__ = [
    'UnsafeCheckpointError', 'DEFAULT_CONVERTER', 'EXTRA_SAFE_GLOBALS',
    'mmengine_safe_globals', 'unsafe_checkpoint_message',
    'unpickling_reason', 'load_checkpoint_file', 'save_checkpoint_atomic',
    'file_sha256'
]

#: the converter named in refusal messages unless told otherwise
DEFAULT_CONVERTER = 'tools/model_converters/spikevideoformer2mmsvf.py'
#: non-tensor globals the official training scripts pickle with the weights
#: (``'args': argparse.Namespace``); harmless to rebuild (no code runs)
EXTRA_SAFE_GLOBALS = (argparse.Namespace, )
#: the only attributes a checkpoint may fetch with ``getattr``
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint whose loading needs arbitrary unpickling was refused."""


def _checkpoint_getattr(obj, name):
    """Stand-in for ``builtins.getattr`` inside ``weights_only`` loads.

    mmengine's ``HistoryBuffer.__getstate__`` pickles its statistics methods,
    which pickle writes as ``getattr(HistoryBuffer, 'min')`` and so on.
    Allow-listing the real ``getattr`` would hand a malicious checkpoint any
    attribute of any allowed object; this accepts exactly those four lookups.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'mmsvf: refusing getattr({obj!r}, {name!r}) while loading a '
        'checkpoint with weights_only=True (only HistoryBuffer statistics '
        'methods are allowed).')


def mmengine_safe_globals():
    """The exact non-tensor globals mmengine's training checkpoints pickle.

    Returns:
        list: classes / functions, plus one ``(function, 'builtins.getattr')``
        pair that maps the pickled ``getattr`` to a stand-in accepting only
        ``HistoryBuffer``'s statistics methods.
    """
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, np.ndarray, np.dtype,
            np.core.multiarray._reconstruct, np.core.multiarray.scalar,
            (_checkpoint_getattr, 'builtins.getattr')]
    # numpy >= 1.25 pickles dtypes by their concrete DType class
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes)
                 if n.endswith('DType')]
    return safe


def unsafe_checkpoint_message(path, reason, converter=DEFAULT_CONVERTER):
    """Why a checkpoint was refused and how to proceed if it is trusted.

    Args:
        path (str): The refused file.
        reason (str): What ``torch.load(weights_only=True)`` objected to.
        converter (str): The converter script to recommend.

    Returns:
        str: The message.
    """
    if 'argparse.Namespace' in reason:
        # what the official Meta-SpikeFormer / SpikeVideoFormer training
        # scripts store next to the weights: the converters read it safely
        return (
            f'Refused to load checkpoint "{path}" directly: it holds an '
            f'argparse.Namespace ({reason.strip()}), as the official '
            'Meta-SpikeFormer / SpikeVideoFormer training scripts save their '
            '`args` next to the weights in the official key layout. mmsvf '
            'models need the converted layout (`backbone.` prefix, '
            '`attn_bn` filled in); the converter reads this file safely '
            '(weights_only=True, Namespace allowed, no --unsafe-load '
            'needed):\n'
            f'    python {converter} "{path}" OUT.pth --task TASK\n'
            'and use OUT.pth in init_cfg / load_from.')
    return (
        f'Refused to load checkpoint "{path}": it is not a plain weights '
        'file. torch.load(weights_only=True) stopped because the pickle '
        f'needs a global that is not a tensor type ({reason.strip()}). '
        'Unpickling it would run code named by the file itself, which can '
        'do anything a Python program can. If you trust the file (e.g. you '
        'downloaded it yourself from the official project), convert it once '
        'with\n'
        f'    python {converter} "{path}" OUT.pth --task TASK '
        '--unsafe-load\n'
        'and use OUT.pth (a plain weights file) in init_cfg / load_from.')


def unpickling_reason(err):
    """The short "Unsupported global: ..." part of a weights-only error."""
    text = str(err)
    match = re.search(r'Unsupported global: GLOBAL [\w.]+', text)
    if match:
        return match.group(0)
    match = re.search(r'(Unsupported global: [^\n]*|Unsupported operand '
                      r'[^\n]*|Unsupported class [^\n]*|'
                      r'Trying to [^\n]*)', text)
    if match:
        return match.group(1).strip().rstrip('.')
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


def load_checkpoint_file(path: str,
                         unsafe: bool = False,
                         converter: str = DEFAULT_CONVERTER):
    """Load a checkpoint from disk, safely unless told otherwise.

    ``.safetensors`` files are read with the ``safetensors`` package (pure
    tensors, never code). Everything else goes through
    ``torch.load(map_location='cpu', weights_only=True)`` with
    :data:`EXTRA_SAFE_GLOBALS` allowed in addition (official V2 checkpoints
    store their training ``args`` as an :class:`argparse.Namespace`).

    Args:
        path (str): The checkpoint file.
        unsafe (bool): Fall back to full unpickling (``weights_only=False``)
            for a file that the safe loader refuses. Only for trusted files:
            it runs whatever code the pickle names. A loud warning is given.
        converter (str): Script named in the refusal message.

    Returns:
        object: What the file holds (usually a dict).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file needs arbitrary unpickling and
            ``unsafe`` is False.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file "{path}" not found')
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
        except ImportError as err:
            raise ImportError(
                f'"{path}" is a .safetensors file; reading it needs the '
                '`safetensors` package (pip install safetensors)') from err
        return load_file(path, device='cpu')
    try:
        with torch.serialization.safe_globals(list(EXTRA_SAFE_GLOBALS)):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = unpickling_reason(err)
        if not unsafe:
            raise UnsafeCheckpointError(
                unsafe_checkpoint_message(path, reason, converter)) from err
        banner = '!' * 78
        message = (
            f'\n{banner}\nUNSAFE LOAD of "{path}": it is not a plain '
            f'weights file ({reason}).\nUnpickling it with '
            'weights_only=False RUNS ANY CODE IT NAMES. Do this only for a '
            f'file you trust.\n{banner}')
        print(message, file=sys.stderr)
        warnings.warn(message, stacklevel=2)
        return torch.load(path, map_location='cpu', weights_only=False)


def save_checkpoint_atomic(obj, path: str) -> None:
    """``torch.save`` to ``path`` without ever leaving a truncated file.

    Built on :func:`mmsvf.utils.fileio.atomic_torch_save`: an existing file
    is only replaced by a complete new one.

    Args:
        obj: What to save.
        path (str): Destination.
    """
    atomic_torch_save(obj, path)


def file_sha256(path: str) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks.

    Args:
        path (str): The file.

    Returns:
        str: 64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()
