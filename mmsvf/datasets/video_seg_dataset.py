# Copyright (c) mmsvf contributors. All rights reserved.
"""Clip datasets for video semantic segmentation (VSPW, Cityscapes sequences).

Every sample is a clip of ``clip_len`` frames around one annotated *key*
frame. The data info holds

* ``frame_paths`` (T paths), ``clip_frame_indices`` (their indices in the
  video), ``key_frame`` (the key frame's position in the clip),
* ``img_path`` / ``seg_map_path``: the key frame's image and mask,
* ``seg_map_paths`` and ``gt_frames``: the masks to load and their clip
  positions (the key frame only, or every frame of the clip),
* ``video_name`` and ``frame_index`` (key frame's index in the video), used by
  :class:`~mmsvf.evaluation.VideoConsistencyMetric`,
* ``num_classes``, ``ignore_index``, ``reduce_zero_label``, ``label_map``,
  used by :class:`~mmsvf.datasets.LoadClipAnnotations`.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmengine
import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets import BaseSegDataset, CityscapesDataset

from mmsvf.registry import DATASETS
from .annotation_checks import AnnotationError

__all__ = ['VideoSegDataset', 'VSPWDataset', 'CityscapesSeqDataset',
           'VSPW_CLASSES']

#: VSPW's 124 classes, labels 1..124 in the masks (0 = "others", ignored
#: through ``reduce_zero_label``).
VSPW_CLASSES = (
    'wall', 'ceiling', 'door', 'stair', 'ladder', 'escalator',
    'Playground_slide', 'handrail_or_fence', 'window', 'rail', 'goal',
    'pillar', 'pole', 'floor', 'ground', 'grass', 'sand', 'athletic_field',
    'road', 'path', 'crosswalk', 'building', 'house', 'bridge', 'tower',
    'windmill', 'well_or_well_lid', 'other_construction', 'sky', 'mountain',
    'stone', 'wood', 'ice', 'snowfield', 'grandstand', 'sea', 'river', 'lake',
    'waterfall', 'water', 'billboard_or_Bulletin_Board', 'sculpture',
    'pipeline', 'flag', 'parasol_or_umbrella', 'cushion_or_carpet', 'tent',
    'roadblock', 'car', 'bus', 'truck', 'bicycle', 'motorcycle',
    'wheeled_machine', 'ship_or_boat', 'raft', 'airplane', 'tyre',
    'traffic_light', 'lamp', 'person', 'cat', 'dog', 'horse', 'cattle',
    'other_animal', 'tree', 'flower', 'other_plant', 'toy', 'ball_net',
    'backboard', 'skateboard', 'bat', 'ball',
    'cupboard_or_showcase_or_storage_rack', 'box',
    'traveling_case_or_trolley_case', 'basket', 'bag_or_package',
    'trash_can', 'cage', 'plate', 'tub_or_bowl_or_pot', 'bottle_or_cup',
    'barrel', 'fishbowl', 'bed', 'pillow', 'table_or_desk', 'chair_or_seat',
    'bench', 'sofa', 'shelf', 'bathtub', 'gun', 'commode', 'roaster',
    'other_machine', 'refrigerator', 'washing_machine', 'Microwave_oven',
    'fan', 'curtain', 'textiles', 'clothes', 'painting_or_poster', 'mirror',
    'flower_pot_or_vase', 'clock', 'book', 'tool', 'blackboard', 'tissue',
    'screen_or_television', 'computer', 'printer', 'Mobile_phone',
    'keyboard', 'other_electronic_product', 'fruit', 'food', 'instrument',
    'train')


def _fixed_palette(num: int, seed: int = 124) -> List[List[int]]:
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(num, 3)).tolist()


class VideoSegDataset(BaseSegDataset):
    """Base of the clip datasets (mmseg ``BaseSegDataset`` + clip sampling).

    Subclasses implement :meth:`load_data_list` with :meth:`make_clip_info`.

    Args:
        clip_len (int): T, frames per clip. Default 4.
        frame_interval (int): stride between clip frames (in video frames).
            Default 1.
        key_frame_index (int): position of the annotated key frame in the
            clip; -1 (default) = last, i.e. the key frame and the
            ``clip_len - 1`` frames before it.
        annotated_frames (str): ``'key'`` (default): load the key frame's
            mask only; ``'all'``: load the masks of every clip frame (when the
            dataset annotates them, e.g. VSPW) and compute the loss on all.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments
            (``data_root``, ``data_prefix``, ``ann_file``, ``pipeline``,
            ``test_mode``, ``reduce_zero_label``, ``metainfo``, ...).
    """

    def __init__(self,
                 clip_len: int = 4,
                 frame_interval: int = 1,
                 key_frame_index: int = -1,
                 annotated_frames: str = 'key',
                 **kwargs) -> None:
        if int(clip_len) < 1:
            raise ValueError(f'clip_len must be >= 1, got {clip_len}')
        if int(frame_interval) < 1:
            raise ValueError(
                f'frame_interval must be >= 1, got {frame_interval}')
        if not -clip_len <= key_frame_index < clip_len:
            raise ValueError(f'key_frame_index {key_frame_index} is outside '
                             f'a clip of {clip_len} frames')
        if annotated_frames not in ('key', 'all'):
            raise ValueError("annotated_frames must be 'key' or 'all', got "
                             f'{annotated_frames!r}')
        self.clip_len = int(clip_len)
        self.frame_interval = int(frame_interval)
        self.key_frame_index = int(key_frame_index) % self.clip_len
        self.annotated_frames = annotated_frames
        super().__init__(**kwargs)

    def clip_offsets(self) -> List[int]:
        """Offsets (in video frames) of the clip frames from the key frame."""
        return [(i - self.key_frame_index) * self.frame_interval
                for i in range(self.clip_len)]

    def make_clip_info(self, video_name: str, frame_index: int,
                       frame_paths: Sequence[str],
                       clip_frame_indices: Sequence[int],
                       mask_paths: Optional[Dict[int, str]]) -> dict:
        """Data info of one clip.

        Args:
            video_name (str): the video's name.
            frame_index (int): key frame's index in the video.
            frame_paths (Sequence[str]): the clip's T frame paths.
            clip_frame_indices (Sequence[int]): their indices in the video.
            mask_paths (dict[int, str] | None): video frame index → mask
                path for annotated frames; None for an unannotated video.

        Returns:
            dict: the data info (see the module docstring).
        """
        key = self.key_frame_index
        info = dict(
            img_path=frame_paths[key],
            frame_paths=list(frame_paths),
            clip_frame_indices=list(clip_frame_indices),
            clip_len=self.clip_len,
            key_frame=key,
            video_name=video_name,
            frame_index=int(frame_index),
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            num_classes=len(self.metainfo['classes']),
            ignore_index=self.ignore_index,
            seg_fields=[])
        if mask_paths:
            if self.annotated_frames == 'all':
                gt_frames = [
                    t for t, f in enumerate(clip_frame_indices)
                    if f in mask_paths
                ]
            else:
                gt_frames = [key] if frame_index in mask_paths else []
            info['seg_map_path'] = mask_paths.get(frame_index)
            info['gt_frames'] = gt_frames
            info['seg_map_paths'] = [
                mask_paths[clip_frame_indices[t]] for t in gt_frames
            ]
        else:
            info['seg_map_path'] = None
            info['gt_frames'] = []
            info['seg_map_paths'] = []
        return info


@DATASETS.register_module()
class VSPWDataset(VideoSegDataset):
    """VSPW (Miao et al., CVPR 2021) as T-frame clips.

    Layout (``data_root`` = e.g. ``data/VSPW_480p``)::

        train.txt / val.txt / test.txt     one video name per line
        data/<video>/origin/<frame>.jpg    frames
        data/<video>/mask/<frame>.png      P-mode masks, 0 = others,
                                           1..124 classes, 255 void

    One sample per annotated frame (every frame with a mask; every frame of
    an unannotated video in test mode), with the ``clip_len - 1`` frames
    before it at ``frame_interval`` (clamped at the video start; with
    ``key_frame_index`` < T-1 later frames are clamped at the video end).
    Frames and masks are paired by file stem and ordered by name.

    Args:
        ann_file (str): split file, relative to ``data_root``
            (``'train.txt'``).
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders holding
            the video folders. Default ``'data'`` for both.
        img_dir_name (str): frame sub-folder of a video. Default ``'origin'``.
        mask_dir_name (str): mask sub-folder. Default ``'mask'``.
        img_suffix (str): Default ``'.jpg'``.
        seg_map_suffix (str): Default ``'.png'``.
        reduce_zero_label (bool): Default True (0 = others → 255).
        **kwargs: :class:`VideoSegDataset` / ``BaseSegDataset`` arguments
            (``clip_len``, ``frame_interval``, ``key_frame_index``,
            ``annotated_frames``, ``pipeline``, ``test_mode``, ...).

    Raises:
        FileNotFoundError: split file or a listed video folder is missing.
        ValueError: in training a video has frames but no masks; frames and
            masks of a video do not pair up (names the video and frames).
    """

    METAINFO = dict(classes=VSPW_CLASSES, palette=_fixed_palette(124))

    def __init__(self,
                 ann_file: str = 'train.txt',
                 data_prefix: dict = dict(img_path='data',
                                          seg_map_path='data'),
                 img_dir_name: str = 'origin',
                 mask_dir_name: str = 'mask',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        self.img_dir_name = img_dir_name
        self.mask_dir_name = mask_dir_name
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    def _list(self, folder: str, suffix: str) -> Dict[str, str]:
        if not fileio.isdir(folder, backend_args=self.backend_args):
            return {}
        names = fileio.list_dir_or_file(
            folder,
            list_dir=False,
            suffix=suffix,
            recursive=False,
            backend_args=self.backend_args)
        return {
            name[:-len(suffix)]: osp.join(folder, name)
            for name in sorted(names)
        }

    def _video_frames(self, video: str, where: Optional[str] = None):
        where = where or self.ann_file
        img_dir = osp.join(self.data_prefix['img_path'], video,
                           self.img_dir_name)
        mask_dir = osp.join(self.data_prefix['seg_map_path'], video,
                            self.mask_dir_name)
        if not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'VSPW video "{video}" listed in {where} has no '
                f'frame folder {img_dir}')
        frames = self._list(img_dir, self.img_suffix)
        if not frames:
            raise ValueError(f'VSPW video "{video}": no "*{self.img_suffix}" '
                             f'frames in {img_dir}')
        masks = self._list(mask_dir, self.seg_map_suffix)
        if not masks:
            if not self.test_mode:
                raise ValueError(
                    f'VSPW video "{video}": {len(frames)} frames in '
                    f'{img_dir} but no "*{self.seg_map_suffix}" masks in '
                    f'{mask_dir}; training needs masks (an unannotated '
                    'video is only allowed with test_mode=True)')
            return frames, None
        if set(frames) != set(masks):
            no_mask = sorted(set(frames) - set(masks))
            no_frame = sorted(set(masks) - set(frames))
            raise ValueError(
                f'VSPW video "{video}": {len(frames)} frames but '
                f'{len(masks)} masks; frames without a mask: '
                f'{no_mask[:5]}{" ..." if len(no_mask) > 5 else ""}, masks '
                f'without a frame: {no_frame[:5]}'
                f'{" ..." if len(no_frame) > 5 else ""} (in {img_dir} and '
                f'{mask_dir})')
        return frames, masks

    def load_data_list(self) -> List[dict]:
        """One clip per annotated frame of every listed video.

        Returns:
            list[dict]: data infos (see :class:`VideoSegDataset`).
        """
        if not self.ann_file or not fileio.isfile(
                self.ann_file, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'VSPW split file not found: {self.ann_file!r}')
        videos = []
        for lineno, line in enumerate(
                mmengine.list_from_file(
                    self.ann_file, backend_args=self.backend_args), 1):
            if not line.strip():
                continue
            if len(line.split()) != 1:
                raise AnnotationError(
                    f'{self.ann_file}:{lineno}: expected one video name '
                    f'per line, got {line.strip()!r}')
            videos.append((line.strip(), f'{self.ann_file}:{lineno}'))
        if not videos:
            raise AnnotationError(f'VSPW split file {self.ann_file} lists no '
                                  'video (expected one video name per line)')
        offsets = self.clip_offsets()
        data_list = []
        for video, where in videos:
            frames, masks = self._video_frames(video, where)
            stems = list(frames)  # sorted by name
            paths = [frames[s] for s in stems]
            mask_paths = None if masks is None else {
                i: masks[s]
                for i, s in enumerate(stems)
            }
            last = len(stems) - 1
            for key in range(len(stems)):
                idx = [min(max(key + o, 0), last) for o in offsets]
                data_list.append(
                    self.make_clip_info(video, key, [paths[i] for i in idx],
                                        idx, mask_paths))
        return data_list


@DATASETS.register_module()
class CityscapesSeqDataset(VideoSegDataset):
    """Cityscapes video sequences: clips ending at the annotated frame.

    Layout (``data_root`` = ``data/cityscapes``)::

        leftImg8bit_sequence/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png

    Each 30-frame snippet has its 20th frame annotated. One sample per
    annotation file: frame numbers ``frame + (i - key_frame_index) *
    frame_interval``, i.e. by default the annotated frame and the
    ``clip_len - 1`` frames before it. Classes and palette are mmseg
    ``CityscapesDataset``'s (19 train ids).

    Args:
        data_prefix (dict): ``img_path`` (sequence frames) and
            ``seg_map_path`` (gtFine) folders of one split.
        img_suffix (str): Default ``'_leftImg8bit.png'``.
        seg_map_suffix (str): Default ``'_gtFine_labelTrainIds.png'``.
        missing_frames (str): ``'error'`` (default): a clip frame file that
            does not exist raises; ``'nearest'``: use the nearest existing
            frame towards the annotated one (with only ``leftImg8bit`` the
            clip repeats the annotated frame).
        **kwargs: :class:`VideoSegDataset` / ``BaseSegDataset`` arguments.

    Raises:
        FileNotFoundError: the annotated frame's image or (with ``'error'``)
            a clip frame is missing (names the file).
        ValueError: an annotation file name is not
            ``<city>_<seq>_<frame><seg_map_suffix>``.
    """

    METAINFO = CityscapesDataset.METAINFO

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path='leftImg8bit_sequence/train',
                     seg_map_path='gtFine/train'),
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 missing_frames: str = 'error',
                 **kwargs) -> None:
        if missing_frames not in ('error', 'nearest'):
            raise ValueError("missing_frames must be 'error' or 'nearest', "
                             f'got {missing_frames!r}')
        self.missing_frames = missing_frames
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _frame_path(self, rel_dir: str, city: str, seq: str,
                    frame: int) -> str:
        return osp.join(self.data_prefix['img_path'], rel_dir,
                        f'{city}_{seq}_{frame:06d}{self.img_suffix}')

    def load_data_list(self) -> List[dict]:
        """One clip per ``*_gtFine_labelTrainIds.png`` file.

        Returns:
            list[dict]: data infos (see :class:`VideoSegDataset`).
        """
        ann_dir = self.data_prefix['seg_map_path']
        if not fileio.isdir(ann_dir, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'Cityscapes annotation folder not found: {ann_dir}')
        offsets = self.clip_offsets()
        data_list = []
        gt_files = sorted(
            fileio.list_dir_or_file(
                ann_dir,
                list_dir=False,
                suffix=self.seg_map_suffix,
                recursive=True,
                backend_args=self.backend_args))
        for rel in gt_files:
            rel_dir, name = osp.split(rel)
            parts = name[:-len(self.seg_map_suffix)].rsplit('_', 2)
            if len(parts) != 3 or not (parts[1].isdigit()
                                       and parts[2].isdigit()):
                raise ValueError(
                    f'Cityscapes annotation {osp.join(ann_dir, rel)} is not '
                    f'named <city>_<seq>_<frame>{self.seg_map_suffix}')
            city, seq, frame = parts[0], parts[1], int(parts[2])
            key_path = self._frame_path(rel_dir, city, seq, frame)
            if not fileio.exists(key_path, backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'Cityscapes sequence {city}_{seq}: annotated frame '
                    f'{frame} has no image {key_path}')
            indices, paths = [], []
            for offset in offsets:
                index = frame + offset
                path = self._frame_path(rel_dir, city, seq, index)
                while not fileio.exists(path,
                                        backend_args=self.backend_args):
                    if self.missing_frames == 'error':
                        raise FileNotFoundError(
                            f'Cityscapes sequence {city}_{seq}: clip frame '
                            f'{index} (annotated frame {frame}, offset '
                            f'{offset}) not found: {path}; set '
                            "missing_frames='nearest' to fall back to the "
                            'nearest existing frame')
                    index += 1 if index < frame else -1
                    path = self._frame_path(rel_dir, city, seq, index)
                indices.append(index)
                paths.append(path)
            mask_paths = {frame: osp.join(ann_dir, rel)}
            data_list.append(
                self.make_clip_info(f'{city}_{seq}', frame, paths, indices,
                                    mask_paths))
        if not data_list:
            raise ValueError(f'no "*{self.seg_map_suffix}" annotation in '
                             f'{ann_dir}')
        return data_list
