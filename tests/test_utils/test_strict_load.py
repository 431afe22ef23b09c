# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.utils.strict_load: checkpoints that do not fit are errors."""
import logging

import pytest
import torch
from mmengine.model import BaseModule

from mmsvf.utils.strict_load import (
    CheckpointLoadError,
    CheckpointMismatchError,
    check_checkpoint_file,
    load_checked,
    read_checkpoint,
    strict_loading,
)


class Backbone(BaseModule):

    def __init__(self, width=4, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = torch.nn.Conv1d(2, width, 1)
        self.bn = torch.nn.BatchNorm1d(width)


class Net(BaseModule):

    def __init__(self, width=4, classes=3, init_cfg=None):
        super().__init__()
        self.backbone = Backbone(width, init_cfg=init_cfg)
        self.head = torch.nn.Linear(width, classes)


def save(path, model, wrap=True):
    state = model.state_dict()
    torch.save({'state_dict': state, 'meta': {}} if wrap else state, path)
    return str(path)


@pytest.mark.parametrize('content, words', [
    (b'', 'is empty'),
    (b'<html><body>404 Not Found</body></html>', 'a text file'),
    (b'version https://git-lfs.github.com/spec/v1\n', 'Git LFS pointer'),
    (bytes(range(7, 40)), 'not a checkpoint'),
])
def test_files_that_are_no_checkpoint_are_named(tmp_path, content, words):
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointLoadError, match=words) as info:
        read_checkpoint(str(path))
    assert str(path) in str(info.value)
    with pytest.raises(CheckpointLoadError, match='not found'):
        check_checkpoint_file(str(tmp_path / 'absent.pth'))


def test_truncated_and_non_dict_files_are_named(tmp_path):
    good = save(tmp_path / 'good.pth', Net())
    data = open(good, 'rb').read()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointLoadError, match='truncated') as info:
        read_checkpoint(str(tmp_path / 'cut.pth'))
    assert 'cut.pth' in str(info.value)
    torch.save([torch.ones(1)], tmp_path / 'list.pth')
    with pytest.raises(CheckpointLoadError, match='holds a list'):
        read_checkpoint(str(tmp_path / 'list.pth'))
    # the legacy (non-zip) torch.save format still reads
    torch.save({'a': torch.ones(1)}, tmp_path / 'legacy.pth',
               _use_new_zipfile_serialization=False)
    assert torch.equal(read_checkpoint(str(tmp_path / 'legacy.pth'))['a'],
                       torch.ones(1))


def test_shape_missing_unexpected_and_disjoint(tmp_path):
    other = save(tmp_path / 'other.pth', Net(classes=5))
    with pytest.raises(CheckpointMismatchError) as info:
        load_checked(Net(), other)
    text = str(info.value)
    assert other in text and 'head.weight: checkpoint (5, 4) vs model ' \
        '(3, 4)' in text and 'head.bias' in text
    # partial loading on request: everything but the head is loaded
    source, target = Net(classes=5), Net()
    load_checked(target, save(tmp_path / 'src.pth', source), strict=False)
    assert torch.equal(target.backbone.conv.weight,
                       source.backbone.conv.weight)

    # a checkpoint with a part missing / one with extra tensors
    partial = {k: v for k, v in Net().state_dict().items()
               if not k.startswith('head.')}
    torch.save(partial, tmp_path / 'partial.pth')
    with pytest.raises(CheckpointMismatchError, match='missing from the '
                       r'checkpoint: head\.weight, head\.bias'):
        load_checked(Net(), str(tmp_path / 'partial.pth'))
    extra = dict(Net().state_dict(), **{'neck.weight': torch.ones(2)})
    torch.save(extra, tmp_path / 'extra.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'not in the model: neck\.weight'):
        load_checked(Net(), str(tmp_path / 'extra.pth'))

    # nothing fits: an error even when partial loading is allowed, with a
    # hint at the prefix
    backbone_only = save(tmp_path / 'bb.pth', Backbone(), wrap=False)
    with pytest.raises(CheckpointMismatchError,
                       match="no tensor of the checkpoint fits") as info:
        load_checked(Net(), backbone_only, strict=False)
    assert "'backbone.' prefix" in str(info.value)


def test_pretrained_init_cfg(tmp_path, caplog):
    source = Net()
    full = save(tmp_path / 'full.pth', source)

    def init(strict=None, prefix='backbone.', checkpoint=full, **kw):
        cfg = dict(type='Pretrained', checkpoint=checkpoint)
        if prefix:
            cfg['prefix'] = prefix
        if strict is not None:
            cfg['strict'] = strict
        model = Net(init_cfg=cfg, **kw)
        model.init_weights()
        return model

    # with prefix='backbone.' (what train.py checkpoints and converted files
    # need): loads, in and outside the tools' strict mode
    with strict_loading(True):
        model = init()
    assert torch.equal(model.backbone.conv.weight,
                       source.backbone.conv.weight)
    # without the prefix nothing fits: an error that names the way out
    with strict_loading(True), pytest.raises(
            CheckpointMismatchError, match="prefix='backbone.'") as info:
        init(prefix=None)
    assert full in str(info.value)
    # another width: refused, unless this init_cfg says strict=False
    with strict_loading(True), pytest.raises(
            CheckpointMismatchError, match='strict=False'):
        init(width=6)
    init(width=6, strict=False)
    with strict_loading(True), pytest.raises(
            CheckpointMismatchError, match="no key starts with 'neck.'"):
        init(prefix='neck.')
    # outside the tools and without strict=: mmengine's behaviour (warn)
    with caplog.at_level(logging.WARNING):
        init(width=6)
    # explicit strict=True applies anywhere
    with pytest.raises(CheckpointMismatchError):
        init(width=6, strict=True)
    with pytest.raises(TypeError, match='True or False'):
        init(strict='yes')
