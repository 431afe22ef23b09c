# Copyright (c) mmsvf contributors. All rights reserved.
"""Weight loading that fails loudly instead of loading the wrong weights.

mmengine loads every checkpoint non-strictly: a checkpoint of another
architecture (``tools/test.py``, ``load_from``, ``--resume``) or an
``init_cfg=dict(type='Pretrained')`` whose keys do not fit logs one warning
line per mismatching tensor and then runs on random weights. Here the same
loads are checked first:

* the file itself: missing, empty, text or not a ``torch.save`` file, a
  truncated archive, or no state dict inside, is a
  :class:`CheckpointLoadError` naming the file;
* the keys: a tensor whose shape differs, a model tensor the checkpoint lacks,
  a checkpoint tensor the model lacks, is a :class:`CheckpointMismatchError`
  naming the file and the first mismatching keys. A checkpoint that matches
  none of the keys is refused even when partial loading is allowed.

Where the checks apply, and how to allow partial loading (fine-tuning from a
model with another head, say):

* the tools' runner (:func:`install_checked_loading`): the checkpoint of
  ``tools/test.py``, ``load_from`` and ``--resume``; partial loading with
  ``--non-strict`` (train.py, test.py) or ``load_strict = False`` in the
  config;
* ``init_cfg=dict(type='Pretrained', ...)`` inside the tools: partial loading
  with ``strict=False`` in that init_cfg (or the run's ``load_strict``);
* ``init_cfg`` elsewhere: mmengine's behaviour unless the init_cfg sets
  ``strict``.

``init_cfg`` with ``prefix`` (e.g. ``'backbone.'``) must match its module
exactly; without ``prefix``, checkpoint keys outside the module (a classifier
next to the backbone weights) are ignored with a warning.

Files are read through mmengine's ``CheckpointLoader`` (URLs, ``open-mmlab://``
and the safe ``weights_only`` loading of :mod:`mmsvf.compat` included), so
every checkpoint that loaded before and fits its model still loads.
"""
import contextlib
import contextvars
import logging
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from mmsvf.utils.checkpoint import UnsafeCheckpointError

__all__ = [
    'CheckpointLoadError', 'CheckpointMismatchError', 'check_checkpoint_file',
    'read_checkpoint', 'checkpoint_state_dict', 'StateDictDiff',
    'compare_state_dict', 'check_state_dict', 'load_checked',
    'strict_loading', 'CheckedPretrainedInit', 'install_checked_loading',
    'RUNNER_SWITCH', 'INIT_CFG_SWITCH'
]

#: how to allow partial loading, named in the runner's errors
RUNNER_SWITCH = ('pass --non-strict to tools/train.py / tools/test.py, or '
                 'set `load_strict = False` in the config')
#: the same for an init_cfg
INIT_CFG_SWITCH = 'add strict=False to this init_cfg'
#: mmengine's default ``revise_keys``: DDP's ``module.`` prefix
DEFAULT_REVISE_KEYS = [(r'^module\.', '')]
#: keys listed per kind of mismatch in an error
MAX_LISTED = 5

#: the tools' default strictness for ``init_cfg`` Pretrained (None: mmengine)
_STRICT = contextvars.ContextVar('mmsvf_strict_loading', default=None)


class CheckpointLoadError(RuntimeError):
    """A checkpoint file that cannot be read as a checkpoint."""


class CheckpointMismatchError(CheckpointLoadError):
    """A checkpoint whose tensors do not fit the model."""


# --------------------------------------------------------------------------
# the file
# --------------------------------------------------------------------------
def _is_local(filename: str) -> bool:
    return '://' not in str(filename)


