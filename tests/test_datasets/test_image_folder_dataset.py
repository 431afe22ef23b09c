# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.ImageFolderDataset + tools/data/generate_toy_imagefolder.py."""
import hashlib
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from mmsvf.datasets import ImageFolderDataset
from mmsvf.utils import register_all_modules
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
CLASSES = ('checker', 'rings', 'stripes_h', 'stripes_v')  # sorted folders


def generator():
    return load_script('tools/data/generate_toy_imagefolder.py')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp('toy')
    generator().main(['--out', str(out), '--num-train', '2', '--num-val',
                      '1', '--size', '40'])
    return out


def digest(root):
    h = hashlib.sha256()
    for f in sorted(Path(root).rglob('*')):
        if f.is_file():
            h.update(str(f.relative_to(root)).encode() + f.read_bytes())
    return h.hexdigest()


def test_generator_is_deterministic(toy, tmp_path):
    generator().main(['--out', str(tmp_path), '--num-train', '2',
                      '--num-val', '1', '--size', '40'])
    assert digest(tmp_path) == digest(toy)
    lines = (toy / 'train.txt').read_text().splitlines()
    assert len(lines) == 8 and lines[0] == 'checker/checker_00000.png 0'


def test_folder_scan(toy):
    ds = ImageFolderDataset(pipeline=[], data_prefix=dict(img=str(toy /
                                                                  'train')))
    assert len(ds) == 8
    assert ds.metainfo['classes'] == CLASSES
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert Path(info['filename']).parent.name == CLASSES[info['label']]


def test_ann_file_and_data_root(toy):
    ds = ImageFolderDataset(
        pipeline=[], data_root=str(toy), ann_file='train.txt',
        data_prefix=dict(img='train'))
    assert len(ds) == 8
    scanned = ImageFolderDataset(
        pipeline=[], data_prefix=dict(img=str(toy / 'train')))
    # the list and the folder scan agree item by item
    assert [ds.get_data_info(i)['filename'] for i in range(8)] == \
        [scanned.get_data_info(i)['filename'] for i in range(8)]
    assert [ds.get_data_info(i)['label'] for i in range(8)] == \
        [scanned.get_data_info(i)['label'] for i in range(8)]


def test_errors(toy, tmp_path):
    with pytest.raises(FileNotFoundError, match='not a directory'):
        ImageFolderDataset(pipeline=[], data_prefix=dict(img=str(tmp_path /
                                                                 'none')))
    with pytest.raises(ValueError, match='no class sub-folders'):
        ImageFolderDataset(pipeline=[], data_prefix=dict(img=str(tmp_path)))
    with pytest.raises(ValueError, match='differ from the folders'):
        ImageFolderDataset(pipeline=[], classes=['a', 'b'],
                           data_prefix=dict(img=str(toy / 'train')))
    bad = tmp_path / 'bad.txt'
    bad.write_text('only_a_path.png\n')
    with pytest.raises(ValueError, match=r'bad.txt:1: expected "path label"'):
        ImageFolderDataset(pipeline=[], ann_file=str(bad))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        ImageFolderDataset(pipeline=[], ann_file=str(tmp_path / 'missing.txt'))


def test_tiny_pretrain_pipeline_gives_one_frame_clips(toy):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(REPO / 'configs' / 'pretrain' /
                          'spikevideoformer-tiny_1xb8-t1_toy-imagefolder.py')
    init_default_scope(cfg.default_scope)
    for loader, n in ((cfg.train_dataloader, 8), (cfg.val_dataloader, 4)):
        loader.dataset.data_root = str(toy)
        ds = DATASETS.build(loader.dataset)
        assert len(ds) == n
        item = ds[0]
        # (num_clips, C, T, H, W): an image is a one-frame clip
        assert item['inputs'].shape == (1, 3, 1, 32, 32)
        assert item['data_samples'].gt_label.item() in range(4)
        assert item['inputs'].dtype in (torch.uint8, torch.float32)
