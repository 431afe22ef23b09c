# Copyright (c) mmsvf contributors. All rights reserved.
"""Helpers shared by the tests.

Importable as ``mmsvf_test_utils`` because pytest puts ``tests/`` (the folder
of the root ``conftest.py``) on ``sys.path``.
"""
import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_script(relpath, name=None):
    """Import a script of the repository (e.g. ``tools/train.py``).

    Args:
        relpath (str | Path): Path of the script relative to the repository
            root.
        name (str | None): Module name. Defaults to ``_script_<stem>``.

    Returns:
        module: The freshly executed script module.
    """
    path = REPO_ROOT / relpath
    spec = importlib.util.spec_from_file_location(
        name or f'_script_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