def check_checkpoint_file(filename: str) -> None:
    """Refuse a local file that cannot be a checkpoint, before unpickling.

    ``torch.save`` writes a zip archive (``PK\\x03\\x04``) or, in the legacy
    format, a pickle (first byte ``\\x80``); ``.safetensors`` files start with
    an 8-byte header length and ``{``. Anything else (an empty file, a text
    file, an HTML error page saved as ``.pth``) would fail deep inside
    unpickling with ``EOFError`` or ``KeyError: 101``.

    Args:
        filename (str): The checkpoint; URLs are not checked.

    Raises:
        CheckpointLoadError: The file is missing, empty or of another kind.
    """
    if not _is_local(filename):
        return
    path = osp.expanduser(str(filename))
    if not osp.exists(path):
        raise CheckpointLoadError(f'checkpoint file "{filename}" not found')
    if not osp.isfile(path):
        raise CheckpointLoadError(
            f'checkpoint "{filename}" is a directory, not a file')
    with open(path, 'rb') as f:
        head = f.read(32)
    if not head:
        raise CheckpointLoadError(
            f'checkpoint file "{filename}" is empty (0 bytes): an '
            'interrupted download or copy? Expected a file written by '
            'torch.save (e.g. a tools/train.py epoch_N.pth).')
    if path.endswith('.safetensors'):
        if len(head) < 9 or head[8:9] != b'{':
            raise CheckpointLoadError(
                f'checkpoint file "{filename}" is not a safetensors file '
                f'(it starts with {head!r})')
        return
    if head.startswith(b'PK\x03\x04') or head[:1] == b'\x80':
        return
    if head.startswith(b'version https://git-lfs'):
        kind = 'a Git LFS pointer, not the file itself (git lfs pull)'
    elif _looks_like_text(head):
        kind = 'a text file'
    else:
        kind = 'not a checkpoint'
    raise CheckpointLoadError(
        f'checkpoint file "{filename}" is {kind}: it starts with {head!r}. '
        'Expected a file written by torch.save (a zip archive starting with '
        "b'PK', or a legacy pickle) or a .safetensors file.")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:  # (may be a multi-byte character cut short)
        text = head[:-3].decode('utf-8', errors='replace')
    return all(c.isprintable() or c in '\t\r\n' for c in text)


def read_checkpoint(filename: str, map_location='cpu'):
    """Read a checkpoint with mmengine's loaders; errors name the file.

    Args:
        filename (str): Local path or any URL mmengine's ``CheckpointLoader``
            knows.
        map_location: As for :func:`torch.load`.

    Returns:
        dict: The checkpoint.

    Raises:
        CheckpointLoadError: The file is not a readable checkpoint or holds
            no dict.
        UnsafeCheckpointError: The file needs code-running unpickling
            (raised by :mod:`mmsvf.compat`'s loader, unchanged).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    check_checkpoint_file(filename)
    try:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
    except (UnsafeCheckpointError, CheckpointLoadError, FileNotFoundError):
        raise
    except (EOFError, RuntimeError, KeyError, ValueError, OSError,
            pickle.UnpicklingError) as err:
        raise CheckpointLoadError(
            f'cannot read checkpoint file "{filename}": '
            f'{type(err).__name__}: {_first_line(err)}. Is it a complete '
            'file written by torch.save (truncated copy or download?)') \
            from err
    if not isinstance(checkpoint, dict):
        raise CheckpointLoadError(
            f'checkpoint file "{filename}" holds a '
            f'{type(checkpoint).__name__}, not a state dict (a dict of '
            "tensors, or a dict with a 'state_dict' entry)")
    return checkpoint


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else '(no message)'


def checkpoint_state_dict(checkpoint: dict, filename: str = '<checkpoint>',
                          revise_keys=DEFAULT_REVISE_KEYS) -> 'OrderedDict':
    """The state dict of a checkpoint, keys revised as mmengine does.

    Args:
        checkpoint (dict): What :func:`read_checkpoint` returned.
        filename (str): Named in errors.
        revise_keys (list): ``(pattern, replacement)`` pairs applied to every
            key, like mmengine's (default: strip DDP's ``module.``).

    Returns:
        OrderedDict: key -> tensor.

    Raises:
        CheckpointLoadError: No mapping of tensors inside.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        raise CheckpointLoadError(
            f'checkpoint file "{filename}": its state_dict is a '
            f'{type(state_dict).__name__}, not a dict of tensors')
    for pattern, replacement in revise_keys or []:
        state_dict = OrderedDict(
            (re.sub(pattern, replacement, k), v)
            for k, v in state_dict.items())
    if not any(isinstance(v, torch.Tensor) for v in state_dict.values()):
        keys = ', '.join(list(map(str, state_dict))[:MAX_LISTED])
        raise CheckpointLoadError(
            f'checkpoint file "{filename}" holds no tensors (keys: '
            f'{keys or "none"}); expected model weights')
    return OrderedDict(state_dict)


