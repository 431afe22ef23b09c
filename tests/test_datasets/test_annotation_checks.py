# Copyright (c) mmsvf contributors. All rights reserved.
"""Malformed annotation lists are refused when the dataset loads, with the
file and the line; every list that loaded correctly still loads."""
import re

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmsvf.datasets import (
    AnnotationError,
    CheckedVideoDataset,
    ImageFolderDataset,
    VSPWDataset,
)
from mmsvf_test_utils import REPO_ROOT, load_script

TOY_CONFIG = (REPO_ROOT / 'configs' / 'recognition' / 'spikevideoformer' /
              'spikevideoformer-tiny_1xb8-t8_toy-motion.py')


def _videos(tmp_path, text, **kwargs):
    ann = tmp_path / 'list.txt'
    ann.write_text(text)
    init_default_scope('mmaction')
    return CheckedVideoDataset(ann_file=str(ann), pipeline=[],
                               data_prefix=dict(video=str(tmp_path)),
                               **kwargs)


GOOD = 'a.mp4 0\nb.mp4 5\n'


@pytest.mark.parametrize('test_mode', [False, True])
@pytest.mark.parametrize('line,problem', [
    ('c.mp4 9', 'label 9 is out of range'),      # 9 with 6 classes
    ('c.mp4 -1', 'label -1 is out of range'),
    ('c.mp4', 'no label'),                       # mmaction: label -1
    ('c.mp4 3.0', "label '3.0' is not an integer"),
    ('c.mp4 3 extra', '3 fields'),
])
def test_bad_line_names_file_and_line(tmp_path, line, problem, test_mode):
    with pytest.raises(AnnotationError) as info:
        _videos(tmp_path, GOOD + line + '\n', num_classes=6,
                test_mode=test_mode)
    message = str(info.value)
    assert f'{tmp_path / "list.txt"}:3: {problem}' in message
    assert '"<video> <label>"' in message  # what was expected
    if 'range' in problem:
        assert 'in [0, 5] (num_classes=6, ' in message


def test_without_num_classes_only_negative_labels_are_refused(tmp_path):
    assert len(_videos(tmp_path, GOOD + 'c.mp4 399\n')) == 3
    with pytest.raises(AnnotationError, match=r'list.txt:1: label -2'):
        _videos(tmp_path, 'c.mp4 -2\n')


def test_empty_list_and_bad_num_classes(tmp_path):
    with pytest.raises(AnnotationError, match=r'list.txt lists no video'):
        _videos(tmp_path, '\n  \n', num_classes=6)
    with pytest.raises(AnnotationError, match='num_classes must be a '
                       'positive integer'):
        _videos(tmp_path, GOOD, num_classes=0)


def test_blank_lines_spaces_and_multi_class(tmp_path):
    ds = _videos(tmp_path, '\na.mp4   0\n\nb.mp4\t5  \n', num_classes=6)
    assert [ds.get_data_info(i)['label'] for i in range(2)] == [0, 5]
    assert ds.get_data_info(1)['filename'] == str(tmp_path / 'b.mp4')
    multi = _videos(tmp_path, 'a.mp4 0 3\nb.mp4 2\n', num_classes=4,
                    multi_class=True)
    assert multi.get_data_info(0)['label'].tolist() == [1, 0, 0, 1]
    with pytest.raises(AnnotationError, match=r'list.txt:2: label 4'):
        _videos(tmp_path, 'a.mp4 0 3\nb.mp4 4\n', num_classes=4,
                multi_class=True)
    with pytest.raises(ValueError, match='multi_class=True needs'):
        _videos(tmp_path, GOOD, multi_class=True)


