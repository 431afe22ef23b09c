# Copyright (c) mmsvf contributors. All rights reserved.
"""Tested-version window (:mod:`mmsvf.utils.version_check`)."""
import importlib.metadata
import warnings

import pytest

from mmsvf.utils.version_check import check_versions, in_window


def test_pinned_stack_is_inside_window():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert check_versions() == {}


def test_warns_outside_window(monkeypatch):
    real = importlib.metadata.version

    def fake(name):
        if name == 'mmengine':
            return '0.10.9'
        if name == 'numpy':
            return '2.1.0'
        return real(name)

    monkeypatch.setattr(importlib.metadata, 'version', fake)
    with pytest.warns(UserWarning, match='mmengine 0.10.9') as record:
        outside = check_versions()
    assert outside == {'mmengine': '0.10.9', 'numpy': '2.1.0'}
    assert 'numpy 2.1.0' in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert check_versions(warn=False) == outside


def test_reads_mmcv_lite(monkeypatch):
    real = importlib.metadata.version

    def fake(name):
        if name == 'mmcv':
            raise importlib.metadata.PackageNotFoundError(name)
        if name == 'mmcv-lite':
            return '2.2.0'
        return real(name)

    monkeypatch.setattr(importlib.metadata, 'version', fake)
    with pytest.warns(UserWarning, match='mmcv'):
        assert check_versions() == {'mmcv': '2.2.0'}


@pytest.mark.parametrize('version, low, high, inside', [
    ('2.13.0+cpu', '2.6', '2.14', True),
    ('2.14.1', '2.6', '2.14', True),  # a bound covers its patch releases
    ('2.15.0', '2.6', '2.14', False),
    ('2.5.1', '2.6', '2.14', False),
    ('2.14.0.dev20250101', '2.6', '2.14', True),
    ('2.1.0rc1', '2.1.0', '2.1.0', True),
    ('1.26.4', '1.26', '1.26.4', True),
    ('1.26.5', '1.26', '1.26.4', False),
    ('not-a-version', '1.0', '2.0', False),
])
def test_in_window(version, low, high, inside):
    assert in_window(version, low, high) is inside
