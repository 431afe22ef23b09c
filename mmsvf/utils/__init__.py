# Copyright (c) mmsvf contributors. All rights reserved.
from .setup_env import register_all_modules
from .tool_utils import (build_runner, config_stem, load_tool_config,
                         set_unique_experiment_name)

__all__ = [
    'register_all_modules', 'load_tool_config', 'config_stem',
    'set_unique_experiment_name', 'build_runner'
]
