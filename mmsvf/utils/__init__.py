# Copyright (c) mmsvf contributors. All rights reserved.
# first: a folder named mmsvf shadowing the package makes everything below
# fail far away (its submodules may still come from the installed package)
from .package_check import check_mmsvf_package

check_mmsvf_package()

from .setup_env import register_all_modules  # noqa: E402
from .strict_load import (CheckpointLoadError,  # noqa: E402
                          CheckpointMismatchError, load_checked,
                          strict_loading)
from .tool_utils import (CFG_OPTIONS_HELP, CfgOptionsAction,  # noqa: E402
                         build_runner, check_checkpoint_files,
                         check_tool_config, check_writable,
                         config_stem, load_tool_config, merge_cfg_options,
                         set_unique_experiment_name)
from .work_dir_lock import WorkDirInUseError, WorkDirLock  # noqa: E402

__all__ = [
    'register_all_modules', 'load_tool_config', 'config_stem',
    'set_unique_experiment_name', 'build_runner', 'check_mmsvf_package',
    'CheckpointLoadError', 'CheckpointMismatchError', 'load_checked',
    'strict_loading', 'CFG_OPTIONS_HELP', 'CfgOptionsAction',
    'check_checkpoint_files', 'check_tool_config', 'check_writable',
    'merge_cfg_options',
    'WorkDirInUseError', 'WorkDirLock'
]
