# Copyright (c) mmsvf contributors. All rights reserved.
"""mmpose's ``simcc_vis`` without torchvision: detection and patch."""
import importlib.util
import sys

import pytest

from mmsvf.compat import torchvision_placeholder


def test_probe(fake_package, tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmpose.visualization.simcc_vis')
    assert torchvision_placeholder.needed() is True
    fake_package('torchvision', files=['__init__.py'])
    monkeypatch.syspath_prepend(str(tmp_path))
    assert torchvision_placeholder.needed() is False


def test_probe_without_mmpose(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmpose.visualization.simcc_vis')
    monkeypatch.setattr(torchvision_placeholder, 'package_dir',
                        lambda name: None)
    assert torchvision_placeholder.needed() is False


def test_mmpose_visualization_imports_without_torchvision():
    assert importlib.util.find_spec('torchvision') is None
    import mmpose.visualization
    from mmpose.visualization.simcc_vis import SimCCVisualizer
    assert hasattr(mmpose.visualization, 'PoseLocalVisualizer')
    with pytest.raises(ImportError, match='torchvision'):
        SimCCVisualizer()


def test_apply_installs_the_placeholder(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmpose.visualization.simcc_vis')
    torchvision_placeholder.apply()
    module = sys.modules['mmpose.visualization.simcc_vis']
    assert module.__mmsvf_placeholder__
    with pytest.raises(ImportError):
        module.SimCCVisualizer()
