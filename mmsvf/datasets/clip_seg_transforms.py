# Copyright (c) mmsvf contributors. All rights reserved.
"""Clip-consistent transforms for video semantic segmentation.

A clip travels through the pipeline as

* ``results['imgs']``: list of ``T`` frames ``(H, W, C)`` (``uint8``),
* ``results['gt_seg_maps']``: list of ``K`` label maps ``(H, W)`` for the
  clip indices ``results['gt_frames']`` (usually ``[key_frame]``),

plus the dataset's metainfo (``frame_paths``, ``seg_map_paths``,
``key_frame``, ``video_name``, ``frame_index``, ...). Every random parameter
(scale, crop window, flip, photometric jitter) is drawn **once per clip** and
applied to every frame and label map, by wrapping the upstream mmcv / mmseg
transforms (``LoadImageFromFile``, ``LoadAnnotations``, ``Resize``,
``RandomCrop``, ...).
"""
import random
from typing import List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, LoadImageFromFile, Resize
from mmengine.structures import PixelData
from mmseg.datasets.transforms import LoadAnnotations, RandomCrop
from mmseg.structures import SegDataSample

from mmsvf.registry import TRANSFORMS

__all__ = [
    'LoadClipFromFiles', 'LoadClipAnnotations', 'ClipResize',
    'ClipRandomResize', 'ClipRandomCrop', 'ClipRandomFlip', 'ClipConsistent',
    'PackClipSegInputs'
]


def _where(results: dict, path: Optional[str] = None) -> str:
    video = results.get('video_name', '?')
    frame = path if path is not None else results.get('img_path', '?')
    return f'video "{video}", frame {frame}'


def _check_clip(results: dict, name: str) -> None:
    if 'imgs' not in results:
        raise KeyError(f'{name} needs results["imgs"] (a list of frames); '
                       'put mmsvf.LoadClipFromFiles first in the pipeline')


def _gt_frames(results: dict) -> List[int]:
    if 'gt_seg_maps' not in results:  # annotations not loaded (yet)
        return []
    gts = results['gt_seg_maps']
    frames = list(results.get('gt_frames', []))
    if len(frames) != len(gts):
        raise ValueError(f'{len(gts)} label maps but gt_frames={frames} '
                         f'({_where(results)})')
    return frames


def _per_frame(results: dict):
    """Yield ``(t, frame_dict)`` with ``gt_seg_map`` for annotated frames."""
    frames = _gt_frames(results)
    gts = results.get('gt_seg_maps', [])
    for t, img in enumerate(results['imgs']):
        item = dict(img=img, img_shape=img.shape[:2])
        if t in frames:
            item['gt_seg_map'] = gts[frames.index(t)]
            item['seg_fields'] = ['gt_seg_map']
        else:
            item['seg_fields'] = []
        yield t, item


def _collect(results: dict, items: List[dict]) -> None:
    frames = _gt_frames(results)
    results['imgs'] = [item['img'] for item in items]
    if frames:
        results['gt_seg_maps'] = [items[t]['gt_seg_map'] for t in frames]
    results['img_shape'] = results['imgs'][0].shape[:2]


