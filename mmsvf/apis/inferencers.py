# Copyright (c) mmsvf contributors. All rights reserved.
"""One-call inference on videos for the three tasks, with visual output.

:class:`RecognitionInferencer`, :class:`SegmentationInferencer` and
:class:`PoseInferencer` (mmaction / mmseg / mmpose ``*Inferencer`` style)
build a model from a config (and checkpoint) once; calling them with a video
file, a ``(T, H, W, 3)`` RGB array or a list of frames returns the results as
plain Python / numpy objects and, with ``out_file``, writes the video with
the results drawn on it: class labels, masks in the dataset's palette
(VSPW, Cityscapes), the SMPL skeleton projected on the frames. Long videos
are processed in windows of the config's clip length, with a progress bar.

:class:`StreamingRecognizer` classifies a stream frame by frame with a
causal (or spatial) recognizer, carrying the network state between frames
(``SpikeVideoFormer.forward_step``): constant memory, a decision after every
frame.
"""
import copy
import os.path as osp
from typing import Dict, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

from .drawing import draw_skeleton, draw_text_lines, get_palette, overlay_mask
from .video_io import progress, read_frames, write_frames

__all__ = ['RecognitionInferencer', 'SegmentationInferencer',
           'PoseInferencer', 'StreamingRecognizer', 'init_model']


def init_model(config, checkpoint=None, device='cpu', cfg_options=None,
               strict=True):
    """Build the model of ``config`` in its default scope, load
    ``checkpoint`` (checked: strict unless told otherwise) and put it in
    eval mode on ``device``. The config is kept as ``model.cfg``."""
    from mmengine.registry import MODELS

    from mmsvf.utils import load_checked, register_all_modules
    register_all_modules(init_default_scope=False)
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file {config} not found')
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a path or a Config, got '
                        f'{type(config).__name__}')
    cfg = copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    # weights come from the checkpoint, not from a pretrained init
    if 'backbone' in model_cfg:
        model_cfg.backbone.pop('init_cfg', None)
    scope = cfg.get('default_scope', 'mmsvf')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint file {checkpoint} not found')
        load_checked(model, checkpoint, strict=strict,
                     switch='strict=False')
    model.cfg = cfg
    return model.to(device).eval()


def _windows(n, size):
    """``[(start, end)]`` covering ``range(n)`` in windows of ``size``; a
    short remainder joins the last window."""
    size = max(1, int(size))
    if n <= size:
        return [(0, n)]
    bounds = list(range(0, n - size + 1, size))
    spans = [(a, a + size) for a in bounds]
    spans[-1] = (spans[-1][0], n)
    return spans


def _find(pipeline, *types):
    for step in pipeline:
        t = str(step.get('type', '')).split('.')[-1]
        if t in types:
            return step
    return None


class _BaseVideoInferencer:
    """Model building, device and frame reading shared by the inferencers.

    Args:
        config (str | Config): the model's config.
        checkpoint (str, optional): weights (checked loading).
        device (str): e.g. ``'cpu'``, ``'cuda:0'``.
        cfg_options (dict, optional): config overrides.
        strict (bool): refuse a checkpoint that does not fit the model.
    """

    def __init__(self, config, checkpoint=None, device='cpu',
                 cfg_options=None, strict=True):
        self.model = init_model(config, checkpoint, device, cfg_options,
                                strict)
        self.cfg = self.model.cfg
        self.device = torch.device(device)

    def _test_settings(self, default_clip_len, *resize_types):
        """The test dataset config, its clip length (else the config's
        top-level ``clip_len``, else ``default_clip_len``) and the first
        resize step of ``resize_types`` in ``test_pipeline`` (``{}``)."""
        cfg = self.cfg
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        clip_len = int(dataset.get('clip_len',
                                   cfg.get('clip_len', default_clip_len)))
        resize = _find(cfg.get('test_pipeline', []), *resize_types) or {}
        return dataset, clip_len, resize

    def _scope(self):
        return DefaultScope.overwrite_default_scope(
            self.cfg.get('default_scope', 'mmsvf'))

    def _finish(self, results, vis, out_file, fps, return_vis):
        if out_file is not None:
            results['out_file'] = write_frames(vis, out_file, fps)
        if return_vis:
            results['visualization'] = vis
        return results


