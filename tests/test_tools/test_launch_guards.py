# Copyright (c) mmsvf contributors. All rights reserved.
"""How the tools are started: the interpreter of tools/dist_*.sh and a
folder named mmsvf that shadows the package (issue 13)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_find_python(root, env):
    script = f'source {root}/tools/find_python.sh && ' \
        'mmsvf_find_python launcher && echo "PYTHON=$PYTHON"'
    return subprocess.run(['bash', '-c', script], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def fake_repo(tmp_path):
    root = tmp_path / 'repo'
    (root / 'tools').mkdir(parents=True)
    shutil.copy(REPO / 'tools' / 'find_python.sh', root / 'tools')
    return root


def test_launchers_prefer_the_project_venv(fake_repo):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    env['PATH'] = '/usr/bin:/bin'  # a PATH whose python (if any) has no torch
    venv = fake_repo / '.venv' / 'bin'
    venv.mkdir(parents=True)
    (venv / 'python').write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (venv / 'python').chmod(0o755)
    proc = run_find_python(fake_repo, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f'PYTHON={venv / "python"}'
    # an explicit PYTHON wins
    proc = run_find_python(fake_repo, dict(env, PYTHON=sys.executable))
    assert proc.stdout.strip() == f'PYTHON={sys.executable}'


def test_launchers_refuse_a_python_without_torch(fake_repo, tmp_path):
    fake = tmp_path / 'python-without-torch'
    fake.write_text('#!/bin/sh\n'
                    'echo "ModuleNotFoundError: No module named \'torch\'" >&2'
                    '\nexit 1\n')
    fake.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake))
    proc = run_find_python(fake_repo, env)
    assert proc.returncode == 1 and 'PYTHON=' not in proc.stdout
    assert f"'{fake}'" in proc.stderr and 'cannot import torch' in \
        proc.stderr and "No module named 'torch'" in proc.stderr
    assert '.venv' in proc.stderr
    proc = run_find_python(fake_repo, dict(env, PYTHON='no-such-python'))
    assert proc.returncode == 1 and "'no-such-python' not found" in \
        proc.stderr
    # the real launchers stop before torchrun, with the same message
    for script, args in (('dist_train.sh', ['cfg.py', '2']),
                         ('dist_test.sh', ['cfg.py', 'c.pth', '2'])):
        proc = subprocess.run(['bash', str(REPO / 'tools' / script)] + args,
                              env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1
        assert 'cannot import torch' in proc.stderr, script


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py',
                                  'demo/demo_video.py'])
def test_a_clone_folder_shadowing_the_package_is_named(tmp_path, tool):
    # the clone is a folder named mmsvf holding the package mmsvf/mmsvf;
    # run from its parent folder with that folder on PYTHONPATH
    clone = tmp_path / 'mmsvf'
    clone.mkdir()
    for name in ('mmsvf', 'tools', 'demo'):
        (clone / name).symlink_to(REPO / name)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, f'mmsvf/{tool}', 'config.py', 'a.pth', 'b'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert f'"import mmsvf" found the folder(s) {clone}' in last
    assert 'no __init__.py' in last and 'PYTHONPATH' in last


def test_shadowing_message_for_other_tools(tmp_path):
    import types

    import mmsvf
    from mmsvf.utils.package_check import shadowing_message
    assert shadowing_message(mmsvf) == ''
    clone = tmp_path / 'mmsvf'
    (clone / 'mmsvf').mkdir(parents=True)
    (clone / 'mmsvf' / '__init__.py').write_text('')
    namespace = types.ModuleType('mmsvf')
    namespace.__path__ = [str(clone)]
    text = shadowing_message(namespace)
    assert f'{clone} is a clone of the repository' in text
    assert f'PYTHONPATH={clone}' in text and f'cd {clone}' in text
