# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.utils.tool_utils: what the command-line tools share."""
import pytest
from mmengine.config import Config

from mmsvf.utils import (build_runner, config_stem, load_tool_config,
                         set_unique_experiment_name)


def test_load_tool_config_merges_options_and_names_missing_file(tmp_path):
    path = tmp_path / 'my_config.py'
    path.write_text('a = 1\nb = dict(c=2)\n')
    cfg = load_tool_config(str(path), {'b.c': 3})
    assert cfg.a == 1 and cfg.b.c == 3
    assert load_tool_config(str(path)).b.c == 2
    with pytest.raises(SystemExit, match='nope.py not found'):
        load_tool_config(str(tmp_path / 'nope.py'))


def test_unique_experiment_names():
    assert config_stem('configs/x/my_config.py') == 'my_config'
    a, b = Config(), Config()
    set_unique_experiment_name(a, 'configs/x/my_config.py', tag='_test')
    set_unique_experiment_name(b, 'configs/x/my_config.py', tag='_test')
    assert a.experiment_name.startswith('my_config_test_')
    assert a.experiment_name != b.experiment_name  # same second, still apart
    kept = Config(dict(experiment_name='mine'))
    set_unique_experiment_name(kept, 'configs/x/my_config.py')
    assert kept.experiment_name == 'mine'


def test_build_runner_uses_runner_type():
    from mmengine.registry import RUNNERS

    @RUNNERS.register_module(name='_ToolUtilsTestRunner', force=True)
    class _Runner:

        @classmethod
        def from_cfg(cls, cfg):
            runner = cls()
            runner.cfg = cfg
            return runner

    cfg = Config(dict(runner_type='_ToolUtilsTestRunner', x=1))
    runner = build_runner(cfg)
    assert isinstance(runner, _Runner) and runner.cfg.x == 1