class RecognitionInferencer(_BaseVideoInferencer):
    """Action recognition on a video: scores, top-k, labels on the frames.

    The config's test pipeline runs on decoded frames (its decoding steps
    replaced by ``ArrayDecode``), so sampling, resizing and cropping are the
    config's. A video longer than one clip span (``clip_len ×
    frame_interval``) is classified window by window; the video's score is
    the mean of the windows' and every frame is labelled with its window's
    top-k.

    Args:
        label_map (str | Sequence[str], optional): class names (a file, one
            per line, or a list); default the label indices.
        **kwargs: :class:`_BaseVideoInferencer` arguments.

    Example::

        >>> infer = RecognitionInferencer(cfg_path, ckpt, label_map=names)
        >>> res = infer('video.mp4', out_file='labelled.mp4')
        >>> res['topk']  # [(label, name, score), ...]
    """

    def __init__(self, config, checkpoint=None, device='cpu',
                 label_map=None, cfg_options=None, strict=True):
        super().__init__(config, checkpoint, device, cfg_options, strict)
        if isinstance(label_map, str):
            from mmsvf.engine.hooks import read_label_map
            label_map = read_label_map(label_map)
        num_classes = self.model.cls_head.num_classes
        if label_map is not None and len(label_map) != num_classes:
            raise ValueError(f'label map has {len(label_map)} names but the '
                             f'model has {num_classes} classes')
        self.names = list(label_map) if label_map is not None else None
        self.pipeline_cfg = self._array_pipeline(self.cfg.test_pipeline)
        sample = _find(self.pipeline_cfg, 'SampleFrames') or {}
        self.span = int(sample.get('clip_len', 1)) * int(
            sample.get('frame_interval', 1))
        with self._scope():
            from mmengine.dataset import Compose
            self.pipeline = Compose(self.pipeline_cfg)

    @staticmethod
    def _array_pipeline(pipeline):
        out = []
        for step in copy.deepcopy(list(pipeline)):
            name = str(step['type']).split('.')[-1]
            if name.endswith('Init'):
                continue  # the frames are already decoded
            if name.endswith('Decode'):
                step = dict(type='ArrayDecode')
            elif name == 'CheckedSampleFrames':
                # inference also on videos shorter than one clip (looped)
                step['type'] = 'SampleFrames'
            out.append(step)
        return out

    def name(self, label):
        return self.names[label] if self.names else str(label)

    def _topk(self, score, k):
        k = min(k, len(score))
        order = np.argsort(-score, kind='stable')[:k]
        return [(int(i), self.name(int(i)), float(score[i])) for i in order]

    @torch.no_grad()
    def classify(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Class scores ``(num_classes, )`` of one clip of frames."""
        from mmengine.dataset import pseudo_collate
        data = dict(array=np.stack(frames), total_frames=len(frames),
                    label=-1, start_index=0, modality='RGB')
        with self._scope():
            data = self.pipeline(data)
            result = self.model.test_step(pseudo_collate([data]))[0]
        return result.pred_score.float().cpu().numpy()

    def __call__(self, video, out_file=None, topk=5, window=None,
                 show_progress=None, return_vis=False) -> Dict:
        """Classify ``video``.

        Args:
            video (str | ndarray | list[ndarray]): a video file or RGB
                frames.
            out_file (str, optional): write the labelled video here.
            topk (int): classes listed.
            window (int, optional): frames per window (default the clip
                span of the config's ``SampleFrames``).
            show_progress (bool, optional): None = when the video is long.
            return_vis (bool): also return the drawn frames.

        Returns:
            dict: ``pred_label``, ``pred_score (num_classes,)``, ``topk``
            (``[(label, name, score)]``), ``windows`` (per window:
            ``start``, ``end``, ``pred_score``, ``topk``), ``num_frames``,
            ``fps`` (and ``out_file`` / ``visualization``).
        """
        frames, fps = read_frames(video)
        spans = _windows(len(frames), window or self.span)
        bar = progress(len(frames), show_progress, fps)
        windows = []
        for a, b in spans:
            score = self.classify(frames[a:b])
            windows.append(dict(start=a, end=b, pred_score=score,
                                topk=self._topk(score, topk)))
            bar.update(b - a)
        bar.close()
        score = np.mean([w['pred_score'] for w in windows], axis=0)
        results = dict(pred_label=int(score.argmax()), pred_score=score,
                       topk=self._topk(score, topk), windows=windows,
                       num_frames=len(frames), fps=fps)
        vis = None
        if out_file is not None or return_vis:
            vis = []
            for w in windows:
                lines = [f'{name}: {s:.2f}' for _, name, s in w['topk']]
                for f in frames[w['start']:w['end']]:
                    vis.append(draw_text_lines(f, lines))
        return self._finish(results, vis, out_file, fps, return_vis)


class SegmentationInferencer(_BaseVideoInferencer):
    """Video semantic segmentation: a mask per frame, overlaid in colour.

    Frames are resized as the config's ``ClipResize`` does, normalised by
    the model's data preprocessor and segmented in windows of the config's
    ``clip_len`` frames (every frame of a window gets its own mask: the
    segmentor's ``tensor`` mode, whole-image inference); the logits are
    resized back to the frame size.

    Args:
        palette (str | array-like, optional): ``'vspw'``, ``'cityscapes'``
            or colours; default the config's dataset palette (its
            ``metainfo.palette``, else VSPW's or Cityscapes' by dataset
            type).
        **kwargs: :class:`_BaseVideoInferencer` arguments.
    """

    def __init__(self, config, checkpoint=None, device='cpu', palette=None,
                 cfg_options=None, strict=True):
        super().__init__(config, checkpoint, device, cfg_options, strict)
        dataset, self.clip_len, resize = self._test_settings(
            4, 'ClipResize', 'Resize')
        self.scale = resize.get('scale')
        self.keep_ratio = resize.get('keep_ratio', True)
        self.num_classes = self.model.decode_head.num_classes
        meta = dataset.get('metainfo') or {}
        self.classes = list(meta.get('classes') or [])
        if palette is None:
            palette = meta.get('palette')
        if palette is None:
            kind = str(dataset.get('type', '')).lower()
            palette = 'cityscapes' if 'cityscapes' in kind else 'vspw'
        self.palette = get_palette(palette, self.num_classes)

    def _resize(self, frame):
        import mmcv
        if self.scale is None:
            return frame
        if self.keep_ratio:
            return mmcv.imrescale(frame, self.scale)
        return mmcv.imresize(frame, tuple(self.scale))

    @torch.no_grad()
    def segment(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Masks ``(T, H, W)`` (int64 class indices) of one window."""
        h, w = frames[0].shape[:2]
        # frames are RGB; the config's loader gives BGR and its data
        # preprocessor converts (bgr_to_rgb)
        resized = [self._resize(f[..., ::-1]) for f in frames]
        rh, rw = resized[0].shape[:2]
        clip = torch.from_numpy(np.ascontiguousarray(np.stack(resized)))
        clip = clip.permute(0, 3, 1, 2).to(self.device)
        data = self.model.data_preprocessor(dict(inputs=[clip]), False)
        inputs = data['inputs']
        logits = self.model(inputs, mode='tensor')[0]  # (T, K, h', w')
        logits = F.interpolate(logits.float(), size=inputs.shape[-2:],
                               mode='bilinear', align_corners=False)
        logits = F.interpolate(logits[..., :rh, :rw], size=(h, w),
                               mode='bilinear', align_corners=False)
        return logits.argmax(1).cpu().numpy()

    def __call__(self, video, out_file=None, alpha=0.5, window=None,
                 show_progress=None, return_vis=False) -> Dict:
        """Segment every frame of ``video``.

        Returns:
            dict: ``masks (N, H, W)`` int64, ``classes``, ``palette``
            ``(K, 3)``, ``num_frames``, ``fps`` (and ``out_file`` /
            ``visualization``: the frames with the masks blended at
            ``alpha``).
        """
        frames, fps = read_frames(video)
        bar = progress(len(frames), show_progress, fps)
        masks = []
        for a, b in _windows(len(frames), window or self.clip_len):
            masks.append(self.segment(frames[a:b]))
            bar.update(b - a)
        bar.close()
        masks = np.concatenate(masks)
        results = dict(masks=masks, classes=self.classes,
                       palette=self.palette, num_frames=len(frames),
                       fps=fps)
        vis = None
        if out_file is not None or return_vis:
            vis = [overlay_mask(f, m, self.palette, alpha)
                   for f, m in zip(frames, masks)]
        return self._finish(results, vis, out_file, fps, return_vis)


class PoseInferencer(_BaseVideoInferencer):
    """SMPL pose and shape per frame, the skeleton projected on the frames.

    Frames are converted to the model's input channels (grey for a
    one-channel backbone), resized to the config's ``ClipPoseResize``
    scale, normalised by the data preprocessor and run in windows of the
    config's ``clip_len``. The 3-D joints (camera frame, metres) are
    projected with ``intrinsics`` (``fx, fy, cx, cy`` in pixels of the
    input frames; default MMHPSD's camera scaled to the frame size, the
    geometry the MMHPSD models are trained on).

    Args:
        intrinsics (Sequence[float], optional): see above.
        **kwargs: :class:`_BaseVideoInferencer` arguments.
    """

    def __init__(self, config, checkpoint=None, device='cpu',
                 intrinsics=None, cfg_options=None, strict=True):
        super().__init__(config, checkpoint, device, cfg_options, strict)
        _, self.clip_len, resize = self._test_settings(
            8, 'ClipPoseResize', 'Resize')
        self.scale = resize.get('scale')
        self.in_channels = self.model.backbone.in_channels
        self.intrinsics = None if intrinsics is None else tuple(
            float(v) for v in intrinsics)
        if self.intrinsics is not None and len(self.intrinsics) != 4:
            raise ValueError(f'intrinsics must be (fx, fy, cx, cy), got '
                             f'{intrinsics}')

    def camera(self, width, height):
        """``(fx, fy, cx, cy)`` used for a ``width × height`` video."""
        if self.intrinsics is not None:
            return self.intrinsics
        from mmsvf.datasets.mmhpsd import MMHPSD_INTRINSICS
        fx, fy, cx, cy = MMHPSD_INTRINSICS
        sx, sy = width / 1280.0, height / 1280.0
        return (fx * sx, fy * sy, cx * sx, cy * sy)

    def _prepare(self, frame):
        import cv2
        if self.in_channels == 1:
            x = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None]
        else:
            x = frame[..., ::-1]
        if self.scale is not None:
            x = cv2.resize(x, tuple(int(s) for s in self.scale),
                           interpolation=cv2.INTER_LINEAR)
            if x.ndim == 2:
                x = x[..., None]
        return np.ascontiguousarray(x)

    @torch.no_grad()
    def estimate(self, frames: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
        """Head outputs of one window: ``joints (T, J, 3)``, ``betas``,
        ``transl``, ``rotmat``, ``vertices``."""
        clip = torch.from_numpy(np.stack([self._prepare(f) for f in frames]))
        clip = clip.permute(0, 3, 1, 2).to(self.device)
        data = self.model.data_preprocessor(dict(inputs=[clip]), False)
        out = self.model(data['inputs'], None, mode='tensor')
        return {k: v[0].float().cpu().numpy() for k, v in out.items()}

    def __call__(self, video, out_file=None, window=None,
                 show_progress=None, return_vis=False) -> Dict:
        """Estimate SMPL joints for every frame of ``video``.

        Returns:
            dict: ``joints (N, J, 3)`` (metres, camera frame),
            ``keypoints_2d (N, J, 2)`` (pixels), ``betas (N, 10)``,
            ``transl (N, 3)``, ``rotmat (N, J, 3, 3)``, ``intrinsics``,
            ``num_frames``, ``fps`` (and ``out_file`` / ``visualization``).
        """
        from mmsvf.models.pose.camera import perspective_projection
        from mmsvf.models.pose.smpl import SMPL_PARENTS
        frames, fps = read_frames(video)
        bar = progress(len(frames), show_progress, fps)
        parts = []
        for a, b in _windows(len(frames), window or self.clip_len):
            parts.append(self.estimate(frames[a:b]))
            bar.update(b - a)
        bar.close()
        keys = ('joints', 'betas', 'transl', 'rotmat')
        out = {k: np.concatenate([p[k] for p in parts]) for k in keys}
        h, w = frames[0].shape[:2]
        k = self.camera(w, h)
        uv = perspective_projection(torch.from_numpy(out['joints']),
                                    torch.tensor(k)).numpy()
        results = dict(out, keypoints_2d=uv, intrinsics=k,
                       num_frames=len(frames), fps=fps)
        vis = None
        if out_file is not None or return_vis:
            parents = SMPL_PARENTS[:uv.shape[1]]
            vis = [draw_skeleton(f, p, parents) for f, p in zip(frames, uv)]
        return self._finish(results, vis, out_file, fps, return_vis)


class StreamingRecognizer:
    """Frame-by-frame recognition with a causal (or spatial) recognizer.

    Each :meth:`step` takes one RGB frame, resizes / crops it as the
    config's test pipeline does for a single frame (``Resize``,
    ``CenterCrop``; ``ThreeCrop`` as a centre crop), normalises it and runs
    ``backbone.forward_step`` and ``cls_head.forward_step``: the scores
    after frame ``t`` are the recognizer's on frames ``0..t`` (every neuron
    and attention keeps its state), and the state's size does not grow.

    Args:
        model (nn.Module | str | Config): a built recognizer, or a config
            (then ``checkpoint``, ``device``, ``cfg_options``, ``strict``
            are used to build it).
        label_map (str | Sequence[str], optional): class names.
    """

    def __init__(self, model, checkpoint=None, device='cpu', label_map=None,
                 cfg_options=None, strict=True):
        if not isinstance(model, torch.nn.Module):
            model = init_model(model, checkpoint, device, cfg_options,
                               strict)
        self.model = model.eval()
        backbone = model.backbone
        if not hasattr(backbone, 'forward_step') or not hasattr(
                model.cls_head, 'forward_step'):
            raise TypeError('StreamingRecognizer needs a backbone and a '
                            'head with forward_step (SpikeVideoFormer, '
                            'SpikingClsHead)')
        if isinstance(label_map, str):
            from mmsvf.engine.hooks import read_label_map
            label_map = read_label_map(label_map)
        self.names = list(label_map) if label_map is not None else None
        self.device = next(model.parameters()).device
        pre = model.data_preprocessor
        self.mean = getattr(pre, 'mean', None)
        self.std = getattr(pre, 'std', None)
        cfg = getattr(model, 'cfg', None)
        pipeline = [] if cfg is None else list(cfg.get('test_pipeline', []))
        self.steps = self._frame_steps(pipeline)
        self.reset()

    @staticmethod
    def _frame_steps(pipeline):
        """The per-frame geometric steps of a test pipeline."""
        steps = []
        for step in pipeline:
            name = str(step['type']).split('.')[-1]
            if name == 'Resize':
                steps.append(('resize', step.get('scale'),
                              step.get('keep_ratio', True)))
            elif name in ('CenterCrop', 'ThreeCrop', 'TenCrop'):
                size = step.get('crop_size')
                size = (size, size) if isinstance(size, int) else size
                steps.append(('crop', tuple(size), None))
        return steps

    def reset(self):
        """Start a new stream."""
        self.backbone_state = self.head_state = None
        self.frames = 0

    def preprocess(self, frame: np.ndarray) -> torch.Tensor:
        """RGB ``(H, W, 3)`` → normalised ``(1, 3, h, w)``."""
        import mmcv
        x = frame
        for kind, arg, keep in self.steps:
            if kind == 'resize':
                if keep:
                    # mmaction: (-1, s) / (s, -1) = short side s
                    w, h = arg
                    if -1 in (w, h):
                        side = max(w, h)
                        hh, ww = x.shape[:2]
                        ratio = side / min(hh, ww)
                        x = mmcv.imresize(x, (int(round(ww * ratio)),
                                              int(round(hh * ratio))))
                    else:
                        x = mmcv.imrescale(x, arg)
                else:
                    x = mmcv.imresize(x, tuple(arg))
            else:
                cw, ch = arg
                hh, ww = x.shape[:2]
                top, left = max(0, (hh - ch) // 2), max(0, (ww - cw) // 2)
                x = x[top:top + ch, left:left + cw]
        t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)
        t = t[None].float().to(self.device)
        if self.mean is not None:
            # ActionDataPreprocessor keeps (C, 1, 1, 1) for NCTHW
            t = (t - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1,
                                                                  1)
        return t

    @torch.no_grad()
    def step(self, frame: np.ndarray, topk=5) -> Dict:
        """Scores after one more frame.

        Returns:
            dict: ``frame`` index, ``pred_score (num_classes,)`` (softmax of
            the running mean logits), ``topk`` ``[(label, name, score)]``.
        """
        x = self.preprocess(frame)
        feats, self.backbone_state = self.model.backbone.forward_step(
            x, self.backbone_state)
        logits, self.head_state = self.model.cls_head.forward_step(
            feats, self.head_state)
        score = logits[0].float().softmax(-1).cpu().numpy()
        self.frames += 1
        k = min(topk, len(score))
        order = np.argsort(-score, kind='stable')[:k]
        names = self.names
        top = [(int(i), names[i] if names else str(int(i)), float(score[i]))
               for i in order]
        return dict(frame=self.frames - 1, pred_score=score, topk=top)

    def state_nbytes(self) -> int:
        """Bytes of the carried state (backbone and head)."""
        return sum(s.nbytes() for s in (self.backbone_state,
                                        self.head_state) if s is not None)