def test_kinetics_fixture_list_still_loads(shared_fixtures):
    init_default_scope('mmaction')
    ds = CheckedVideoDataset(
        ann_file=str(shared_fixtures /
                     'derived/k400_style/k400_fixture_list.txt'),
        data_prefix=dict(video=str(shared_fixtures)), pipeline=[],
        num_classes=400, test_mode=True, check_exists=True)
    assert [ds.get_data_info(i)['label'] for i in range(len(ds))] == \
        [6, 62, 4]
    upstream = CheckedVideoDataset(
        ann_file=str(shared_fixtures / 'mmaction2/tests/data/annotations/'
                     'video_test_list.txt'),
        pipeline=[], num_classes=400)
    assert len(upstream) == 2


def test_toy_generator_output_loads_with_the_toy_config(tmp_path):
    """The toy config's datasets and pipelines (num_classes and the
    short-clip check included) on freshly generated toy videos."""
    gen = load_script('tools/data/generate_toy_videos.py')
    root = tmp_path / 'toy_motion'
    gen.generate(gen.parse_args(['--out', str(root), '--num-train', '1',
                                 '--num-val', '1', '--size', '32']))
    cfg = Config.fromfile(str(TOY_CONFIG))
    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val')):
        dataset = cfg[loader].dataset
        dataset.update(ann_file=str(root / f'{split}.txt'),
                       data_prefix=dict(video=str(root / 'videos')))
        ds = DATASETS.build(dataset)
        assert ds.num_classes == 6 and len(ds) == 6
        out = ds[0]
        assert tuple(out['inputs'].shape) == (1, 3, 8, 64, 64)
        assert out['data_samples'].filename.endswith('.mp4')


def test_image_folder_labels_are_checked(tmp_path):
    (tmp_path / 'img').mkdir()
    ann = tmp_path / 'train.txt'
    ann.write_text('a b.png 3\nc.png 1\n')  # a path with a space is fine
    ds = ImageFolderDataset(pipeline=[], ann_file=str(ann), num_classes=4,
                            data_prefix=dict(img=str(tmp_path / 'img')))
    assert [ds.get_data_info(i)['label'] for i in range(2)] == [3, 1]
    with pytest.raises(AnnotationError,
                       match=re.escape(f'{ann}:1: label 3 is out of range')):
        ImageFolderDataset(pipeline=[], ann_file=str(ann), num_classes=3)
    # without num_classes, the given class names bound the labels
    with pytest.raises(AnnotationError, match=r'train.txt:1: label 3'):
        ImageFolderDataset(pipeline=[], ann_file=str(ann),
                           classes=['x', 'y'])
    ann.write_text('c.png one\n')
    with pytest.raises(AnnotationError,
                       match=r"train.txt:1: label 'one' is not an integer"):
        ImageFolderDataset(pipeline=[], ann_file=str(ann))
    ann.write_text('\n')
    with pytest.raises(AnnotationError, match='train.txt lists no image'):
        ImageFolderDataset(pipeline=[], ann_file=str(ann))
    for name in ('a', 'b', 'c'):
        (tmp_path / 'img' / name).mkdir()
        (tmp_path / 'img' / name / '0.png').write_bytes(b'')
    with pytest.raises(AnnotationError, match='has 3 class folders'):
        ImageFolderDataset(pipeline=[], num_classes=2,
                           data_prefix=dict(img=str(tmp_path / 'img')))


def test_vspw_split_file_lines_are_named(tmp_path):
    split = tmp_path / 'train.txt'
    split.write_text('video_a extra\n')
    init_default_scope('mmseg')
    kwargs = dict(data_root=str(tmp_path), pipeline=[],
                  metainfo=dict(classes=('wall', 'ceiling')))
    with pytest.raises(AnnotationError,
                       match=r'train.txt:1: expected one video name'):
        VSPWDataset(**kwargs)
    split.write_text('\n\nvideo_a\n')
    with pytest.raises(FileNotFoundError, match=r'train.txt:3 has no frame'):
        VSPWDataset(**kwargs)
    split.write_text('\n')
    with pytest.raises(AnnotationError, match='lists no video'):
        VSPWDataset(**kwargs)
