# Copyright (c) mmsvf contributors. All rights reserved.
# first: a folder named mmsvf shadowing the package makes everything below
# fail far away (its submodules may still come from the installed package)
from .package_check import check_mmsvf_package

check_mmsvf_package()

from .checkpoint import (  # noqa: E402
                         UnsafeCheckpointError,
                         file_sha256,
                         load_checkpoint_file,
                         save_checkpoint_atomic,
)
from .dist import cpu_distributed_setup  # noqa: E402
from .setup_env import register_all_modules  # noqa: E402
from .strict_load import (  # noqa: E402
                         CheckpointLoadError,
                         CheckpointMismatchError,
                         load_checked,
                         strict_loading,
)
from .tool_utils import (  # noqa: E402
                         CFG_OPTIONS_HELP,
                         CfgOptionsAction,
                         add_cfg_options_arg,
                         add_runner_args,
                         build_runner,
                         check_checkpoint_files,
                         check_tool_config,
                         check_writable,
                         config_stem,
                         load_tool_config,
                         merge_cfg_options,
                         parse_runner_args,
                         set_unique_experiment_name,
)
from .version_check import check_versions  # noqa: E402
from .work_dir_lock import WorkDirInUseError, WorkDirLock  # noqa: E402

__all__ = [
    'add_cfg_options_arg', 'add_runner_args', 'parse_runner_args',
    'register_all_modules', 'load_tool_config', 'config_stem',
    'set_unique_experiment_name', 'build_runner', 'check_mmsvf_package',
    'UnsafeCheckpointError', 'load_checkpoint_file', 'save_checkpoint_atomic',
    'file_sha256', 'cpu_distributed_setup', 'check_versions',
    'CheckpointLoadError', 'CheckpointMismatchError', 'load_checked',
    'strict_loading', 'CFG_OPTIONS_HELP', 'CfgOptionsAction',
    'check_checkpoint_files', 'check_tool_config', 'check_writable',
    'merge_cfg_options', 'WorkDirInUseError', 'WorkDirLock'
]