@TRANSFORMS.register_module()
class LoadClipFromFiles(BaseTransform):
    """Load the T frames of a clip (mmcv ``LoadImageFromFile`` per frame).

    Required keys: ``frame_paths`` (list of T paths). Added keys: ``imgs``
    (list of ``(H, W, C)`` arrays), ``img_shape``, ``ori_shape``.

    Args:
        to_float32 (bool): convert frames to float32. Default False.
        color_type (str): ``'color'`` (default) / ``'grayscale'`` /
            ``'unchanged'``.
        imdecode_backend (str): mmcv decoding backend. Default ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        FileNotFoundError / ValueError: a frame cannot be read or has a
            different size than the other frames (message names the video
            and frame).
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.loader = LoadImageFromFile(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)

    def transform(self, results: dict) -> dict:
        """Load every path of ``results['frame_paths']``."""
        paths = results.get('frame_paths')
        if not paths:
            raise KeyError('LoadClipFromFiles needs a non-empty '
                           f'results["frame_paths"] ({_where(results)})')
        imgs = []
        for path in paths:
            try:
                img = self.loader.transform(dict(img_path=path))['img']
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'cannot read {_where(results, path)}: {err}') from err
            except (AssertionError, OSError) as err:
                raise ValueError(
                    f'cannot decode {_where(results, path)}: {err}') from err
            if imgs and img.shape != imgs[0].shape:
                raise ValueError(
                    f'frame size mismatch in {_where(results, path)}: '
                    f'{img.shape} vs {imgs[0].shape} for {paths[0]}')
            imgs.append(img)
        results['imgs'] = imgs
        results['img_shape'] = imgs[0].shape[:2]
        results['ori_shape'] = imgs[0].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.loader!r})'


@TRANSFORMS.register_module()
class LoadClipAnnotations(BaseTransform):
    """Load the label maps of the annotated frames of a clip.

    Wraps mmseg ``LoadAnnotations`` (``reduce_zero_label`` and ``label_map``
    from the dataset) per path of ``results['seg_map_paths']`` and checks
    every label: values must be ``ignore_index`` or in
    ``[0, num_classes)`` (``num_classes``/``ignore_index`` come from the
    dataset's data info).

    Added keys: ``gt_seg_maps`` (list of K ``(H, W)`` uint8 maps),
    ``seg_fields``. A clip without ``seg_map_paths`` (unannotated test
    video) passes through unchanged.

    Args:
        imdecode_backend (str): Default ``'pillow'`` (P-mode PNGs).
        backend_args (dict, optional): mmengine file backend arguments.

    Raises:
        ValueError: a map has labels outside the class range or a size that
            differs from its frame (message names the video and frame).
    """

    def __init__(self,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Load ``seg_map_paths`` into ``gt_seg_maps``."""
        paths = results.get('seg_map_paths') or []
        if not paths:
            return results
        num_classes = results.get('num_classes')
        ignore_index = results.get('ignore_index', 255)
        loader = LoadAnnotations(
            imdecode_backend=self.imdecode_backend,
            backend_args=self.backend_args)
        gts = []
        for path in paths:
            item = dict(
                seg_map_path=path,
                reduce_zero_label=results.get('reduce_zero_label', False),
                label_map=results.get('label_map'),
                seg_fields=[])
            try:
                gt = loader.transform(item)['gt_seg_map']
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'cannot read mask of {_where(results, path)}: '
                    f'{err}') from err
            if num_classes is not None:
                labels = np.unique(gt)
                bad = labels[(labels >= num_classes)
                             & (labels != ignore_index)]
                if bad.size:
                    raise ValueError(
                        f'mask of {_where(results, path)} has labels '
                        f'{bad.tolist()} outside the {num_classes} classes '
                        f'(valid: 0..{num_classes - 1} and ignore '
                        f'{ignore_index}, after reduce_zero_label='
                        f'{results.get("reduce_zero_label", False)})')
            ori_shape = results.get('ori_shape')
            if ori_shape is not None and tuple(gt.shape) != tuple(
                    ori_shape[:2]):
                raise ValueError(
                    f'mask of {_where(results, path)} is {gt.shape} but the '
                    f'frames are {tuple(ori_shape[:2])}')
            gts.append(gt)
        num_frames = len(results.get('frame_paths') or [None])
        frames = results.get('gt_frames', [results.get('key_frame', -1)])
        results['gt_frames'] = [int(f) % num_frames for f in frames]
        if len(results['gt_frames']) != len(gts):
            raise ValueError(
                f'{len(gts)} seg_map_paths but gt_frames='
                f'{results["gt_frames"]} ({_where(results)})')
        results['gt_seg_maps'] = gts
        results['seg_fields'] = ['gt_seg_maps']
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(imdecode_backend='
                f"'{self.imdecode_backend}')")


@TRANSFORMS.register_module()
class ClipResize(BaseTransform):
    """Resize every frame and label map of a clip alike (mmcv ``Resize``).

    Args:
        scale (int | tuple[int, int], optional): target ``(w, h)`` (or
            longest edge bound with ``keep_ratio``).
        scale_factor (float | tuple[float, float], optional): alternative to
            ``scale``.
        keep_ratio (bool): keep the aspect ratio. Default True.
        interpolation (str): image interpolation. Default ``'bilinear'``.

    Updated keys: ``imgs``, ``gt_seg_maps``, ``img_shape``, ``scale``,
    ``scale_factor``, ``keep_ratio``.
    """

    def __init__(self,
                 scale: Optional[Union[int, Tuple[int, int]]] = None,
                 scale_factor: Optional[Union[float, Tuple[float,
                                                           float]]] = None,
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear') -> None:
        self.resize = Resize(
            scale=scale,
            scale_factor=scale_factor,
            keep_ratio=keep_ratio,
            interpolation=interpolation)

    def transform(self, results: dict) -> dict:
        """Resize all frames (and annotated maps) with one set of params."""
        _check_clip(results, type(self).__name__)
        items = []
        for _, item in _per_frame(results):
            items.append(self.resize.transform(item))
        _collect(results, items)
        for key in ('scale', 'scale_factor', 'keep_ratio'):
            results[key] = items[0][key]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.resize!r})'


