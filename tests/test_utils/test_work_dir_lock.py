# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.utils.work_dir_lock: one training per work directory."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mmsvf.utils.work_dir_lock import (
    LOCK_NAME,
    WorkDirInUseError,
    WorkDirLock,
    is_main_rank,
)

REPO = Path(__file__).resolve().parents[2]


def dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_lock_holds_pid_host_and_is_removed(tmp_path):
    work = tmp_path / 'work'
    with WorkDirLock(str(work)) as lock:
        info = json.loads((work / LOCK_NAME).read_text())
        assert info['pid'] == os.getpid()
        assert info['host'] == socket.gethostname()
        assert lock.took_over is None
        # a second lock in this very process is refused too
        with pytest.raises(WorkDirInUseError, match=f'PID {os.getpid()}'):
            WorkDirLock(str(work)).acquire()
    assert not (work / LOCK_NAME).exists()
    with pytest.raises(RuntimeError), WorkDirLock(str(work)):
        raise RuntimeError('training crashed')
    assert not (work / LOCK_NAME).exists()  # released on exceptions


def test_live_holder_in_another_process_is_refused(tmp_path):
    work = tmp_path / 'busy'
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import time\n'
         'from mmsvf.utils.work_dir_lock import WorkDirLock\n'
         f'WorkDirLock({str(work)!r}).acquire()\n'
         'print("held", flush=True); time.sleep(60)'],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(WorkDirInUseError) as info:
            WorkDirLock(str(work)).acquire()
        text = str(info.value)
        assert f'PID {holder.pid}' in text and socket.gethostname() in text
        assert str(work / LOCK_NAME) in text and 'still running' in text
    finally:
        holder.kill()
        holder.wait()
    # killed: its lock is stale now, and is taken over
    with WorkDirLock(str(work)) as lock:
        assert f'PID {holder.pid} is not running' in lock.took_over


@pytest.mark.parametrize('content, words', [
    (lambda: {'pid': dead_pid(), 'host': socket.gethostname()},
     'is not running'),
    (lambda: {'pid': os.getppid(), 'host': socket.gethostname(),
              'process_start': '1'}, 'now belongs to another process'),
    (lambda: 'garbage{', 'unreadable'),
])
def test_stale_lock_is_taken_over(tmp_path, content, words):
    work = tmp_path / 'crashed'
    work.mkdir()
    value = content()
    (work / LOCK_NAME).write_text(
        value if isinstance(value, str) else json.dumps(value))
    with WorkDirLock(str(work)) as lock:
        assert words in lock.took_over and 'took over the stale lock' in \
            lock.took_over
        assert json.loads((work / LOCK_NAME).read_text())['pid'] == \
            os.getpid()
    assert not (work / LOCK_NAME).exists()


def test_lock_of_another_host_is_refused(tmp_path):
    work = tmp_path / 'shared'
    work.mkdir()
    (work / LOCK_NAME).write_text(json.dumps(
        {'pid': 1, 'host': 'elsewhere', 'command': 'train.py x'}))
    with pytest.raises(WorkDirInUseError, match='another host') as info:
        WorkDirLock(str(work)).acquire()
    assert 'elsewhere' in str(info.value) and 'delete' in str(info.value)
    with WorkDirLock(str(work), enabled=False) as lock:  # other ranks
        assert lock.took_over is None


def test_main_rank_from_environment(monkeypatch):
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        monkeypatch.delenv(var, raising=False)
    assert is_main_rank()
    monkeypatch.setenv('SLURM_PROCID', '3')
    assert not is_main_rank()
    monkeypatch.setenv('RANK', '0')
    assert is_main_rank()
