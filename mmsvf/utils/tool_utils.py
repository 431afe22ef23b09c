# Copyright (c) mmsvf contributors. All rights reserved.
"""What ``tools/train.py``, ``tools/test.py`` and ``tools/analysis`` share.

Besides reading configs and building runners, the checks that turn a silently
wrong run into an early error naming the key or file:

* ``--cfg-options`` (:class:`CfgOptionsAction`, :func:`merge_cfg_options`):
  every ``KEY=VALUE`` item needs its ``=``; ``KEY`` must exist in the config
  (or be one the Runner reads, e.g. ``load_from``), else it is a typo that
  mmengine would accept and ignore; a key meant to be new is marked with a
  leading ``+`` (``+model.backbone.compact_spikes=True``); a number or bool
  entry given a string (``train_cfg.max_epochs=one``) is refused.
* :func:`check_tool_config`: batch sizes, epochs, iterations and intervals
  are positive integers, before any data is read.
* :func:`check_writable`: output files and folders are writable before the
  run, not after the whole test loop.
* :func:`build_runner` makes the runner's weight loading checked
  (:mod:`mmsvf.utils.strict_load`).
"""
import argparse
import copy
import difflib
import os
import os.path as osp
import tempfile
import time
import uuid
from typing import Optional

from mmengine.config import Config, DictAction

from .setup_env import register_all_modules
from .strict_load import install_checked_loading

#: ``--help`` text of ``--cfg-options`` in the tools
CFG_OPTIONS_HELP = (
    'override config entries with KEY=VALUE pairs, e.g. '
    'train_cfg.max_epochs=2 "model.backbone.depths=(2,1)" '
    'custom_hooks.0.priority=40 (list items by index). KEY must exist in '
    'the config (its value may be None) or be a Runner argument such as '
    'load_from or randomness.seed, or an init_cfg of a module '
    '(model.backbone.init_cfg.type=Pretrained); a number or bool entry takes '
    'a number or '
    'True/False. A key the config does not have is refused (a typo would be '
    'ignored silently) unless marked new with a leading "+": '
    '+model.backbone.compact_spikes=True (no checks on "+" items).')

#: top-level keys mmengine's Runner (or the tools) read although a config
#: may leave them out; computed on first use from ``Runner.__init__``
_RUNNER_KEYS = None
_EXTRA_TOP_KEYS = ('model_wrapper_cfg', 'compile', 'runner_type',
                   'custom_imports', 'load_strict')
