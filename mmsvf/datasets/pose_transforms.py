# Copyright (c) mmsvf contributors. All rights reserved.
"""Clip transforms for SMPL pose tracking (every frame of a clip gets the
same geometric change, and the camera intrinsics follow it)."""
import os.path as osp
from typing import Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

from mmsvf.registry import TRANSFORMS

__all__ = [
    'LoadMMHPSDClip', 'ClipPoseResize', 'ClipPoseRandomResizedCrop',
    'PackClipPoseInputs', 'POSE_FIELDS'
]

#: pose-file fields -> (accepted shapes, output key); None = any length
POSE_FIELDS = {
    'joints3d': (((24, 3), ), 'joints3d'),
    'joints2d': (((24, 2), (24, 3)), 'joints2d'),
    'trans': (((3, ), (1, 3)), 'transl'),
    'body_pose': (((72, ), (1, 72)), 'body_pose'),
    'beta': (((10, ), (1, 10)), 'betas'),
}


def _read_pose(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'MMHPSD pose file not found: {path}')
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in npz.files}
    except Exception as err:
        raise ValueError(f'MMHPSD pose file {path} is not a readable .npz: '
                         f'{err}') from err
    out = {}
    for field, (shapes, key) in POSE_FIELDS.items():
        if field not in raw:
            raise KeyError(f'MMHPSD pose file {path} lacks field "{field}"')
        value = np.asarray(raw[field])
        if value.shape not in shapes or not np.issubdtype(
                value.dtype, np.number):
            raise ValueError(
                f'MMHPSD pose file {path}: field "{field}" has shape '
                f'{value.shape} ({value.dtype}), expected one of '
                f'{" or ".join(str(s) for s in shapes)}')
        value = value.astype(np.float32).reshape(-1, value.shape[-1])
        if field == 'joints2d':
            value = value[:, :2]
        out[key] = value if field in ('joints3d', 'joints2d') else value[0]
    return out


def _scale_intrinsics(k: np.ndarray, sx: float, sy: float, x0: float = 0.,
                      y0: float = 0.) -> np.ndarray:
    """Intrinsics after cropping at ``(x0, y0)`` and scaling by ``sx, sy``."""
    fx, fy, cx, cy = k
    return np.array([fx * sx, fy * sy, (cx - x0) * sx, (cy - y0) * sy],
                    dtype=np.float32)