@TRANSFORMS.register_module()
class ClipRandomResize(BaseTransform):
    """Random rescale with one scale per clip (as mmcv ``RandomResize``).

    Args:
        scale (tuple[int, int] | list[tuple[int, int]]): base ``(w, h)``
            scale, or a list of scales to choose from.
        ratio_range (tuple[float, float], optional): a ratio drawn uniformly
            from this range multiplies ``scale``.
        keep_ratio (bool): Default True.
        interpolation (str): Default ``'bilinear'``.
    """

    def __init__(self,
                 scale: Union[Tuple[int, int], List[Tuple[int, int]]],
                 ratio_range: Optional[Tuple[float, float]] = None,
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear') -> None:
        if isinstance(scale, list):
            if ratio_range is not None:
                raise ValueError('ClipRandomResize: give a list of scales or '
                                 'a ratio_range, not both')
            self.scales = [tuple(s) for s in scale]
        else:
            if ratio_range is None:
                raise ValueError('ClipRandomResize: a single scale needs a '
                                 'ratio_range')
            self.scales = [tuple(scale)]
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation

    def _sample_scale(self) -> Tuple[int, int]:
        if self.ratio_range is None:
            return self.scales[np.random.randint(len(self.scales))]
        low, high = self.ratio_range
        ratio = np.random.random_sample() * (high - low) + low
        w, h = self.scales[0]
        return int(w * ratio), int(h * ratio)

    def transform(self, results: dict) -> dict:
        """Draw one scale, resize the whole clip."""
        scale = self._sample_scale()
        resize = ClipResize(
            scale=scale,
            keep_ratio=self.keep_ratio,
            interpolation=self.interpolation)
        return resize.transform(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scales}, '
                f'ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class ClipRandomCrop(BaseTransform):
    """One random crop window for all frames (mmseg ``RandomCrop``).

    The window is drawn on the key frame; with ``cat_max_ratio < 1`` the
    category check (at most ``cat_max_ratio`` of one class) uses the key
    frame's label map (or the first annotated frame's).

    Args:
        crop_size (int | tuple[int, int]): ``(h, w)``.
        cat_max_ratio (float): Default 1.0 (no check).
        ignore_index (int): Default 255.
    """

    def __init__(self,
                 crop_size: Union[int, Tuple[int, int]],
                 cat_max_ratio: float = 1.,
                 ignore_index: int = 255) -> None:
        self.cropper = RandomCrop(
            crop_size=crop_size,
            cat_max_ratio=cat_max_ratio,
            ignore_index=ignore_index)
        self.no_check = RandomCrop(crop_size=crop_size)

    def transform(self, results: dict) -> dict:
        """Crop every frame and label map with one window."""
        _check_clip(results, type(self).__name__)
        frames = _gt_frames(results)
        key = results.get('key_frame', -1) % len(results['imgs'])
        ref = dict(img=results['imgs'][key])
        cropper = self.no_check
        if frames:
            ref_gt = frames.index(key) if key in frames else 0
            ref['gt_seg_map'] = results['gt_seg_maps'][ref_gt]
            cropper = self.cropper
        bbox = cropper.crop_bbox(ref)
        results['imgs'] = [
            self.cropper.crop(img, bbox) for img in results['imgs']
        ]
        if frames:
            results['gt_seg_maps'] = [
                self.cropper.crop(gt, bbox) for gt in results['gt_seg_maps']
            ]
        results['img_shape'] = results['imgs'][0].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.cropper!r})'