# --------------------------------------------------------------------------
# the keys
# --------------------------------------------------------------------------
class StateDictDiff:
    """How a checkpoint's state dict differs from a model's.

    Attributes:
        missing (list[str]): Model keys the checkpoint lacks (BatchNorm's
            ``num_batches_tracked`` ignored, as mmengine does).
        unexpected (list[str]): Checkpoint keys the model lacks.
        shape (list[tuple]): ``(key, checkpoint shape, model shape)``.
        matched (int): Keys present in both with the same shape.
        num_model (int): Tensors of the model.
        num_checkpoint (int): Tensors of the checkpoint.
    """

    def __init__(self, missing, unexpected, shape, matched, num_model,
                 num_checkpoint):
        self.missing = missing
        self.unexpected = unexpected
        self.shape = shape
        self.matched = matched
        self.num_model = num_model
        self.num_checkpoint = num_checkpoint

    def problems(self, allow_missing=False, allow_unexpected=False):
        """The mismatch lines of an error (empty: the checkpoint fits)."""
        lines = []
        if self.shape:
            shown = '; '.join(
                f'{k}: checkpoint {tuple(a)} vs model {tuple(b)}'
                for k, a, b in self.shape[:MAX_LISTED])
            lines.append(f'{len(self.shape)} tensor(s) differ in shape: '
                         f'{shown}{_more(self.shape)}')
        if self.missing and not allow_missing:
            lines.append(f'{len(self.missing)} model tensor(s) missing from '
                         f'the checkpoint: {_listed(self.missing)}')
        if self.unexpected and not allow_unexpected:
            lines.append(f'{len(self.unexpected)} checkpoint tensor(s) not in '
                         f'the model: {_listed(self.unexpected)}')
        return lines


def _listed(keys: Sequence[str]) -> str:
    return ', '.join(keys[:MAX_LISTED]) + _more(keys)


def _more(seq) -> str:
    return f', ... ({len(seq) - MAX_LISTED} more)' \
        if len(seq) > MAX_LISTED else ''


def compare_state_dict(model: torch.nn.Module,
                       state_dict: Dict[str, torch.Tensor]) -> StateDictDiff:
    """Compare a state dict with ``model.state_dict()`` (keys and shapes)."""
    own = model.state_dict()
    missing = [
        k for k in own
        if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in state_dict if k not in own]
    shape, matched = [], 0
    for key, value in state_dict.items():
        if key not in own or not isinstance(value, torch.Tensor):
            continue
        if tuple(value.shape) != tuple(own[key].shape):
            shape.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            matched += 1
    return StateDictDiff(missing, unexpected, shape, matched, len(own),
                         len(state_dict))


def _prefix_hint(own_keys: Sequence[str],
                 ckpt_keys: Sequence[str]) -> Optional[str]:
    """A prefix that would make the keys meet, as advice."""
    own = set(own_keys)
    for prefix in sorted({k.split('.', 1)[0] + '.' for k in ckpt_keys}):
        if any(k[len(prefix):] in own for k in ckpt_keys
               if k.startswith(prefix)):
            return (f"the checkpoint's keys start with '{prefix}' where the "
                    "model's do not: it holds a larger model; load its "
                    f"'{prefix}' part with init_cfg=dict(type='Pretrained', "
                    f"checkpoint=..., prefix='{prefix}') on the matching "
                    'module')
    for prefix in sorted({k.split('.', 1)[0] + '.' for k in own_keys}):
        if any(prefix + k in own for k in ckpt_keys):
            return (f"the checkpoint's keys lack the model's '{prefix}' "
                    "prefix: an official-layout file (convert it with "
                    'tools/model_converters/spikevideoformer2mmsvf.py or '
                    'metaspikeformer2mmsvf.py) or the weights of one part '
                    "only (load it with init_cfg=dict(type='Pretrained', "
                    f"checkpoint=...) on model.{prefix[:-1]})")
    return None


