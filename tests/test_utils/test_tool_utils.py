# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.utils.tool_utils: what the command-line tools share."""
import os

import pytest
import torch
from mmengine.config import Config

from mmsvf.utils import (
    build_runner,
    config_stem,
    load_tool_config,
    set_unique_experiment_name,
)


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


def test_cfg_options_unknown_keys_types_and_new_keys(tmp_path):
    from mmsvf.utils import merge_cfg_options
    path = tmp_path / 'cfg.py'
    path.write_text(
        "train_cfg = dict(max_epochs=4, val_interval=1)\n"
        "model = dict(type='M', backbone=dict(type='B', init_cfg=None), "
        "neck=None)\n"
        "custom_hooks = [dict(type='H', priority=50)]\n"
        "flag = True\n"
        "lr = 0.1\n")

    def problems(**options):
        with pytest.raises(SystemExit) as info:
            load_tool_config(str(path), options)
        assert str(path) in str(info.value)
        return str(info.value)

    assert "did you mean 'train_cfg'" in problems(
        **{'trian_cfg.max_epochs': 1})
    assert '+trian_cfg.max_epochs=' in problems(**{'trian_cfg.max_epochs': 1})
    assert "'model.backbone' has no key 'depth'" in problems(
        **{'model.backbone.depth': 2})
    assert "max_epochs='one': the config has an integer there (4)" in \
        problems(**{'train_cfg.max_epochs': 'one'})
    assert 'expected True or False' in problems(flag='yes')
    assert "lr='fast'" in problems(lr='fast')
    assert 'no item 3' in problems(**{'custom_hooks.3.priority': 1})
    assert 'give the whole list' in problems(**{'custom_hooks.0': 1})
    # all problems at once
    text = problems(**{'a_typo': 1, 'train_cfg.max_epochs': 'x'})
    assert 'a_typo' in text and 'max_epochs' in text

    cfg = load_tool_config(str(path), {
        '+custom.key': 'anything',  # marked new: no checks
        '+train_cfg.max_epochs': 'two',
        'train_cfg.max_epochs': 2,
        'lr': 1,  # an int for a float entry
        'load_from': 'x.pth',  # Runner arguments are known
        'randomness.seed': 0,
        'model.neck.type': 'N',  # fills an entry left None
        'model.backbone.init_cfg.type': 'Pretrained',
        'model.init_cfg.type': 'Kaiming',  # any module's init_cfg
        'custom_hooks.0.priority': 10,
    })
    assert cfg.custom.key == 'anything' and cfg.lr == 1
    assert cfg.train_cfg.max_epochs in (2, 'two')
    assert cfg.model.neck.type == 'N' and cfg.custom_hooks[0].priority == 10
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert merge_cfg_options(cfg, None) is cfg


def test_cfg_options_action_needs_key_value(capsys):
    import argparse

    from mmsvf.utils import CfgOptionsAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args(['--cfg-options', 'a.b=1', '+c=x,y', 'd=[1,2]'])
    assert args.cfg_options == {'a.b': 1, '+c': ['x', 'y'], 'd': [1, 2]}
    for bad in ('max_epochs', '=3', '+=3', 'a b=1'):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(['--cfg-options', bad])
        assert info.value.code == 2
        assert f'{bad!r} is not KEY=VALUE' in capsys.readouterr().err


def test_check_tool_config_batch_size_and_epochs():
    from mmsvf.utils import check_tool_config
    good = Config(dict(train_dataloader=dict(batch_size=2, num_workers=0),
                       val_dataloader=None, train_cfg=dict(max_epochs=1)))
    check_tool_config(good, 'c.py')
    for bad, words in [
        (dict(train_dataloader=dict(batch_size=0)),
         'train_dataloader.batch_size = 0: expected a positive integer'),
        (dict(test_dataloader=dict(batch_size=2.5)), 'batch_size = 2.5'),
        (dict(val_dataloader=dict(batch_size=1, num_workers=-1)),
         'num_workers = -1: expected an integer >= 0'),
        (dict(train_cfg=dict(max_iters=0)), 'train_cfg.max_iters = 0'),
        (dict(train_cfg=dict(val_interval=True)), 'val_interval = True'),
        (dict(load_strict='no'), 'load_strict'),
    ]:
        with pytest.raises(SystemExit, match=words) as info:
            check_tool_config(Config(bad), 'c.py')
        assert 'c.py' in str(info.value)


def test_check_writable(tmp_path):
    from mmsvf.utils import check_writable
    check_writable(str(tmp_path / 'new' / 'deeper' / 'out.pkl'), '--dump')
    assert not (tmp_path / 'new').exists()  # nothing created
    check_writable(str(tmp_path / 'dir'), '--show-dir', is_dir=True)
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match=r'--dump .*file.*cannot write'):
        check_writable(str(blocker / 'out.pkl'), '--dump')
    with pytest.raises(SystemExit, match='is a file; expected a folder'):
        check_writable(str(blocker), '--work-dir', is_dir=True)
    with pytest.raises(SystemExit, match='is a folder; expected a file'):
        check_writable(str(tmp_path), '--dump')
    assert not list(tmp_path.glob('.mmsvf-probe-*'))


def test_check_checkpoint_files_names_the_config_key(tmp_path):
    from mmsvf.utils import check_checkpoint_files
    empty, text = tmp_path / 'empty.pth', tmp_path / 'text.pth'
    empty.write_bytes(b'')
    text.write_text('not weights')
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.ones(1)}, good)
    pretrained = dict(type='Pretrained', checkpoint=str(good))
    cfg = Config(dict(load_from=str(good), model=dict(
        backbone=dict(init_cfg=pretrained),
        heads=[dict(init_cfg=[dict(type='Normal'), pretrained])])))
    check_checkpoint_files(cfg)
    for key, bad, words in [
        ('model.backbone.init_cfg.checkpoint', empty, 'is empty'),
        ('model.heads.0.init_cfg.1.checkpoint', text, 'a text file'),
    ]:
        broken = Config(cfg.to_dict())
        if key.startswith('model.backbone'):
            broken.model.backbone.init_cfg.checkpoint = str(bad)
        else:
            broken.model.heads[0].init_cfg[1].checkpoint = str(bad)
        with pytest.raises(SystemExit, match=words) as info:
            check_checkpoint_files(broken)
        assert str(info.value).startswith(key) and str(bad) in \
            str(info.value)
    with pytest.raises(SystemExit, match='^--resume: .*not found'):
        check_checkpoint_files(Config(dict(load_from='nope.pth',
                                           resume=True)))


def test_runner_args_local_rank_reaches_the_environment(monkeypatch):
    """--local-rank (torch.distributed.launch) becomes LOCAL_RANK unless
    the launcher set it; --cfg-options items are checked as they parse."""
    import argparse

    from mmsvf.utils import add_runner_args, parse_runner_args
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_runner_args(
        parser, ['--local-rank', '3', '--cfg-options', 'a.b=2'])
    assert os.environ['LOCAL_RANK'] == '3'
    assert (args.launcher, args.cfg_options) == ('none', {'a.b': 2})
    monkeypatch.setenv('LOCAL_RANK', '1')
    parse_runner_args(parser, ['--local_rank', '5'])
    assert os.environ['LOCAL_RANK'] == '1'
    with pytest.raises(SystemExit):  # an item without '='
        parse_runner_args(parser, ['--cfg-options', 'a.b'])
