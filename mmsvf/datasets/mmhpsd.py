# Copyright (c) mmsvf contributors. All rights reserved.
"""MMHPSD (Zou et al., EventHPE, ICCV 2021): clips for SMPL pose tracking.

Layout (the one of the authors' loaders; folder names are configurable with
``data_prefix``)::

    <data_root>/mmhpsd_grayscale_img/<action>/imgs/fullpic%04d.jpg
    <data_root>/mmhpsd_events/<action>/poses/pose_%04d.npz
    <data_root>/mmhpsd_events/<action>/events_frame_%02d/events_%04d.npz

The event frames are optional. ``<action>`` is ``subjectXX_groupY_timeZ``;
the subject number ``XX`` decides the split (test subjects 1, 2 and 7). A
pose file holds ``joints3d (24, 3)``
(camera frame, metres, translation included), ``joints2d (24, 2|3)``
(pixels; a third column is a confidence and is dropped), ``trans (1, 3)``,
``body_pose (1, 72)`` (SMPL axis-angle incl. the global orientation) and
``beta (1, 10)``. The camera intrinsics are ``fx = fy = 1679.3``,
``cx = cy = 641`` at 1280 px and are scaled with the image size.
"""
import os
import os.path as osp
import re
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset

from mmsvf.models.pose.smpl import SMPL_JOINT_NAMES, SMPL_PARENTS
from mmsvf.registry import DATASETS

__all__ = ['MMHPSDDataset', 'MMHPSD_INTRINSICS']

#: (fx, fy, cx, cy) of the MMHPSD frame camera at 1280 x 1280 pixels
MMHPSD_INTRINSICS = (1679.3, 1679.3, 641., 641.)

_SUBJECT = re.compile(r'^subject(\d+)$')
_POSE = re.compile(r'^pose_(\d+)\.npz$')


