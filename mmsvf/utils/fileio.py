# Copyright (c) mmsvf contributors. All rights reserved.
"""Crash-safe file writing: the one atomic-write helper of mmsvf.

Every file mmsvf writes that a user may already hold a good copy of
(checkpoints from the converters, energy reports, result dumps) goes through
:func:`atomic_write`: the content is written to a temporary sibling, flushed
and ``fsync``-ed, then moved over the destination with :func:`os.replace`.
A crash, ``kill -9``, a full disk or an exception in the writer therefore
leaves either the old file or the complete new one, never a truncated file.
"""
import os
import os.path as osp
import tempfile
from typing import BinaryIO, Callable

__all__ = ['atomic_write', 'atomic_torch_save']


def atomic_write(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through a temporary sibling and :func:`os.replace`.

    An existing ``path`` is left untouched if ``write`` fails; the temporary
    file is removed. The new file gets the permissions a plain ``open`` would
    give it (``0o666`` minus the umask), not :mod:`tempfile`'s ``0o600``.

    Args:
        path (str): Destination; missing parent folders are created.
        write (callable): ``write(binary_file)`` producing the content.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix='.' + osp.basename(path) + '.', suffix='.tmp', dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save(obj)`` to ``path`` through :func:`atomic_write`.

    Args:
        obj: What to save.
        path (str): Destination.
    """
    import torch
    atomic_write(path, lambda f: torch.save(obj, f))