@TRANSFORMS.register_module()
class LoadMMHPSDClip(BaseTransform):
    """Read the frames (or event frames) and the pose files of a clip.

    Required keys: ``pose_paths``, ``img_paths`` (grey-scale) or
    ``event_paths`` (events), ``intrinsics``, ``intrinsics_size``,
    ``joints2d_size``.

    Added keys: ``imgs`` (list of T ``(H, W, C)`` uint8 arrays: ``C = 1``
    grey, 3 colour (RGB), ``event_channels`` for events with values 0/1),
    ``img_shape``, ``ori_shape`` ``(H, W)``, ``intrinsics (4,)`` at the frame
    size, ``joints3d (T, 24, 3)``, ``joints2d (T, 24, 2)`` (pixels of the
    frames), ``transl (T, 3)``, ``body_pose (T, 72)``, ``betas (T, 10)``.

    Args:
        color_type (str): ``'grayscale'`` (default, ``C = 1``) or ``'color'``
            (``C = 3``, RGB) for the frames.
        event_size (Sequence[int]): ``(W, H)`` of the packed event frames.
            Default ``(256, 256)``.
    """

    def __init__(self,
                 color_type: str = 'grayscale',
                 event_size: Sequence[int] = (256, 256)):
        if color_type not in ('grayscale', 'color'):
            raise ValueError(f"color_type must be 'grayscale' or 'color', got "
                             f'{color_type!r}')
        self.color_type = color_type
        self.event_size = tuple(int(v) for v in event_size)

    def _load_frame(self, path):
        if not osp.isfile(path):
            raise FileNotFoundError(f'MMHPSD frame not found: {path}')
        img = mmcv.imread(path, flag=self.color_type, channel_order='rgb')
        if img is None:
            raise ValueError(f'MMHPSD frame {path} could not be decoded')
        return img[..., None] if img.ndim == 2 else img

    def _load_events(self, paths, channels):
        w, h = self.event_size
        acc = np.zeros((h, w, channels), dtype=bool)
        for path in paths:
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'MMHPSD event frame not found: {path}')
            with np.load(path, allow_pickle=False) as npz:
                if 'events_frame' not in npz.files:
                    raise KeyError(f'MMHPSD event file {path} lacks field '
                                   '"events_frame"')
                bits = np.unpackbits(npz['events_frame'])
            if bits.size < h * w * channels:
                raise ValueError(
                    f'MMHPSD event file {path}: field "events_frame" unpacks '
                    f'to {bits.size} bits, expected {h}x{w}x{channels} '
                    '(set LoadMMHPSDClip.event_size)')
            acc |= bits[:h * w * channels].reshape(h, w, channels).astype(bool)
        return acc.astype(np.uint8)

    def transform(self, results: dict) -> dict:
        if results.get('modality', 'grayscale') == 'events':
            channels = results.get('event_channels', 4)
            imgs = [self._load_events(p, channels)
                    for p in results['event_paths']]
        else:
            imgs = [self._load_frame(p) for p in results['img_paths']]
        shapes = {im.shape for im in imgs}
        if len(shapes) != 1:
            raise ValueError(f'frames of one clip differ in size {shapes}: '
                             f'{results.get("img_paths")}')
        h, w = imgs[0].shape[:2]
        poses = [_read_pose(p) for p in results['pose_paths']]
        for key in ('joints3d', 'joints2d', 'transl', 'body_pose', 'betas'):
            results[key] = np.stack([p[key] for p in poses])
        j2d_size = results.get('joints2d_size') or (w, h)
        results['joints2d'] *= np.array(
            [w / j2d_size[0], h / j2d_size[1]], dtype=np.float32)
        k_w, k_h = results.get('intrinsics_size', (w, h))
        results['intrinsics'] = _scale_intrinsics(
            np.asarray(results['intrinsics'], dtype=np.float32), w / k_w,
            h / k_h)
        results['imgs'] = imgs
        results['img_shape'] = results['ori_shape'] = (h, w)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(color_type={self.color_type!r}, '
                f'event_size={self.event_size})')


def _resize_clip(results, x0, y0, cw, ch, out_w, out_h):
    """Crop ``[x0, x0+cw) x [y0, y0+ch)`` of every frame, resize to
    ``out_w x out_h`` and update joints2d and intrinsics."""
    binary = results.get('modality') == 'events'
    interp = cv2.INTER_NEAREST if binary else cv2.INTER_LINEAR
    imgs = []
    for img in results['imgs']:
        crop = img[y0:y0 + ch, x0:x0 + cw]
        out = cv2.resize(crop, (out_w, out_h), interpolation=interp)
        imgs.append(out.reshape(out_h, out_w, img.shape[2]))
    sx, sy = out_w / cw, out_h / ch
    results['imgs'] = imgs
    results['joints2d'] = ((results['joints2d'] - np.array(
        [x0, y0], np.float32)) * np.array([sx, sy], np.float32)).astype(
            np.float32)
    results['intrinsics'] = _scale_intrinsics(results['intrinsics'], sx, sy,
                                              x0, y0)
    results['img_shape'] = (out_h, out_w)
    return results


@TRANSFORMS.register_module()
class ClipPoseResize(BaseTransform):
    """Resize every frame of a clip to ``scale = (W, H)``.

    ``joints2d`` and ``intrinsics`` (``fx, cx`` × ``W/W0``, ``fy, cy`` ×
    ``H/H0``) are rescaled; 3-D quantities are unchanged.
    """

    def __init__(self, scale: Sequence[int]):
        self.scale = tuple(int(v) for v in scale)
        if len(self.scale) != 2 or min(self.scale) < 1:
            raise ValueError(
                f'ClipPoseResize.scale must be (W, H), got {scale}')

    def transform(self, results: dict) -> dict:
        h, w = results['img_shape']
        return _resize_clip(results, 0, 0, w, h, *self.scale)

    def __repr__(self):
        return f'{self.__class__.__name__}(scale={self.scale})'