@DATASETS.register_module()
class MMHPSDDataset(BaseDataset):
    """Fixed-length clips of MMHPSD grey-scale frames (or event frames) with
    per-frame SMPL ground truth.

    Each sample is ``clip_len`` frames ``start, start + frame_interval, ...``
    of one action; clip starts advance by ``clip_stride`` frames and a clip
    is kept only when every one of its pose files exists. The data info
    carries the paths; :class:`LoadMMHPSDClip` reads them.

    Args:
        data_root (str): Dataset root.
        split (str): ``'train'`` (subjects not in ``test_subjects``),
            ``'test'`` (``test_subjects``) or ``'all'``.
        clip_len (int): Frames per clip ``T``. Default 8.
        frame_interval (int): Step between frames of a clip. Default 2 (the
            predecessor's test gap).
        clip_stride (int, optional): Step between clip starts, in frames.
            Default ``clip_len * frame_interval`` (non-overlapping clips).
        test_subjects (Sequence[int]): Default ``(1, 2, 7)``.
        subjects (Sequence[int], optional): Explicit subject list; overrides
            ``split``.
        modality (str): ``'grayscale'`` (frames) or ``'events'``.
        event_channels (int): Channels of the event frames (folder
            ``events_frame_<C:02d>``). Default 4.
        intrinsics (Sequence[float]): ``(fx, fy, cx, cy)`` at
            ``intrinsics_size``. Default MMHPSD's.
        intrinsics_size (Sequence[int]): ``(W, H)`` the intrinsics refer to.
            Default ``(1280, 1280)``.
        joints2d_size (Sequence[int], optional): ``(W, H)`` the stored
            ``joints2d`` refer to; None: the stored frames' size.
        data_prefix (dict): ``img``, ``pose`` and ``events`` folders
            (relative to ``data_root``).
        pipeline (list): Transforms.
        test_mode (bool): Test mode.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(
        dataset_name='mmhpsd',
        num_keypoints=24,
        keypoint_names=list(SMPL_JOINT_NAMES),
        parents=list(SMPL_PARENTS))

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 clip_len: int = 8,
                 frame_interval: int = 2,
                 clip_stride: Optional[int] = None,
                 test_subjects: Sequence[int] = (1, 2, 7),
                 subjects: Optional[Sequence[int]] = None,
                 modality: str = 'grayscale',
                 event_channels: int = 4,
                 intrinsics: Sequence[float] = MMHPSD_INTRINSICS,
                 intrinsics_size: Sequence[int] = (1280, 1280),
                 joints2d_size: Optional[Sequence[int]] = None,
                 data_prefix: dict = dict(
                     img='mmhpsd_grayscale_img',
                     pose='mmhpsd_events',
                     events='mmhpsd_events'),
                 pipeline: list = [],
                 test_mode: bool = False,
                 **kwargs):
        if split not in ('train', 'test', 'all'):
            raise ValueError(f"MMHPSDDataset: split must be 'train', 'test' "
                             f"or 'all', got {split!r}")
        if modality not in ('grayscale', 'events'):
            raise ValueError(f"MMHPSDDataset: modality must be 'grayscale' "
                             f"or 'events', got {modality!r}")
        if clip_len < 1 or frame_interval < 1:
            raise ValueError('MMHPSDDataset: clip_len and frame_interval must '
                             f'be >= 1, got {clip_len}, {frame_interval}')
        if len(intrinsics) != 4 or len(intrinsics_size) != 2:
            raise ValueError('MMHPSDDataset: intrinsics must be (fx, fy, cx, '
                             'cy) and intrinsics_size (W, H)')
        self.split = split
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.clip_stride = clip_stride or clip_len * frame_interval
        self.test_subjects = tuple(int(s) for s in test_subjects)
        self.subjects = None if subjects is None else tuple(
            int(s) for s in subjects)
        self.modality = modality
        self.event_channels = event_channels
        self.intrinsics = tuple(float(v) for v in intrinsics)
        self.intrinsics_size = tuple(int(v) for v in intrinsics_size)
        self.joints2d_size = None if joints2d_size is None else tuple(
            int(v) for v in joints2d_size)
        prefix = dict(
            img='mmhpsd_grayscale_img',
            pose='mmhpsd_events',
            events='mmhpsd_events')
        prefix.update(data_prefix or {})
        super().__init__(
            data_root=data_root,
            data_prefix=prefix,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    @staticmethod
    def parse_subject(action: str) -> int:
        """Subject number of an action folder ``subjectXX_groupY_timeZ``."""
        match = _SUBJECT.match(action.split('_')[0])
        if match is None:
            raise ValueError(
                f'MMHPSD action folder "{action}" does not start with '
                '"subject<number>_" (expected e.g. subject01_group1_time1)')
        return int(match.group(1))

    def _keep_subject(self, subject: int) -> bool:
        if self.subjects is not None:
            return subject in self.subjects
        if self.split == 'all':
            return True
        return (subject in self.test_subjects) == (self.split == 'test')

    def load_data_list(self) -> List[dict]:
        """Scan the pose folders and cut them into clips."""
        pose_root = self.data_prefix['pose']
        if not osp.isdir(pose_root):
            raise FileNotFoundError(
                f'MMHPSDDataset: pose folder "{pose_root}" not found '
                f'(data_root={self.data_root!r}, data_prefix.pose)')
        actions = sorted(
            a for a in os.listdir(pose_root)
            if osp.isdir(osp.join(pose_root, a, 'poses')))
        if not actions:
            raise FileNotFoundError(
                f'MMHPSDDataset: no "<action>/poses" folders under '
                f'"{pose_root}"')
        span = (self.clip_len - 1) * self.frame_interval
        data_list = []
        for action in actions:
            subject = self.parse_subject(action)
            if not self._keep_subject(subject):
                continue
            pose_dir = osp.join(pose_root, action, 'poses')
            frames = sorted(
                int(m.group(1))
                for m in map(_POSE.match, os.listdir(pose_dir)) if m)
            available = set(frames)
            if not frames:
                continue
            start = frames[0]
            while start + span <= frames[-1]:
                inds = [
                    start + k * self.frame_interval
                    for k in range(self.clip_len)
                ]
                if all(i in available for i in inds):
                    data_list.append(self._clip_info(action, subject, inds))
                start += self.clip_stride
        if not data_list:
            raise ValueError(
                f'MMHPSDDataset: no clip of {self.clip_len} frames (interval '
                f'{self.frame_interval}) with all pose files found under '
                f'"{pose_root}" for split={self.split!r}, subjects='
                f'{self.subjects or "by split"}, test_subjects='
                f'{self.test_subjects}')
        return data_list

    def _clip_info(self, action: str, subject: int, inds: List[int]) -> dict:
        img_dir = osp.join(self.data_prefix['img'], action, 'imgs')
        pose_dir = osp.join(self.data_prefix['pose'], action, 'poses')
        info = dict(
            action=action,
            subject=subject,
            frame_inds=inds,
            modality=self.modality,
            img_paths=[osp.join(img_dir, f'fullpic{i:04d}.jpg') for i in inds],
            pose_paths=[osp.join(pose_dir, f'pose_{i:04d}.npz') for i in inds],
            # names shaped "<subject>_<rest>.<frame>" so that mmpose's MPJPE
            # metric can derive an action category from them
            target_img_path=[f'{action}.fullpic{i:04d}.jpg' for i in inds],
            intrinsics=self.intrinsics,
            intrinsics_size=self.intrinsics_size,
            joints2d_size=self.joints2d_size)
        if self.modality == 'events':
            ev_dir = osp.join(self.data_prefix['events'], action,
                              f'events_frame_{self.event_channels:02d}')
            info['event_paths'] = [[
                osp.join(ev_dir, f'events_{i + k:04d}.npz')
                for k in range(self.frame_interval)
            ] for i in inds]
            info['event_channels'] = self.event_channels
        return info
