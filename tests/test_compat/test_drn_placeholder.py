# Copyright (c) mmsvf contributors. All rights reserved.
"""mmaction2 1.2.0 wheels without ``localizers/drn``: detection and patch."""
import sys

import pytest

from mmsvf.compat import drn_placeholder


def test_detected_on_pinned_stack():
    assert drn_placeholder.needed()


def test_probe(fake_package, monkeypatch):
    fixed = fake_package('fixed', dirs=['models/localizers/drn'])
    broken = fake_package('broken', dirs=['models/localizers'])
    monkeypatch.setattr(drn_placeholder, 'package_dir', lambda name: fixed)
    assert drn_placeholder.needed() is False
    monkeypatch.setattr(drn_placeholder, 'package_dir', lambda name: broken)
    assert drn_placeholder.needed() is True
    monkeypatch.setattr(drn_placeholder, 'package_dir', lambda name: None)
    assert drn_placeholder.needed() is False  # no mmaction at all


def test_mmaction_models_import():
    import mmaction.models
    from mmaction.registry import MODELS as MMACTION_MODELS
    assert MMACTION_MODELS.get('Recognizer3D') is \
        mmaction.models.Recognizer3D


def test_placeholder_raises_when_built():
    from mmaction.models.localizers.drn.drn import DRN
    with pytest.raises(ImportError, match='2714'):
        DRN()
    module = sys.modules['mmaction.models.localizers.drn']
    assert module.__mmsvf_placeholder__


def test_apply_installs_the_placeholder(monkeypatch):
    for name in ('mmaction.models.localizers.drn',
                 'mmaction.models.localizers.drn.drn'):
        monkeypatch.delitem(sys.modules, name)
    drn_placeholder.apply()
    drn = sys.modules['mmaction.models.localizers.drn']
    assert drn.__spec__.submodule_search_locations == []
    assert sys.modules['mmaction.models.localizers.drn.drn'] is drn.drn
    with pytest.raises(ImportError):
        drn.drn.DRN()
