# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/misc/print_config.py: the resolved config, with --cfg-options."""
import pytest
from mmengine.config import Config

from mmsvf_test_utils import REPO_ROOT, load_script

tool = load_script('tools/misc/print_config.py', 'mmsvf_print_config')
SPATIAL = REPO_ROOT / 'configs/recognition/spikevideoformer/' \
    'spikevideoformer-tiny_spatial-only_1xb8-t8_toy-motion.py'


def test_prints_bases_merged_and_options_applied(capsys, tmp_path):
    out_file = tmp_path / 'sub' / 'resolved.py'
    assert tool.main([str(SPATIAL), '--cfg-options',
                      'model.backbone.num_heads=4', 'train_cfg.max_epochs=3',
                      '--save-path', str(out_file)]) == 0
    text = capsys.readouterr().out
    assert text.startswith('Config:\n')
    # from the file itself, from its toy base, from the mmaction runtime
    # and from the model base two levels up
    for piece in ("attn_mode='spatial'", "video_backend = 'pyav'",
                  "type='PyAVInit'", "type='Recognizer3D'",
                  "default_scope = 'mmaction'", 'num_heads=4',
                  'max_epochs=3'):
        assert piece in text, piece
    # the saved file is the same config, readable without its bases
    saved = Config.fromfile(str(out_file))
    assert saved.model.backbone.num_heads == 4
    assert saved.model.backbone.attn_mode == 'spatial'
    assert saved.train_dataloader.dataset.pipeline[0].type == 'PyAVInit'
    assert '_base_' not in out_file.read_text()


def test_bad_paths(tmp_path):
    with pytest.raises(SystemExit, match='nope.py not found'):
        tool.main([str(tmp_path / 'nope.py')])
    with pytest.raises(SystemExit, match='--save-path must end with'):
        tool.main([str(SPATIAL), '--save-path', str(tmp_path / 'x.txt')])
