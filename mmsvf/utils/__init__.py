# Copyright (c) mmsvf contributors. All rights reserved.
from .checkpoint import (UnsafeCheckpointError, file_sha256,
                         load_checkpoint_file, save_checkpoint_atomic)
from .dist import cpu_distributed_setup
from .setup_env import register_all_modules
from .tool_utils import (build_runner, config_stem, load_tool_config,
                         set_unique_experiment_name)
from .version_check import check_versions

__all__ = [
    'register_all_modules', 'load_tool_config', 'config_stem',
    'set_unique_experiment_name', 'build_runner', 'UnsafeCheckpointError',
    'load_checkpoint_file', 'save_checkpoint_atomic', 'file_sha256',
    'cpu_distributed_setup', 'check_versions'
]
