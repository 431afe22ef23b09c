# Copyright (c) mmsvf contributors. All rights reserved.
"""mmengine's ``pkg::`` config syntax and mmsvf: detection and patch."""
import os

import pytest
from mmengine.config import Config

from mmsvf.compat import config_package


def test_probe(monkeypatch):
    from mmengine.config import utils as config_utils
    assert config_package.needed() is False  # applied on import
    monkeypatch.delitem(config_utils.MODULE2PACKAGE, 'mmsvf')
    assert config_package.needed() is True


def test_apply_registers_mmsvf_and_drops_its_scope(monkeypatch):
    from mmengine.config import utils as config_utils
    monkeypatch.delitem(config_utils.MODULE2PACKAGE, 'mmsvf')
    answers = {'mmsvf::a.py': ('/x/a.py', 'mmsvf'),
               'mmseg::b.py': ('/y/b.py', 'mmseg')}
    monkeypatch.setattr(Config, '_get_cfg_path',
                        staticmethod(lambda path, name: answers[path]))
    config_package.apply()
    assert config_utils.MODULE2PACKAGE['mmsvf'] == 'mmsvf'
    # an mmsvf base is read like a local file: no scope inferred
    assert Config._get_cfg_path('mmsvf::a.py', 'c.py') == ('/x/a.py', None)
    assert Config._get_cfg_path('mmseg::b.py', 'c.py') == ('/y/b.py',
                                                            'mmseg')


def test_mmsvf_configs_inherit_with_their_own_scope(tmp_path):
    """``_base_ = 'mmsvf::...'`` reads the shipped config like a local base:
    its default_scope stays, no ``_scope_='mmsvf'`` lands on upstream types,
    and the model builds; ``mmengine.hub.get_config`` works too."""
    from mmengine.hub import get_config
    from mmengine.registry import MODELS, init_default_scope

    import mmsvf
    mim = os.path.join(os.path.dirname(mmsvf.__file__), '.mim', 'configs')
    if not os.path.isdir(mim):
        pytest.skip('mmsvf/.mim is made by `pip install` (setup.py)')
    base = 'recognition/spikevideoformer/' \
        'spikevideoformer-tiny_1xb8-t8_toy-motion.py'
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['mmsvf::{base}']\n"
                     'train_cfg = dict(max_epochs=1)\n')
    cfg = Config.fromfile(str(child))
    assert cfg.default_scope == 'mmaction'
    assert cfg.train_cfg.max_epochs == 1 and cfg.train_cfg.val_interval == 5
    assert '_scope_' not in cfg.model
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'Recognizer3D'
    assert type(model.backbone).__name__ == 'SpikeVideoFormer'
    seg = get_config('mmsvf::segmentation/spikevideoformer/'
                     'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py')
    assert seg.default_scope == 'mmseg'
    assert seg.model.type == 'mmsvf.VideoEncoderDecoder'