@TRANSFORMS.register_module()
class ClipPoseRandomResizedCrop(BaseTransform):
    """One random crop for the whole clip, resized to ``size = (W, H)``.

    The crop covers ``area_range`` of the frame with aspect ratio
    (``w/h``) in ``aspect_range``. A crop is a change of the camera's
    intrinsics only (``cx, cy`` shift, ``fx, fy, cx, cy`` scale), so the 3-D
    targets stay valid. Joints may leave the crop; their 2-D targets then lie
    outside the image.

    Args:
        size (Sequence[int]): Output ``(W, H)``.
        area_range (Sequence[float]): Crop area fraction. Default
            ``(0.64, 1.0)``.
        aspect_range (Sequence[float]): Crop ``w/h`` range. Default
            ``(0.8, 1.25)``.
        prob (float): Probability of cropping; otherwise a plain resize.
    """

    def __init__(self,
                 size: Sequence[int],
                 area_range: Tuple[float, float] = (0.64, 1.0),
                 aspect_range: Tuple[float, float] = (0.8, 1.25),
                 prob: float = 1.0):
        self.size = tuple(int(v) for v in size)
        if len(self.size) != 2:
            raise ValueError(f'size must be (W, H), got {size}')
        if not 0 < area_range[0] <= area_range[1] <= 1:
            raise ValueError(f'area_range must be within (0, 1], got '
                             f'{area_range}')
        self.area_range = tuple(area_range)
        self.aspect_range = tuple(aspect_range)
        self.prob = prob

    def _box(self, w, h):
        area = w * h * np.random.uniform(*self.area_range)
        log_r = np.log(self.aspect_range)
        ratio = np.exp(np.random.uniform(*log_r))
        cw = int(round(min(w, np.sqrt(area * ratio))))
        ch = int(round(min(h, np.sqrt(area / ratio))))
        cw, ch = max(cw, 1), max(ch, 1)
        x0 = np.random.randint(0, w - cw + 1)
        y0 = np.random.randint(0, h - ch + 1)
        return x0, y0, cw, ch

    def transform(self, results: dict) -> dict:
        h, w = results['img_shape']
        if np.random.rand() < self.prob:
            x0, y0, cw, ch = self._box(w, h)
        else:
            x0, y0, cw, ch = 0, 0, w, h
        return _resize_clip(results, x0, y0, cw, ch, *self.size)

    def __repr__(self):
        return (f'{self.__class__.__name__}(size={self.size}, area_range='
                f'{self.area_range}, aspect_range={self.aspect_range}, '
                f'prob={self.prob})')


@TRANSFORMS.register_module()
class PackClipPoseInputs(BaseTransform):
    """Pack a clip and its per-frame SMPL ground truth.

    ``inputs``: ``(T, C, H, W)`` uint8 tensor. ``data_samples``: a
    ``PoseDataSample`` whose instances are the T frames:

    * ``gt_instances`` (numpy, for metrics): ``lifting_target (T, J, 3)``,
      ``lifting_target_visible (T, J)``, ``keypoints (T, J, 2)``,
      ``keypoints_visible (T, J)``;
    * ``gt_instance_labels`` (tensors, for losses): ``joints3d``,
      ``joints2d``, ``joints_visible``, ``body_pose (T, 72)``,
      ``betas (T, 10)``, ``transl (T, 3)``;
    * metainfo: ``meta_keys`` present in the results (``intrinsics`` and
      ``img_shape`` are needed by the head).

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('action', 'subject',
                                             'frame_inds', 'img_paths',
                                             'target_img_path', 'intrinsics',
                                             'img_shape', 'ori_shape',
                                             'modality')):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        imgs = np.stack(results['imgs'])  # (T, H, W, C)
        inputs = torch.from_numpy(
            np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
        t, j = results['joints3d'].shape[:2]
        visible = np.ones((t, j), dtype=np.float32)
        gt = InstanceData()
        gt.lifting_target = results['joints3d']
        gt.lifting_target_visible = visible
        gt.keypoints = results['joints2d']
        gt.keypoints_visible = visible
        labels = InstanceData()
        labels.joints3d = torch.from_numpy(results['joints3d'])
        labels.joints2d = torch.from_numpy(results['joints2d'])
        labels.joints_visible = torch.from_numpy(visible)
        labels.body_pose = torch.from_numpy(results['body_pose'])
        labels.betas = torch.from_numpy(results['betas'])
        labels.transl = torch.from_numpy(results['transl'])
        sample = PoseDataSample(gt_instances=gt, gt_instance_labels=labels)
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self):
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
