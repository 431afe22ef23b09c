# Copyright (c) mmsvf contributors. All rights reserved.
"""The package-level :func:`mmsvf.compat.apply`: what the pinned stack gets,
and nothing patched when the defects are absent."""
import importlib.metadata
import sys

import torch

from mmsvf import compat
from mmsvf.compat import installed_path


def test_all_workarounds_applied_on_pinned_stack():
    # the pinned stack has all these defects, so import mmsvf applied them;
    # the last one only for an editable install (the README's)
    editable = ['mmengine-editable-install-path'
                ] if installed_path.needed() else []
    assert compat.applied == [
        'mmaction-drn-placeholder', 'mmcv-ext-stub',
        'mmpose-torchvision-placeholder', 'mmengine-weights-only',
        'mmengine-config-package'
    ] + editable
    assert [w.NAME for w in compat.WORKAROUNDS] == [
        'mmaction-drn-placeholder', 'mmcv-ext-stub',
        'mmpose-torchvision-placeholder', 'mmengine-weights-only',
        'mmengine-config-package', 'mmengine-editable-install-path'
    ]
    # apply is idempotent: nothing new, same list
    assert compat.apply() == compat.applied


def test_package_holds_only_the_workarounds():
    public = {name for name in vars(compat) if not name.startswith('_')}
    modules = {w.__name__.rsplit('.', 1)[1] for w in compat.WORKAROUNDS}
    assert public == modules | {'WORKAROUNDS', 'applied', 'apply'}
    for workaround in compat.WORKAROUNDS:
        assert callable(workaround.needed) and callable(workaround.apply)
        assert 'Broken:' in workaround.__doc__
        assert 'Detected:' in workaround.__doc__
        assert 'Patch:' in workaround.__doc__


def test_apply_patches_nothing_when_defects_absent(tmp_path, monkeypatch,
                                                   fake_package, fake_dist):
    """Real probes, in a simulated fixed stack; appliers are spies."""
    from mmengine.config import utils as config_utils
    from mmengine.runner import checkpoint
    calls = []
    monkeypatch.setattr(compat, 'applied', [])
    for workaround in compat.WORKAROUNDS:
        monkeypatch.setattr(workaround, 'apply',
                            lambda name=workaround.NAME: calls.append(name))
    # defects present (the pinned stack, with the stubs taken away)
    monkeypatch.delitem(sys.modules, 'mmcv._ext')
    monkeypatch.delitem(sys.modules, 'mmpose.visualization.simcc_vis')
    monkeypatch.delitem(config_utils.MODULE2PACKAGE, 'mmsvf')
    monkeypatch.setattr(importlib.metadata, 'distribution',
                        lambda name: fake_dist(tmp_path / 'site-packages'))
    assert compat.apply() == [w.NAME for w in compat.WORKAROUNDS]
    assert calls == compat.applied
    # defects absent
    calls.clear()
    monkeypatch.setattr(compat, 'applied', [])
    root = fake_package(
        'pkg', dirs=['models/localizers/drn'],
        files=['_ext.cpython-311-x86_64-linux-gnu.so'])
    for workaround in compat.WORKAROUNDS:
        if hasattr(workaround, 'package_dir'):
            monkeypatch.setattr(workaround, 'package_dir',
                                lambda name: root)
    fake_package('torchvision', files=['__init__.py'])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        checkpoint, 'load_from_local',
        lambda filename, map_location: torch.load(  # noqa: E731
            filename, map_location=map_location, weights_only=True))
    monkeypatch.setitem(config_utils.MODULE2PACKAGE, 'mmsvf', 'mmsvf')
    (tmp_path / 'site-packages' / 'mmsvf').mkdir(parents=True)
    assert compat.apply() == []
    assert calls == []
