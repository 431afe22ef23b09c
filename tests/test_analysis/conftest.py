# Copyright (c) mmsvf contributors. All rights reserved.
"""Fixtures of the analysis tests."""
import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run with one intra-op thread (restored afterwards).

    The counted forwards are small; on a shared 2-core machine a second
    spinning OpenMP thread costs far more than it gains.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
