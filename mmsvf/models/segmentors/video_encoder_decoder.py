# Copyright (c) mmsvf contributors. All rights reserved.
"""Video semantic segmentation on top of mmseg's ``EncoderDecoder``."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList, add_prefix
from torch import Tensor, nn

from mmsvf.registry import MODELS

__all__ = ['VideoEncoderDecoder']


@MODELS.register_module()
class VideoEncoderDecoder(EncoderDecoder):
    """Encoder-decoder segmentor for clips, with a video (NCTHW) backbone.

    Layout and data flow:

    * ``inputs``: ``(B, T, C, H, W)`` clips, normalised per frame by
      :class:`VideoSegDataPreprocessor` (a 4-D ``(B, C, H, W)`` batch is
      accepted as ``T = 1``).
    * The backbone (e.g. ``mmsvf.SpikeVideoFormer``) sees the whole clip once
      as ``(B, C, T, H, W)`` and returns NCTHW maps ``(B, C_i, T, h_i, w_i)``;
      neuron state starts fresh in that call, so nothing leaks between clips,
      batches or slide-inference crops.
    * T is folded into the batch (``index = b * T + t``) and the per-frame
      maps go through an unchanged mmseg neck/decode head (Semantic-FPN:
      ``FPN`` + ``FPNHead``; ``UPerHead`` etc. work too). Only the frames
      that are needed are decoded: the annotated frames in training, the key
      frame at inference.
    * Which frames are annotated is read from each data sample:
      ``metainfo['gt_frames']`` (clip indices of the ``K`` maps stacked in
      ``gt_sem_seg.data``, shape ``(K, H, W)``) and ``metainfo['key_frame']``
      (the clip index the sample stands for; default ``default_key_frame``,
      the last frame). Without ``gt_frames`` the single map belongs to the key
      frame.
    * ``predict`` returns one :class:`SegDataSample` per clip holding the key
      frame's ``pred_sem_seg``/``seg_logits`` (resized to the key frame's
      ``ori_shape``) and only the key frame's ``gt_sem_seg`` ``(1, H, W)``,
      so mmseg's ``IoUMetric`` and ``SegVisualizationHook`` (``img_path`` is
      the key frame's file) work unchanged; the video datasets give one
      sample per annotated frame.
    * Time-first decoders (a neck / decode head with the class attribute
      ``time_first = True``, e.g. :class:`~mmsvf.models.SpikingFPN` +
      :class:`~mmsvf.models.SpikingFPNHead`) get the whole clip as
      ``[T, B, C_i, h_i, w_i]`` maps, so their neurons integrate over the
      frames (from rest in every call, like the backbone's); the head picks
      the frames to classify (``frames`` argument of its ``forward`` /
      ``loss`` / ``predict``). Neck, head and auxiliary heads must then all
      be time-first.
    * ``test_cfg.mode='slide'`` crops the whole clip (all T frames, same
      window) and runs backbone, neck and head afresh per crop;
      ``'whole'`` runs the full clip.
    * ``mode='tensor'`` returns the head's logits for every frame,
      ``(B, T, num_classes, h, w)``.

    Args:
        backbone (dict): video backbone config (NCTHW in, tuple of NCTHW
            out). Give an mmsvf backbone ``_scope_='mmsvf'`` so that its own
            nested builds (neurons) resolve in mmsvf.
        decode_head (dict): mmseg decode head.
        neck (dict, optional): mmseg neck.
        auxiliary_head (dict | list, optional): mmseg auxiliary head(s).
        train_cfg (dict, optional): passed to the heads.
        test_cfg (dict, optional): ``mode`` (``'whole'``/``'slide'``),
            ``crop_size``/``stride`` for slide.
        data_preprocessor (dict, optional): usually
            ``dict(type='mmsvf.VideoSegDataPreprocessor', ...)``.
        default_key_frame (int): key frame for samples without
            ``key_frame`` metainfo (negative counts from the end). Default -1.
        pretrained (str, optional): as ``EncoderDecoder``.
        init_cfg (dict, optional): as ``EncoderDecoder``.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 auxiliary_head=None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 default_key_frame: int = -1,
                 pretrained: Optional[str] = None,
                 init_cfg=None):
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        self.default_key_frame = int(default_key_frame)
        self.time_first_decoder = self._check_time_first()
        # mmseg reads test_cfg by attribute (``test_cfg.mode``)
        self.test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        if train_cfg is not None:
            self.train_cfg = ConfigDict(train_cfg)

    def _check_time_first(self) -> bool:
        """Whether the decoder takes time-first clip maps; all parts must
        agree."""
        parts = dict(decode_head=self.decode_head)
        if self.with_neck:
            parts['neck'] = self.neck
        if self.with_auxiliary_head:
            heads = self.auxiliary_head
            heads = heads if isinstance(heads, nn.ModuleList) else [heads]
            for i, head in enumerate(heads):
                parts[f'auxiliary_head[{i}]'] = head
        kinds = {name: bool(getattr(m, 'time_first', False))
                 for name, m in parts.items()}
        if len(set(kinds.values())) > 1:
            raise ValueError(
                'VideoEncoderDecoder: neck and heads must all take time-first'
                ' clip maps (time_first=True, e.g. mmsvf.SpikingFPN + '
                'mmsvf.SpikingFPNHead) or all per-frame maps; got '
                + ', '.join(f'{n}: {type(parts[n]).__name__} '
                            f'(time_first={k})' for n, k in kinds.items()))
        return kinds['decode_head']

    # ------------------------------------------------------------------
    # layout helpers
    # ------------------------------------------------------------------
    @staticmethod
    def _as_clips(inputs: Tensor) -> Tensor:
        if not isinstance(inputs, Tensor):
            raise TypeError('VideoEncoderDecoder expects a tensor '
                            f'(B, T, C, H, W), got {type(inputs).__name__}')
        if inputs.dim() == 4:
            return inputs.unsqueeze(1)
        if inputs.dim() != 5:
            raise ValueError(
                'VideoEncoderDecoder expects clips of shape (B, T, C, H, W) '
                f'(or images (B, C, H, W) as T=1), got {tuple(inputs.shape)}')
        return inputs

    def _resolve_frame(self, index, num_frames: int, what: str,
                       meta: Optional[dict] = None) -> int:
        index = int(index)
        resolved = index + num_frames if index < 0 else index
        if not 0 <= resolved < num_frames:
            where = ''
            if meta is not None:
                where = (f' (video "{meta.get("video_name", "?")}", frame '
                         f'{meta.get("img_path", "?")})')
            raise ValueError(f'VideoEncoderDecoder: {what} {index} is '
                             f'outside the clip of {num_frames} frames'
                             f'{where}')
        return resolved

    def _key_frames(self, batch_img_metas: Sequence[dict],
                    num_frames: int) -> List[int]:
        return [
            self._resolve_frame(
                meta.get('key_frame', self.default_key_frame), num_frames,
                'key_frame', meta) for meta in batch_img_metas
        ]

    def _gt_frames(self, data_sample: SegDataSample,
                   num_frames: int) -> List[int]:
        meta = data_sample.metainfo
        key = meta.get('key_frame', self.default_key_frame)
        frames = meta.get('gt_frames', [key])
        frames = [
            self._resolve_frame(f, num_frames, 'gt frame', meta)
            for f in frames
        ]
        if 'gt_sem_seg' not in data_sample:
            raise ValueError(
                'VideoEncoderDecoder: data sample of '
                f'{meta.get("img_path", "?")} has no gt_sem_seg (an '
                'unannotated clip cannot be used for training)')
        num_maps = data_sample.gt_sem_seg.data.shape[0]
        if num_maps != len(frames):
            raise ValueError(
                f'VideoEncoderDecoder: data sample of '
                f'{meta.get("img_path", "?")} has {num_maps} ground-truth '
                f'maps but gt_frames={frames}; they must match')
        return frames

    def extract_clip_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Run the video backbone once over whole clips.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)``.

        Returns:
            tuple[Tensor]: backbone maps ``(B, C_i, T, h_i, w_i)``.
        """
        inputs = self._as_clips(inputs)
        feats = self.backbone(inputs.permute(0, 2, 1, 3, 4))
        if isinstance(feats, Tensor):
            feats = (feats, )
        batch, num_frames = inputs.shape[:2]
        for i, feat in enumerate(feats):
            if feat.dim() != 5 or feat.shape[0] != batch \
                    or feat.shape[2] != num_frames:
                raise ValueError(
                    'VideoEncoderDecoder needs a backbone returning NCTHW '
                    f'maps (B={batch}, C, T={num_frames}, h, w); output {i} '
                    f'has shape {tuple(feat.shape)}')
        return tuple(feats)

    @staticmethod
    def fold_frames(feats: Sequence[Tensor],
                    batch_idx: Optional[Tensor] = None,
                    frame_idx: Optional[Tensor] = None) -> List[Tensor]:
        """NCTHW maps → per-frame NCHW maps.

        Args:
            feats (Sequence[Tensor]): ``(B, C, T, h, w)`` maps.
            batch_idx (Tensor, optional): ``(N,)`` clip indices to keep.
            frame_idx (Tensor, optional): ``(N,)`` frame indices to keep.

        Returns:
            list[Tensor]: ``(B*T, C, h, w)`` (row ``b * T + t``) when no
            indices are given, else ``(N, C, h, w)`` for the selected
            ``(batch_idx[n], frame_idx[n])`` frames.
        """
        out = []
        for feat in feats:
            feat = feat.transpose(1, 2)  # B, T, C, h, w
            if batch_idx is None:
                out.append(feat.reshape(-1, *feat.shape[2:]))
            else:
                out.append(feat[batch_idx, frame_idx])
        return out

    def extract_clip_maps(self, inputs: Tensor) -> List[Tensor]:
        """Backbone over the clips, then the time-first neck.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)``.

        Returns:
            list[Tensor]: ``[T, B, C_i, h_i, w_i]`` maps of every frame.
        """
        x = [f.permute(2, 0, 1, 3, 4) for f in self.extract_clip_feat(inputs)]
        if self.with_neck:
            x = self.neck(x)
        return list(x)

    def extract_feat(self,
                     inputs: Tensor,
                     frames: Optional[Sequence[Tuple[int, int]]] = None
                     ) -> List[Tensor]:
        """Backbone over the clips, fold frames, neck per frame.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)``.
            frames (Sequence[tuple[int, int]], optional): ``(b, t)`` pairs of
                the frames to keep (all ``B*T`` frames when None).

        Returns:
            list[Tensor]: per-frame multi-level maps ``(N, C_i, h_i, w_i)``.
        """
        feats = self.extract_clip_feat(inputs)
        if frames is None:
            x = self.fold_frames(feats)
        else:
            device = feats[0].device
            batch_idx = torch.tensor([b for b, _ in frames],
                                     dtype=torch.long, device=device)
            frame_idx = torch.tensor([t for _, t in frames],
                                     dtype=torch.long, device=device)
            x = self.fold_frames(feats, batch_idx, frame_idx)
        if self.with_neck:
            x = self.neck(x)
        return x

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Loss of the decode (and auxiliary) heads on the annotated frames.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)`` clips.
            data_samples (list[SegDataSample]): one per clip; ``gt_sem_seg``
                ``(K, H, W)`` for the ``K`` frames listed in ``gt_frames``
                (default: the key frame).

        Returns:
            dict[str, Tensor]: mmseg's loss dict (``decode.loss_ce``, ...).
        """
        inputs = self._as_clips(inputs)
        num_frames = inputs.shape[1]
        frames, frame_samples = [], []
        for b, sample in enumerate(data_samples):
            gt = sample.gt_sem_seg.data
            for k, t in enumerate(self._gt_frames(sample, num_frames)):
                frames.append((b, t))
                frame_sample = SegDataSample(metainfo=sample.metainfo)
                frame_sample.gt_sem_seg = PixelData(data=gt[k:k + 1])
                frame_samples.append(frame_sample)
        if self.time_first_decoder:
            return self._time_first_loss(inputs, frames, frame_samples)
        x = self.extract_feat(inputs, frames)

        losses = dict()
        losses.update(self._decode_head_forward_train(x, frame_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, frame_samples))
        return losses

    def _time_first_loss(self, inputs, frames, frame_samples) -> dict:
        x = self.extract_clip_maps(inputs)
        losses = add_prefix(
            self.decode_head.loss(x, frame_samples, self.train_cfg,
                                  frames=frames), 'decode')
        if self.with_auxiliary_head:
            heads = self.auxiliary_head
            if isinstance(heads, nn.ModuleList):
                for i, head in enumerate(heads):
                    losses.update(add_prefix(
                        head.loss(x, frame_samples, self.train_cfg,
                                  frames=frames), f'aux_{i}'))
            else:
                losses.update(add_prefix(
                    heads.loss(x, frame_samples, self.train_cfg,
                               frames=frames), 'aux'))
        return losses

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Key-frame logits of a batch of clips.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)``.
            batch_img_metas (list[dict]): per-clip metainfo (``key_frame``,
                ``img_shape``/``pad_shape``).

        Returns:
            Tensor: ``(B, num_classes, H, W)`` logits of each clip's key
            frame, at the input (or crop) resolution.
        """
        inputs = self._as_clips(inputs)
        keys = self._key_frames(batch_img_metas, inputs.shape[1])
        if self.time_first_decoder:
            return self.decode_head.predict(
                self.extract_clip_maps(inputs), batch_img_metas,
                self.test_cfg, frames=list(enumerate(keys)))
        x = self.extract_feat(inputs, list(enumerate(keys)))
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def slide_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Sliding-window inference over clips.

        Every window is a crop of all T frames at the same location; each
        crop runs the backbone afresh (its own neuron state), then the
        overlapping logits are averaged as in mmseg.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)``.
            batch_img_metas (list[dict]): per-clip metainfo.

        Returns:
            Tensor: ``(B, num_classes, H, W)`` key-frame logits.
        """
        inputs = self._as_clips(inputs)
        h_stride, w_stride = self.test_cfg.stride
        h_crop, w_crop = self.test_cfg.crop_size
        batch_size, _, _, h_img, w_img = inputs.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = inputs.new_zeros((batch_size, self.out_channels, h_img, w_img))
        count_mat = inputs.new_zeros((batch_size, 1, h_img, w_img))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop = inputs[..., y1:y2, x1:x2]
                # the head resizes its logits to img_shape: the crop's size
                for meta in batch_img_metas:
                    meta['img_shape'] = crop.shape[-2:]
                crop_logits = self.encode_decode(crop, batch_img_metas)
                preds += F.pad(crop_logits,
                               (x1, w_img - x2, y1, h_img - y2))
                count_mat[:, :, y1:y2, x1:x2] += 1
        if (count_mat == 0).any():
            raise RuntimeError('slide_inference left pixels uncovered; check '
                               'test_cfg.crop_size and stride')
        return preds / count_mat

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict the key frame of every clip.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)`` clips.
            data_samples (list[SegDataSample], optional): one per clip.

        Returns:
            list[SegDataSample]: per clip, ``pred_sem_seg`` ``(1, H, W)`` and
            ``seg_logits`` ``(num_classes, H, W)`` of the key frame at its
            ``ori_shape``; ``gt_sem_seg`` reduced to the key frame's map.
        """
        inputs = self._as_clips(inputs)
        num_frames = inputs.shape[1]
        if data_samples is not None:
            batch_img_metas = [sample.metainfo for sample in data_samples]
        else:
            shape = inputs.shape[-2:]
            batch_img_metas = [
                dict(
                    ori_shape=shape,
                    img_shape=shape,
                    pad_shape=shape,
                    padding_size=[0, 0, 0, 0],
                    key_frame=self.default_key_frame)
                for _ in range(inputs.shape[0])
            ]
        seg_logits = self.inference(inputs, batch_img_metas)
        results = self.postprocess_result(seg_logits, data_samples)
        if data_samples is not None:
            for sample in results:
                self._keep_key_frame_gt(sample, num_frames)
        return results

    def _keep_key_frame_gt(self, sample: SegDataSample, num_frames: int):
        if 'gt_sem_seg' not in sample:
            return
        gt = sample.gt_sem_seg.data
        frames = self._gt_frames(sample, num_frames)
        key = self._resolve_frame(
            sample.metainfo.get('key_frame', self.default_key_frame),
            num_frames, 'key_frame', sample.metainfo)
        if frames == [key]:
            return
        del sample.gt_sem_seg
        if key in frames:
            k = frames.index(key)
            sample.gt_sem_seg = PixelData(data=gt[k:k + 1])
        sample.set_metainfo(dict(gt_frames=[key] if key in frames else []))

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        """Head logits of every frame.

        Args:
            inputs (Tensor): ``(B, T, C, H, W)``.
            data_samples: unused.

        Returns:
            Tensor: ``(B, T, num_classes, h, w)`` (head resolution).
        """
        inputs = self._as_clips(inputs)
        batch, num_frames = inputs.shape[:2]
        x = (self.extract_clip_maps(inputs) if self.time_first_decoder
             else self.extract_feat(inputs))
        logits = self.decode_head.forward(x)
        return logits.view(batch, num_frames, *logits.shape[1:])

    def aug_test(self, inputs, batch_img_metas, rescale=True):
        raise NotImplementedError(
            'VideoEncoderDecoder: use mmseg SegTTAModel for test-time '
            'augmentation')
