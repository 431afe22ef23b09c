# Copyright (c) mmsvf contributors. All rights reserved.
"""Fakes for the probes of :mod:`mmsvf.compat`: a package folder with chosen
files, an installed distribution at a chosen location."""
import pytest


@pytest.fixture
def fake_package(tmp_path):
    """``fake_package(name, files=(), dirs=())`` -> path of a new folder."""

    def make(name, files=(), dirs=()):
        root = tmp_path / name
        root.mkdir()
        for d in dirs:
            (root / d).mkdir(parents=True)
        for f in files:
            (root / f).write_bytes(b'')
        return str(root)

    return make


class FakeDist:
    """An importlib.metadata distribution installed under ``location``."""

    def __init__(self, location):
        self.location = location

    def locate_file(self, name):
        return self.location / name


@pytest.fixture
def fake_dist():
    """The :class:`FakeDist` class."""
    return FakeDist
