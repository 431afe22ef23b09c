# Copyright (c) mmsvf contributors. All rights reserved.
"""mmengine's ``get_installed_path`` vs editable installs: detection and
patch."""
import importlib.metadata
import os

from mmsvf.compat import installed_path


def test_probe(tmp_path, monkeypatch, fake_dist):
    # an editable install: the distribution's location holds no mmsvf folder
    monkeypatch.setattr(importlib.metadata, 'distribution',
                        lambda name: fake_dist(tmp_path))
    assert installed_path.needed() is True
    (tmp_path / 'mmsvf').mkdir()  # a regular install
    assert installed_path.needed() is False

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, 'distribution', not_installed)
    assert installed_path.needed() is False


def test_apply_finds_the_package_folder(tmp_path, monkeypatch):
    """The wrapper keeps mmengine's answer when that folder exists and asks
    the import system otherwise."""
    from mmengine.config import config as config_module
    from mmengine.hub import hub as hub_module

    import mmsvf
    answers = {'mmsvf': str(tmp_path / 'site-packages' / 'mmsvf'),
               'other': str(tmp_path)}
    monkeypatch.setattr(config_module, 'get_installed_path',
                        lambda package: answers[package])
    monkeypatch.setattr(hub_module, 'get_installed_path', None)
    installed_path.apply()
    fixed = config_module.get_installed_path
    assert hub_module.get_installed_path is fixed
    assert fixed('other') == str(tmp_path)  # exists: unchanged
    answers['nomodule'] = str(tmp_path / 'no_such_module_xyz')
    assert fixed('nomodule') == answers['nomodule']  # nothing better known
    assert os.path.samefile(fixed('mmsvf'), os.path.dirname(mmsvf.__file__))
