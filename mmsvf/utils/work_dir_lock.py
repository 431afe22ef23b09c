# Copyright (c) mmsvf contributors. All rights reserved.
"""One training per work directory.

Two ``tools/train.py`` runs on the same ``--work-dir`` interleave their logs
and overwrite each other's ``epoch_N.pth``, ``last_checkpoint`` and ``best_*``
files, so that a "best" checkpoint no longer matches its log. The training
tool therefore holds :data:`LOCK_NAME` in the work directory while it runs:

* the file holds the PID, host, start time and command of the holder, and is
  removed when the run ends (normally or by an exception);
* a second run on that work directory is refused with those details;
* after a crash (``kill -9``, power loss) the file stays behind: a lock whose
  process is gone (same host, PID not alive, or alive but started at another
  time, i.e. a reused PID) is stale and taken over with a warning.

On a local file system the lock is also an ``flock`` on the file, which the
kernel drops when the process dies, so two runs can never both take over the
same stale lock. A lock held from another host cannot be checked for
liveness: it is refused with the way to remove it by hand.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None

__all__ = ['LOCK_NAME', 'WorkDirInUseError', 'WorkDirLock', 'is_main_rank']

#: the lock file inside the work directory
LOCK_NAME = '.mmsvf_train.lock'


class WorkDirInUseError(RuntimeError):
    """The work directory is used by a running training."""


def is_main_rank() -> bool:
    """Rank 0 of a torchrun / Slurm / MPI launch, or a single process.

    Read from the environment, so it works before the process group exists.
    """
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK',
                'PMI_RANK'):
        if os.environ.get(var, '').strip():
            return os.environ[var].strip() == '0'
    return True


def _process_start(pid: int) -> Optional[str]:
    """Start time of ``pid`` in clock ticks since boot (Linux), else None.

    Tells a live holder from an unrelated process that reused its PID.
    """
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: fields after its ')'
    return stat.rsplit(')', 1)[1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


class WorkDirLock:
    """Hold ``<work_dir>/.mmsvf_train.lock`` while a training runs.

    Use as a context manager::

        with WorkDirLock(cfg.work_dir) as lock:
            runner = build_runner(cfg)
            if lock.took_over:
                runner.logger.warning(lock.took_over)
            runner.train()

    Args:
        work_dir (str): The run's work directory (created if missing).
        enabled (bool): False: do nothing (e.g. ranks other than 0).

    Attributes:
        path (str): The lock file.
        took_over (str | None): The message when a stale lock was taken over.

    Raises:
        WorkDirInUseError: On entering, when a live run holds the lock.
    """

    def __init__(self, work_dir: str, enabled: bool = True):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self.enabled = enabled
        self.took_over = None
        self._fd = None

    def __enter__(self):
        if self.enabled:
            self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def _describe(self, info: dict) -> str:
        if 'pid' not in info:
            return 'holder unknown'
        return (f"PID {info.get('pid')} on host {info.get('host')}, started "
                f"{info.get('started', '?')}: {info.get('command', '?')}")

    def _refuse(self, info: dict, why: str):
        raise WorkDirInUseError(
            f'work dir {self.work_dir} is in use by another training '
            f'({self._describe(info)}); {why}. Two runs in one work dir '
            'overwrite each other\'s checkpoints and logs. Use another '
            '--work-dir, or wait for that run to end. If it is not running '
            f'any more, delete {self.path}.')

    def _read(self, fd) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b''
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        if not data.strip():
            return {}  # a new lock file (or one emptied on release)
        try:
            info = json.loads(data.decode('utf-8'))
        except ValueError:
            info = None
        # a holder that died while writing leaves an unreadable file
        return info if isinstance(info, dict) else {'unreadable': True}

    def _stale_reason(self, info: dict) -> Optional[str]:
        """Why ``info``'s holder is gone (None: it may be running)."""
        pid, host = info.get('pid'), info.get('host')
        if not isinstance(pid, int):
            return 'the lock file is unreadable'
        if host != socket.gethostname():
            return None
        if pid == os.getpid():
            return None
        if not _pid_alive(pid):
            return f'PID {pid} is not running'
        start = info.get('process_start')
        if start is not None and _process_start(pid) not in (None, start):
            return f'PID {pid} now belongs to another process'
        return None

    def acquire(self) -> None:
        """Take the lock (see the class docstring)."""
        try:
            os.makedirs(self.work_dir, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    if fcntl is not None:
                        try:
                            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        except BlockingIOError:
                            info = self._read(fd)
                            self._refuse(info, 'it is still running (it '
                                         'holds the lock)')
                        # the holder may have removed the file meanwhile
                        if not osp.exists(self.path) or os.stat(
                                self.path).st_ino != os.fstat(fd).st_ino:
                            os.close(fd)
                            continue
                    info = self._read(fd)
                except BaseException:
                    os.close(fd)
                    raise
                break
        except OSError as err:
            raise SystemExit(f'--work-dir {self.work_dir}: cannot create the '
                             f'lock file {self.path} ({err}). Choose a '
                             'writable work dir.') from err
        if info:
            reason = self._stale_reason(info)
            if reason is None:
                os.close(fd)
                if info.get('host') != socket.gethostname():
                    self._refuse(info, 'it runs on another host (or '
                                 'crashed there), which cannot be checked '
                                 'from here')
                self._refuse(info, 'it is still running')
            self.took_over = (
                f'work dir {self.work_dir}: took over the stale lock '
                f'{self.path} of an earlier training '
                f'({self._describe(info)}): {reason}, it probably crashed. '
                'Its checkpoints and logs stay; this run writes beside them.')
            print(f'[mmsvf] {self.took_over}', file=sys.stderr)
        mine = dict(
            pid=os.getpid(),
            host=socket.gethostname(),
            process_start=_process_start(os.getpid()),
            started=time.strftime('%Y-%m-%d %H:%M:%S'),
            command=' '.join([osp.basename(sys.executable)] + sys.argv))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(mine) + '\n').encode('utf-8'))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file (only if this process holds it)."""
        if self._fd is None:
            return
        try:
            if osp.exists(self.path) and os.stat(
                    self.path).st_ino == os.fstat(self._fd).st_ino:
                os.remove(self.path)
        except OSError:
            pass
        finally:
            os.close(self._fd)  # drops the flock
            self._fd = None