def check_state_dict(model: torch.nn.Module,
                     state_dict: Dict[str, torch.Tensor],
                     source: str,
                     strict: bool = True,
                     allow_unexpected: bool = False,
                     switch: str = RUNNER_SWITCH,
                     what: str = '') -> StateDictDiff:
    """Raise unless ``state_dict`` fits ``model``.

    Args:
        model (nn.Module): What receives the weights.
        state_dict (dict): The checkpoint's tensors (keys as the model's).
        source (str): The checkpoint file, named in errors.
        strict (bool): Refuse any mismatch. False: refuse only a checkpoint
            of which no tensor fits.
        allow_unexpected (bool): Checkpoint keys the model lacks are not an
            error (they are ignored).
        switch (str): How to allow partial loading, named in errors.
        what (str): Extra context for errors (e.g. which init_cfg).

    Returns:
        StateDictDiff: The comparison.

    Raises:
        CheckpointMismatchError: The checkpoint does not fit.
    """
    diff = compare_state_dict(model, state_dict)
    name = type(model).__name__
    head = (f'checkpoint "{source}"{what} does not fit the model ({name}, '
            f'{diff.num_model} tensors; the checkpoint has '
            f'{diff.num_checkpoint}, {diff.matched} of them fit)')
    if diff.matched == 0 and diff.num_model:
        lines = diff.problems()
        hint = _prefix_hint(list(model.state_dict()), list(state_dict))
        raise CheckpointMismatchError(
            f'{head}: no tensor of the checkpoint fits, so nothing would be '
            'loaded.\n  ' + '\n  '.join(lines) +
            (f'\n  Hint: {hint}.' if hint else '') +
            '\nExpected a checkpoint of this model.')
    lines = diff.problems(allow_unexpected=allow_unexpected)
    if strict and lines:
        raise CheckpointMismatchError(
            f'{head}:\n  ' + '\n  '.join(lines) +
            '\nExpected a checkpoint of this model (same architecture and '
            'number of classes): a checkpoint of another config? To load '
            f'only the tensors that fit (e.g. fine-tuning), {switch}.')
    return diff


def load_checked(model: torch.nn.Module,
                 filename: str,
                 strict: bool = True,
                 map_location='cpu',
                 revise_keys=DEFAULT_REVISE_KEYS,
                 switch: str = '') -> dict:
    """Read ``filename``, check it against ``model`` and load it.

    Args:
        model (nn.Module): Receives the weights (unwrapped, no DDP).
        filename (str): The checkpoint.
        strict (bool): See :func:`check_state_dict`.
        map_location: As for :func:`torch.load`.
        revise_keys (list): See :func:`checkpoint_state_dict`.
        switch (str): How to allow partial loading, named in errors.

    Returns:
        dict: The checkpoint.
    """
    from mmengine.runner.checkpoint import load_state_dict
    checkpoint = read_checkpoint(filename, map_location)
    state_dict = checkpoint_state_dict(checkpoint, filename, revise_keys)
    check_state_dict(model, state_dict, filename, strict=strict,
                     switch=switch or 'load it non-strictly')
    load_state_dict(model, state_dict, strict=False, logger='current')
    return checkpoint


# --------------------------------------------------------------------------
# init_cfg=dict(type='Pretrained', ...)
# --------------------------------------------------------------------------
@contextlib.contextmanager
def strict_loading(strict: bool = True):
    """Default strictness of ``init_cfg`` Pretrained inside the block.

    Outside any block (and with ``strict=None``) Pretrained behaves exactly
    as mmengine's.
    """
    token = _STRICT.set(strict)
    try:
        yield
    finally:
        _STRICT.reset(token)


@WEIGHT_INITIALIZERS.register_module(name='Pretrained', force=True)
class CheckedPretrainedInit(PretrainedInit):
    """mmengine's ``Pretrained`` initialiser, plus a ``strict`` switch.

    Registered under mmengine's name ``'Pretrained'``, so every
    ``init_cfg=dict(type='Pretrained', ...)`` accepts ``strict``.

    Args:
        checkpoint (str): The checkpoint file.
        prefix (str, optional): Load only the keys under this prefix (e.g.
            ``'backbone.'``), stripped of it.
        map_location (str): As for :func:`torch.load`.
        strict (bool, optional): True: the checkpoint must fit the module
            (all of it with ``prefix``; keys outside the module are ignored
            with a warning without ``prefix``); False: load what fits, refuse
            only a checkpoint of which nothing fits. None (default): the
            tools' setting (:func:`strict_loading`, strict unless
            ``load_strict = False``); mmengine's behaviour elsewhere.
    """

    def __init__(self, checkpoint, prefix=None, map_location='cpu',
                 strict=None):
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        if strict is not None and not isinstance(strict, bool):
            raise TypeError(f'init_cfg Pretrained ({checkpoint}): strict must '
                            f'be True or False, got {strict!r}')
        self.strict = strict

    def __call__(self, module):
        strict = self.strict if self.strict is not None else _STRICT.get()
        if strict is None:
            return super().__call__(module)
        from mmengine.runner.checkpoint import load_state_dict
        checkpoint = read_checkpoint(self.checkpoint, self.map_location)
        state_dict = checkpoint_state_dict(checkpoint, self.checkpoint,
                                           revise_keys=None)
        what = (f" (init_cfg Pretrained of {type(module).__name__}"
                f"{', prefix=' + repr(self.prefix) if self.prefix else ''})")
        if self.prefix:
            prefix = self.prefix if self.prefix.endswith('.') \
                else self.prefix + '.'
            sub = OrderedDict((k[len(prefix):], v)
                              for k, v in state_dict.items()
                              if k.startswith(prefix))
            if not sub:
                tops = sorted({k.split('.', 1)[0] + '.' for k in state_dict})
                raise CheckpointMismatchError(
                    f'checkpoint "{self.checkpoint}"{what}: no key starts '
                    f"with '{prefix}'; its keys start with "
                    f'{_listed(tops)}. Expected the prefix under which the '
                    "checkpoint holds this module's weights (e.g. "
                    "'backbone.' for a tools/train.py or converted "
                    'checkpoint), or no prefix for a file of this module '
                    'alone.')
            state_dict = sub
            print_log(f'load {prefix} in model from: {self.checkpoint}',
                      logger='current')
        else:
            print_log(f'load model from: {self.checkpoint}', logger='current')
        diff = check_state_dict(
            module, state_dict, self.checkpoint, strict=strict,
            allow_unexpected=not self.prefix, switch=INIT_CFG_SWITCH,
            what=what)
        if strict and not self.prefix and diff.unexpected:
            print_log(
                f'init_cfg Pretrained of {type(module).__name__}: ignored '
                f'{len(diff.unexpected)} tensor(s) of "{self.checkpoint}" '
                f'that are not in the module: {_listed(diff.unexpected)}',
                logger='current', level=logging.WARNING)
            state_dict = OrderedDict((k, v) for k, v in state_dict.items()
                                     if k not in set(diff.unexpected))
        load_state_dict(module, state_dict, strict=False, logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())