@TRANSFORMS.register_module()
class ClipRandomFlip(BaseTransform):
    """Flip all frames and maps of a clip together, with probability ``prob``.

    Args:
        prob (float): flip probability. Default 0.5.
        direction (str | list[str]): ``'horizontal'`` (default),
            ``'vertical'`` or a list to choose from uniformly.

    Added keys: ``flip``, ``flip_direction``.
    """

    def __init__(self,
                 prob: float = 0.5,
                 direction: Union[str, Sequence[str]] = 'horizontal') -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'ClipRandomFlip: prob must be in [0, 1], got '
                             f'{prob}')
        directions = [direction] if isinstance(direction, str) \
            else list(direction)
        for d in directions:
            if d not in ('horizontal', 'vertical', 'diagonal'):
                raise ValueError(f'ClipRandomFlip: unknown direction {d!r}')
        self.prob = prob
        self.directions = directions

    def transform(self, results: dict) -> dict:
        """Draw once, flip every frame and label map."""
        _check_clip(results, type(self).__name__)
        flip = bool(np.random.rand() < self.prob)
        direction = self.directions[np.random.randint(len(self.directions))]
        if flip:
            results['imgs'] = [
                mmcv.imflip(img, direction=direction)
                for img in results['imgs']
            ]
            if results.get('gt_seg_maps'):
                results['gt_seg_maps'] = [
                    mmcv.imflip(gt, direction=direction).copy()
                    for gt in results['gt_seg_maps']
                ]
        results['flip'] = flip
        results['flip_direction'] = direction if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.directions})')


@TRANSFORMS.register_module()
class ClipConsistent(BaseTransform):
    """Apply any single-image transform to every frame with the same draws.

    The random state of ``numpy`` and ``random`` is saved before the first
    frame and restored before each following frame, so a transform whose
    randomness comes from those generators (and does not depend on the
    image content), e.g. mmseg ``PhotoMetricDistortion``, makes the same
    decisions for the whole clip. Annotated frames carry their
    ``gt_seg_map``. For geometric augmentation prefer the dedicated
    ``Clip*`` transforms.

    Args:
        transform (dict): config of the wrapped transform (built in the
            current scope, e.g. ``dict(type='PhotoMetricDistortion')``).
    """

    def __init__(self, transform: dict) -> None:
        self.transform_cfg = transform
        self.inner = TRANSFORMS.build(transform)

    def transform(self, results: dict) -> dict:
        """Run ``inner`` on each frame, replaying the random state."""
        _check_clip(results, type(self).__name__)
        np_state, py_state = np.random.get_state(), random.getstate()
        items = []
        for _, item in _per_frame(results):
            np.random.set_state(np_state)
            random.setstate(py_state)
            out = self.inner.transform(item)
            if out is None:
                raise RuntimeError(f'{self.inner!r} returned None on '
                                   f'{_where(results)}')
            items.append(out)
        _collect(results, items)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.inner!r})'


@TRANSFORMS.register_module()
class PackClipSegInputs(BaseTransform):
    """Pack a clip for :class:`~mmsvf.models.VideoEncoderDecoder`.

    * ``inputs``: ``(T, C, H, W)`` tensor (dtype of the frames).
    * ``data_samples``: a :class:`SegDataSample` whose ``gt_sem_seg.data`` is
      ``(K, H, W)`` int64 for the clip indices in ``gt_frames`` (``K = 1``,
      the key frame, in the standard pipelines: mmseg's ``IoUMetric`` reads
      it as is), and whose metainfo holds ``meta_keys`` found in
      ``results``. ``img_path`` is the key frame's file, so mmseg's
      ``SegVisualizationHook`` draws the key frame.

    Args:
        meta_keys (Sequence[str]): metainfo to pack.
    """

    DEFAULT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                         'pad_shape', 'scale_factor', 'flip',
                         'flip_direction', 'reduce_zero_label', 'video_name',
                         'frame_index', 'key_frame', 'gt_frames', 'clip_len',
                         'frame_paths', 'clip_frame_indices')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Stack frames and label maps, collect metainfo."""
        _check_clip(results, type(self).__name__)
        imgs = [
            img[..., None] if img.ndim == 2 else img
            for img in results['imgs']
        ]
        clip = np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2))
        packed = dict(inputs=torch.from_numpy(clip))

        sample = SegDataSample()
        gts = results.get('gt_seg_maps')
        if gts:
            _gt_frames(results)
            shapes = {gt.shape[:2] for gt in gts}
            if len(shapes) != 1:
                raise ValueError(
                    f'label maps of one clip differ in size {sorted(shapes)}'
                    f' ({_where(results)})')
            data = torch.from_numpy(np.stack(gts).astype(np.int64))
            sample.gt_sem_seg = PixelData(data=data)
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta.setdefault('clip_len', len(imgs))
        if gts:
            meta['gt_frames'] = list(results['gt_frames'])
        sample.set_metainfo(meta)
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
