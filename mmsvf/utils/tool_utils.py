# Copyright (c) mmsvf contributors. All rights reserved.
"""What ``tools/train.py``, ``tools/test.py`` and ``tools/analysis`` share."""
import os.path as osp
import time
import uuid
from typing import Optional

from mmengine.config import Config

from .setup_env import register_all_modules


def load_tool_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Register mmsvf's modules and read a config for a command-line tool.

    Args:
        path (str): Config file.
        cfg_options (dict | None): ``--cfg-options`` to merge into it.

    Returns:
        Config: The loaded config.

    Raises:
        SystemExit: ``path`` does not exist.
    """
    register_all_modules(init_default_scope=False)
    if not osp.isfile(path):
        raise SystemExit(f'config file {path} not found')
    cfg = Config.fromfile(path)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    return cfg


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
    """Build the runner named by ``cfg.runner_type`` (default ``Runner``)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