#: ``train_cfg`` entries that must be positive integers when present
_POSITIVE_LOOP_KEYS = ('max_epochs', 'max_iters', 'val_interval')


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` that refuses an item without ``=``.

    Keys keep a leading ``+`` (see :func:`merge_cfg_options`).
    """

    def __call__(self, parser, namespace, values, option_string=None):
        options = copy.copy(getattr(namespace, self.dest, None) or {})
        for item in values or []:
            key, sep, value = item.partition('=')
            name = key[1:] if key.startswith('+') else key
            if not sep or not name or any(c.isspace() for c in name):
                raise argparse.ArgumentError(
                    self, f'{item!r} is not KEY=VALUE (e.g. '
                    'train_cfg.max_epochs=2; a new key: +KEY=VALUE)')
            options[key] = self._parse_iterable(value)
        setattr(namespace, self.dest, options)


def add_cfg_options_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--cfg-options KEY=VALUE ...`` (:class:`CfgOptionsAction`),
    the same in every tool and demo; merge it with
    :func:`merge_cfg_options` / :func:`load_tool_config`."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        metavar='KEY=VALUE',
        help=CFG_OPTIONS_HELP)


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments every runner-building tool shares.

    ``--cfg-options`` (:func:`add_cfg_options_arg`), ``--launcher`` and
    ``--local_rank`` / ``--local-rank`` (passed by
    ``torch.distributed.launch``); read them back with
    :func:`parse_runner_args`.
    """
    add_cfg_options_arg(parser)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv=None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, then ``LOCAL_RANK`` from
    ``--local-rank`` where the launcher did not set it (mmengine's
    distributed setup reads the variable)."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def runner_keys() -> tuple:
    """Top-level config keys that mmengine's Runner (or the tools) read."""
    global _RUNNER_KEYS
    if _RUNNER_KEYS is None:
        import inspect

        from mmengine.runner import Runner
        params = inspect.signature(Runner.__init__).parameters
        _RUNNER_KEYS = tuple(p for p in params if p not in ('self', 'cfg')) \
            + _EXTRA_TOP_KEYS
    return _RUNNER_KEYS


def _option_problem(cfg: Config, key: str, value) -> Optional[str]:
    """Why ``key=value`` cannot be merged into ``cfg`` (None: it can)."""
    node = cfg._cfg_dict
    parts = key.split('.')
    for i, part in enumerate(parts):
        where = '.'.join(parts[:i])
        if node is None:
            return None  # filling an entry left unset (e.g. init_cfg=None)
        if isinstance(node, dict):
            if part in node:
                node = node[part]
                continue
            if i == 0 and part in runner_keys():
                return None
            if part == 'init_cfg' and 'type' in node:
                return None  # every OpenMMLab module takes an init_cfg
            choices = list(node.keys()) + (list(runner_keys()) if i == 0
                                           else [])
            close = difflib.get_close_matches(part, choices, n=1)
            owner = f'{where!r}' if where else 'the config'
            return (f'{key}: {owner} has no key {part!r}' +
                    (f' (did you mean {close[0]!r}?)' if close else '') +
                    f'. If it is meant to be new, write +{key}=...')
        if isinstance(node, list) and part.isdigit():
            if int(part) >= len(node):
                return (f'{key}: {where!r} has {len(node)} items, no item '
                        f'{part}')
            if i == len(parts) - 1 or not isinstance(node[int(part)], dict):
                return (f'{key}: one item of the list {where!r} cannot be '
                        f'set alone; give the whole list: {where}=[...]')
            node = node[int(part)]
            continue
        return (f'{key}: {where!r} is {node!r} (a {type(node).__name__}), '
                f'which has no entry {part!r}; set {where}=... whole')
    return _type_problem(key, node, value)


def _type_problem(key: str, old, new) -> Optional[str]:
    if old is None or new is None:
        return None
    if isinstance(old, bool):
        if not isinstance(new, bool):
            return (f'{key}={new!r}: the config has a bool there ({old}); '
                    'expected True or False')
    elif isinstance(old, (int, float)):
        if isinstance(new, (str, bool)):
            kind = 'an integer' if isinstance(old, int) else 'a number'
            return (f'{key}={new!r}: the config has {kind} there ({old!r}); '
                    f'{new!r} is not a number')
    return None


def merge_cfg_options(cfg: Config, options: Optional[dict],
                      source: str = 'the config') -> Config:
    """Check ``--cfg-options`` against ``cfg``, then merge them (in place).

    Args:
        cfg (Config): The loaded config.
        options (dict | None): ``KEY -> value`` from :class:`CfgOptionsAction`
            (or mmengine's ``DictAction``); a key with a leading ``+`` may be
            new and is not checked.
        source (str): The config file, named in errors.

    Returns:
        Config: ``cfg``.

    Raises:
        SystemExit: Unknown keys or values of the wrong type, all listed.
    """
    if not options:
        return cfg
    merged, problems = {}, []
    for key, value in options.items():
        if key.startswith('+'):
            merged[key[1:]] = value
            continue
        problem = _option_problem(cfg, key, value)
        if problem:
            problems.append(problem)
        merged[key] = value
    if problems:
        raise SystemExit(f'--cfg-options do not fit {source}:\n  ' +
                         '\n  '.join(problems))
    for key in merged:
        _none_to_dict(cfg, key)
    cfg.merge_from_dict(merged)
    return cfg


def _none_to_dict(cfg: Config, key: str) -> None:
    """Let ``a.b=1`` fill an entry ``a=None`` (mmengine refuses to merge a
    dict into None): the None becomes an empty dict first."""
    parts = key.split('.')
    node = cfg._cfg_dict
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() \
                and int(part) < len(node):
            nxt = node[int(part)]
        elif isinstance(node, dict) and part in node:
            nxt = node[part]
            if nxt is None:
                node[part] = type(node)()
                return
        else:
            return
        node = nxt


def check_tool_config(cfg: Config, source: str = 'the config') -> None:
    """Refuse values that would fail late or run nonsense.

    Batch sizes (``*_dataloader.batch_size``), ``num_workers`` and
    ``train_cfg``'s ``max_epochs`` / ``max_iters`` / ``val_interval`` must be
    integers (positive; ``num_workers`` >= 0); ``load_strict`` a bool.

    Raises:
        SystemExit: Naming the key and the value found.
    """
    problems = []

    def integer(key, value, low):
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < low:
            what = 'a positive integer' if low > 0 else 'an integer >= 0'
            problems.append(f'{key} = {value!r}: expected {what}')

    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name, None)
        if not isinstance(loader, dict):
            continue
        if 'batch_size' in loader:
            integer(f'{name}.batch_size', loader['batch_size'], 1)
        if 'num_workers' in loader:
            integer(f'{name}.num_workers', loader['num_workers'], 0)
    train_cfg = cfg.get('train_cfg', None)
    if isinstance(train_cfg, dict):
        for key in _POSITIVE_LOOP_KEYS:
            if key in train_cfg:
                integer(f'train_cfg.{key}', train_cfg[key], 1)
    strict = cfg.get('load_strict', True)
    if not isinstance(strict, bool):
        problems.append(f'load_strict = {strict!r}: expected True or False')
    if problems:
        raise SystemExit(f'{source} (with --cfg-options):\n  ' +
                         '\n  '.join(problems))


def check_checkpoint_files(cfg: Config) -> None:
    """Check the local checkpoint files a config names, before the run.

    ``load_from`` and every ``init_cfg=dict(type='Pretrained', ...)`` under
    ``model``: missing, empty, text or non-checkpoint files are refused with
    the config key (:func:`mmsvf.utils.strict_load.check_checkpoint_file`).
    Whether their tensors fit is checked when they are loaded.

    Raises:
        SystemExit: Naming the key and the file.
    """
    from .strict_load import CheckpointLoadError, check_checkpoint_file
    files = []
    if cfg.get('load_from', None):
        files.append(('--resume' if cfg.get('resume', False) is True else
                      'load_from', cfg.load_from))

    def walk(node, where):
        if isinstance(node, dict):
            init = node.get('init_cfg', None)
            for i, item in enumerate(init if isinstance(init, list)
                                     else [init]):
                if isinstance(item, dict) and item.get('type') == \
                        'Pretrained' and item.get('checkpoint'):
                    key = f'{where}.init_cfg' + (
                        f'.{i}' if isinstance(init, list) else '')
                    files.append((f'{key}.checkpoint', item['checkpoint']))
            for name, value in node.items():
                if name != 'init_cfg':
                    walk(value, f'{where}.{name}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f'{where}.{i}')

    walk(cfg.get('model', None), 'model')
    for key, path in files:
        try:
            check_checkpoint_file(str(path))
        except CheckpointLoadError as err:
            raise SystemExit(f'{key}: {err}') from err


def check_writable(path: str, what: str, is_dir: bool = False) -> None:
    """Make sure an output can be written, before the run starts.

    The nearest existing folder on the way to ``path`` must be a folder that
    accepts files (a probe file is created and removed there); nothing else
    is created.

    Args:
        path (str): The output file or folder.
        what (str): The option naming it (e.g. ``'--dump'``), for errors.
        is_dir (bool): ``path`` is a folder.

    Raises:
        SystemExit: The output cannot be written, naming it and why.
    """
    path = osp.abspath(osp.expanduser(path))
    if osp.exists(path):
        if is_dir and not osp.isdir(path):
            raise SystemExit(f'{what} {path}: is a file; expected a folder')
        if not is_dir and osp.isdir(path):
            raise SystemExit(f'{what} {path}: is a folder; expected a file')
    existing = path if is_dir else osp.dirname(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    try:
        if not osp.isdir(existing):
            raise NotADirectoryError(f'{existing} is a file, not a folder')
        with tempfile.TemporaryFile(dir=existing, prefix='.mmsvf-probe-'):
            pass
        if not is_dir and osp.exists(path) and not os.access(path, os.W_OK):
            raise PermissionError(f'{path} is read-only')
    except OSError as err:
        raise SystemExit(f'{what} {path}: cannot write there ({err}). '
                         'Choose a writable location.') from err


def load_tool_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Register mmsvf's modules and read a config for a command-line tool.

    Args:
        path (str): Config file.
        cfg_options (dict | None): ``--cfg-options`` to merge into it,
            checked by :func:`merge_cfg_options`.

    Returns:
        Config: The loaded config.

    Raises:
        SystemExit: ``path`` does not exist, or an option does not fit.
    """
    register_all_modules(init_default_scope=False)
    if not osp.isfile(path):
        raise SystemExit(f'config file {path} not found')
    cfg = Config.fromfile(path)
    return merge_cfg_options(cfg, cfg_options, path)


def config_stem(path: str) -> str:
    """``configs/x/name.py`` -> ``name``."""
    return osp.splitext(osp.basename(path))[0]


def set_unique_experiment_name(cfg: Config, config_path: str,
                               tag: str = '') -> None:
    """Give ``cfg`` an ``experiment_name`` unless it has one.

    mmengine keys its DefaultScope / MessageHub instances by the experiment
    name, which is a timestamp to the second by default; a random suffix keeps
    runs started within the same second (tests, several tools in one process)
    apart.
    """
    if cfg.get('experiment_name', None) is None:
        cfg.experiment_name = (f'{config_stem(config_path)}{tag}_'
                               f'{time.strftime("%Y%m%d_%H%M%S")}_'
                               f'{uuid.uuid4().hex[:6]}')


def build_runner(cfg: Config):
    """Build the runner named by ``cfg.runner_type`` (default ``Runner``).

    Its weight loading (``load_from``, the tested checkpoint, ``resume``,
    ``init_cfg`` Pretrained) is checked: a checkpoint that does not fit the
    model is an error unless ``cfg.load_strict`` is False
    (:func:`mmsvf.utils.strict_load.install_checked_loading`).
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    return install_checked_loading(runner, cfg.get('load_strict', True))
