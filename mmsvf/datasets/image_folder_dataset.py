# Copyright (c) mmsvf contributors. All rights reserved.
"""Image classification data (ImageNet layout) for mmaction pipelines."""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmaction.datasets import BaseActionDataset
from mmengine.fileio import list_from_file

from mmsvf.registry import DATASETS
from .annotation_checks import (
    AnnotationError,
    attach_filename,
    check_num_classes,
    parse_labels,
)

__all__ = ['ImageFolderDataset']

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolderDataset(BaseActionDataset):
    """Images with class labels, each item a one-frame "clip".

    Two layouts (those of torchvision's ``ImageFolder`` and of mmpretrain's
    ``ImageNet``):

    - ``ann_file`` given: lines ``relative/path.JPEG label`` (e.g. ImageNet's
      ``meta/train.txt``), paths relative to ``data_prefix['img']``;
    - no ``ann_file``: ``data_prefix['img']/<class>/<image>``, classes sorted
      by folder name and numbered from 0 (``metainfo['classes']``).

    Checked when the dataset loads: every label is an integer in
    ``[0, num_classes)`` (``num_classes`` if given, else the number of
    ``classes`` if given, else ``>= 0``) and the list is not empty; errors
    (:class:`~mmsvf.datasets.AnnotationError`) name the file and the line,
    or the image root.

    Items are ``dict(filename=..., label=...)`` as mmaction's video datasets
    give, so mmaction's ``ImageDecode`` reads them as one-frame clips and the
    rest of an mmaction pipeline (crops, flips, ``FormatShape('NCTHW')``,
    ``PackActionInputs``) applies unchanged.

    Args:
        pipeline (list): Transforms.
        ann_file (str): Optional list file (see above). Defaults to ''.
        data_prefix (dict): ``dict(img=<image root>)``.
        extensions (Sequence[str]): Image suffixes scanned without
            ``ann_file`` (case-insensitive).
        classes (Sequence[str], optional): Class names in label order;
            without ``ann_file`` they must match the folder names.
        num_classes (int, optional): The model head's number of classes:
            labels (and, without ``ann_file``, class folders) beyond it are
            refused when the dataset loads.
        **kwargs: :class:`mmaction.datasets.BaseActionDataset` arguments
            (``data_root``, ``test_mode``, ...).
    """

    def __init__(self,
                 pipeline: List,
                 ann_file: str = '',
                 data_prefix: Optional[dict] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 classes: Optional[Sequence[str]] = None,
                 delimiter: str = ' ',
                 **kwargs) -> None:
        check_num_classes(kwargs.get('num_classes'), 'ImageFolderDataset')
        self.extensions = tuple(e.lower() for e in extensions)
        self.delimiter = delimiter
        self._given_classes = list(classes) if classes is not None else None
        data_prefix = dict(data_prefix or dict(img=''))
        data_prefix.setdefault('img', '')
        super().__init__(ann_file, pipeline=pipeline,
                         data_prefix=data_prefix, **kwargs)

    def _scan(self, root: str) -> List[dict]:
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'ImageFolderDataset: image root "{root}" (data_prefix.img) '
                'is not a directory')
        classes = sorted(
            d.name for d in os.scandir(root) if d.is_dir())
        if not classes:
            raise ValueError(
                f'ImageFolderDataset: "{root}" has no class sub-folders '
                '(expected <root>/<class>/<image>) and no ann_file was given')
        if self._given_classes is not None and \
                self._given_classes != classes:
            raise ValueError(
                f'ImageFolderDataset: classes {self._given_classes} differ '
                f'from the folders of "{root}": {classes}')
        data_list = []
        for label, name in enumerate(classes):
            folder = osp.join(root, name)
            for dirpath, _, files in sorted(os.walk(folder)):
                for fname in sorted(files):
                    if fname.lower().endswith(self.extensions):
                        data_list.append(
                            dict(filename=osp.join(dirpath, fname),
                                 label=label))
        if not data_list:
            raise ValueError(f'ImageFolderDataset: no images with suffix '
                             f'{self.extensions} under "{root}"')
        if self.num_classes is not None and len(classes) > self.num_classes:
            raise AnnotationError(
                f'ImageFolderDataset: "{root}" has {len(classes)} class '
                f'folders, labels 0..{len(classes) - 1}, but num_classes is '
                f'{self.num_classes} (the model head\'s number of classes)')
        self._metainfo['classes'] = tuple(classes)
        return data_list

    def _label_range(self) -> Optional[int]:
        if self.num_classes is not None:
            return self.num_classes
        if self._given_classes is not None:
            return len(self._given_classes)
        return None

    def load_data_list(self) -> List[dict]:
        """The items of the list file or of the class folders."""
        root = self.data_prefix.get('img', '') or ''
        if not self.ann_file:
            return self._scan(root)
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'ImageFolderDataset: ann_file "{self.ann_file}" not found')
        data_list = []
        num_classes = self._label_range()
        for lineno, line in enumerate(list_from_file(self.ann_file), 1):
            if not line.strip():
                continue
            # the path may hold the delimiter: the label is the last field
            parts = line.strip().rsplit(self.delimiter, 1)
            where = f'{self.ann_file}:{lineno}'
            if len(parts) != 2:
                raise AnnotationError(
                    f'{where}: expected "path label", got {line.strip()!r}')
            label, = parse_labels(parts[1:], num_classes, where,
                                  line.strip(), 'path label')
            data_list.append(
                dict(filename=osp.join(root, parts[0]), label=label))
        if not data_list:
            raise AnnotationError(
                f'ImageFolderDataset: ann_file {self.ann_file} lists no '
                'image (expected one "path label" line per image)')
        if self._given_classes is not None:
            self._metainfo['classes'] = tuple(self._given_classes)
        return data_list

    def prepare_data(self, idx):
        """The pipeline's output for sample ``idx``, its file name in the
        data sample's metainfo (for errors about a training batch)."""
        data_info = self.get_data_info(idx)
        return attach_filename(self.pipeline(data_info),
                               data_info['filename'])