# --------------------------------------------------------------------------
# the tools' runner
# --------------------------------------------------------------------------
def _unwrap(model):
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def _check_training_checkpoint(checkpoint: dict, filename: str) -> None:
    meta = checkpoint.get('meta')
    if not isinstance(meta, dict) or 'epoch' not in meta \
            or 'iter' not in meta or 'message_hub' not in checkpoint:
        raise CheckpointLoadError(
            f'--resume: checkpoint "{filename}" is not a training checkpoint '
            "(no meta epoch/iter or message_hub): it holds weights only, "
            'e.g. a converted or published model. Expected an epoch_N.pth / '
            'iter_N.pth written by tools/train.py. To start a new run from '
            'its weights, use load_from (or init_cfg) instead of --resume.')


def install_checked_loading(runner, default_strict: bool = True):
    """Make a runner's weight loading checked (in place).

    Wraps the instance's ``load_checkpoint`` (``load_from``, the tested
    checkpoint), ``resume`` and ``_init_model_weights`` (``init_cfg``
    Pretrained); see the module docstring.

    Args:
        runner (mmengine.runner.Runner): The runner; attributes it lacks are
            left alone.
        default_strict (bool): False: allow partial loading (the run's
            ``load_strict = False`` / ``--non-strict``).

    Returns:
        The runner.
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    state = dict(resuming=False)

    if hasattr(runner, 'load_checkpoint'):

        def load_checkpoint(filename, map_location='cpu', strict=False,
                            revise_keys=DEFAULT_REVISE_KEYS):
            strict = bool(strict) or default_strict
            checkpoint = read_checkpoint(filename, map_location)
            if state['resuming']:
                _check_training_checkpoint(checkpoint, filename)
            runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
            model = _unwrap(runner.model)
            check_state_dict(
                model, checkpoint_state_dict(checkpoint, filename,
                                             revise_keys),
                filename, strict=strict,
                what=' (--resume)' if state['resuming'] else '')
            _load_checkpoint_to_model(model, checkpoint, False,
                                      revise_keys=revise_keys)
            runner._has_loaded = True
            runner.logger.info(f'Load checkpoint from {filename}')
            return checkpoint

        load_checkpoint.__doc__ = type(runner).load_checkpoint.__doc__
        runner.load_checkpoint = load_checkpoint

    if hasattr(runner, 'resume'):
        original_resume = runner.resume

        def resume(filename, *args, **kwargs):
            state['resuming'] = True
            try:
                return original_resume(filename, *args, **kwargs)
            finally:
                state['resuming'] = False

        runner.resume = resume

    if hasattr(runner, '_init_model_weights'):
        original_init = runner._init_model_weights

        def _init_model_weights():
            with strict_loading(default_strict):
                return original_init()

        runner._init_model_weights = _init_model_weights
    return runner
