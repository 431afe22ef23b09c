# Copyright (c) mmsvf contributors. All rights reserved.
"""Image classification data (ImageNet layout) for mmaction pipelines."""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmaction.datasets import BaseActionDataset
from mmengine.fileio import list_from_file

from mmsvf.registry import DATASETS

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
        self._metainfo['classes'] = tuple(classes)
        return data_list

    def load_data_list(self) -> List[dict]:
        """The items of the list file or of the class folders."""
        root = self.data_prefix.get('img', '') or ''
        if not self.ann_file:
            return self._scan(root)
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'ImageFolderDataset: ann_file "{self.ann_file}" not found')
        data_list = []
        for lineno, line in enumerate(list_from_file(self.ann_file), 1):
            if not line.strip():
                continue
            parts = line.strip().rsplit(self.delimiter, 1)
            if len(parts) != 2:
                raise ValueError(
                    f'{self.ann_file}:{lineno}: expected "path label", got '
                    f'{line.strip()!r}')
            try:
                label = int(parts[1])
            except ValueError as err:
                raise ValueError(
                    f'{self.ann_file}:{lineno}: label {parts[1]!r} is not an '
                    'integer') from err
            data_list.append(
                dict(filename=osp.join(root, parts[0]), label=label))
        if self._given_classes is not None:
            self._metainfo['classes'] = tuple(self._given_classes)
        return data_list
