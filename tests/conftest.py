# Copyright (c) mmsvf contributors. All rights reserved.
"""Shared pytest fixtures.

``shared_fixtures``: the real OpenMMLab sample data laid beside the checkout
(``<repo>/../shared/fixtures``); tests that need it skip when it is absent.
"""
import os
from pathlib import Path

import pytest

import mmsvf  # noqa: F401  (applies the upstream workarounds)
from mmsvf_test_utils import REPO_ROOT

SHARED_FIXTURES = Path(
    os.environ.get('MMSVF_SHARED_FIXTURES',
                   REPO_ROOT.parent / 'shared' / 'fixtures'))


@pytest.fixture(autouse=True)
def mmsvf_default_scope():
    """Run every test under the ``mmsvf`` default scope.

    A Runner built by an earlier test leaves its own scope (e.g. ``mmseg``)
    current; tests that need another scope set it themselves.
    """
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmsvf'):
        yield


@pytest.fixture
def single_torch_thread():
    """One intra-op thread for the test: tiny models gain nothing from more,
    and on a loaded machine OpenMP's spinning threads make them far slower.
    Use with ``pytestmark = pytest.mark.usefixtures('single_torch_thread')``.
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def shared_fixtures():
    """Path to ``../shared/fixtures``; skips the test when it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f'shared fixtures not found at {SHARED_FIXTURES}')
    return SHARED_FIXTURES


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT
