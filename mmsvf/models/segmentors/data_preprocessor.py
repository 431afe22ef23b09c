# Copyright (c) mmsvf contributors. All rights reserved.
"""Clip-aware variant of mmseg's ``SegDataPreProcessor``."""
from typing import Any, Dict

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.utils import stack_batch

from mmsvf.registry import MODELS

__all__ = ['VideoSegDataPreprocessor']


@MODELS.register_module()
class VideoSegDataPreprocessor(SegDataPreProcessor):
    """Normalise, pad and stack video clips for :class:`VideoEncoderDecoder`.

    Every element of ``data['inputs']`` is one clip ``(T, C, H, W)`` (uint8 or
    float, as packed by :class:`~mmsvf.datasets.PackClipSegInputs`). Each
    frame is colour-converted (``bgr_to_rgb``) and normalised with the same
    ``mean``/``std``; then all frames of all clips are padded bottom-right to
    a common size exactly as mmseg pads images (``size`` or ``size_divisor``
    in training, ``test_cfg`` at test time), the ground-truth maps of the
    data samples are padded with ``seg_pad_val`` and ``img_shape``,
    ``pad_shape`` and ``padding_size`` are written to their metainfo.

    The arguments are those of mmseg's ``SegDataPreProcessor``. In training,
    when neither ``size`` nor ``size_divisor`` is given, clips are padded to
    the largest clip of the batch.

    Returns (``forward``):
        dict: ``inputs`` ``(B, T, C, H, W)`` float and ``data_samples``.
    """

    def _check_clips(self, inputs, data_samples):
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 5:
                raise ValueError(
                    'VideoSegDataPreprocessor expects a list of clips '
                    f'(T, C, H, W) or a tensor (B, T, C, H, W); got a tensor '
                    f'of shape {tuple(inputs.shape)}')
            inputs = list(inputs)
        shapes = []
        for i, clip in enumerate(inputs):
            if not isinstance(clip, torch.Tensor) or clip.dim() != 4:
                where = ''
                if data_samples is not None and i < len(data_samples):
                    where = f' ({data_samples[i].metainfo.get("img_path")})'
                shape = tuple(clip.shape) if isinstance(
                    clip, torch.Tensor) else type(clip).__name__
                raise ValueError(
                    'VideoSegDataPreprocessor expects every input to be a '
                    f'clip of shape (T, C, H, W); sample {i}{where} has '
                    f'{shape}. Pack clips with mmsvf.PackClipSegInputs.')
            shapes.append(tuple(clip.shape[:2]))
        if len(set(shapes)) != 1:
            raise ValueError(
                'VideoSegDataPreprocessor: all clips of a batch need the same '
                f'number of frames and channels (T, C); got {shapes}')
        return inputs

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise per frame, pad and stack.

        Args:
            data (dict): ``inputs`` (list of ``(T, C, H, W)`` clips) and
                ``data_samples`` from the dataloader.
            training (bool): pad ground truth too (training mode).

        Returns:
            dict: ``inputs`` ``(B, T, C, H, W)`` and ``data_samples``.
        """
        data = self.cast_data(data)
        data_samples = data.get('data_samples', None)
        inputs = self._check_clips(data['inputs'], data_samples)
        num_frames, channels = inputs[0].shape[:2]

        if self.channel_conversion and channels == 3:
            inputs = [clip[:, [2, 1, 0], ...] for clip in inputs]
        inputs = [clip.float() for clip in inputs]
        if self._enable_normalize:
            # mean/std are (C, 1, 1): broadcast over the T frames
            inputs = [(clip - self.mean) / self.std for clip in inputs]

        # mmseg pads (C, H, W) images; fold T into C so every frame of a clip
        # gets the same bottom-right padding as the (per-clip) ground truth.
        flat = [clip.flatten(0, 1) for clip in inputs]
        if training:
            assert data_samples is not None, \
                'VideoSegDataPreprocessor needs data_samples in training'
            size, divisor = self.size, self.size_divisor
            if size is None and divisor is None:
                divisor = 1
            flat, data_samples = stack_batch(
                inputs=flat,
                data_samples=data_samples,
                size=size,
                size_divisor=divisor,
                pad_val=self.pad_val,
                seg_pad_val=self.seg_pad_val)
            if self.batch_augments is not None:
                raise NotImplementedError(
                    'VideoSegDataPreprocessor does not support batch_augments')
        else:
            img_size = flat[0].shape[1:]
            if not all(f.shape[1:] == img_size for f in flat):
                raise ValueError(
                    'VideoSegDataPreprocessor: clips of a test batch must '
                    'have the same (H, W); got '
                    f'{[tuple(f.shape[1:]) for f in flat]}')
            if self.test_cfg:
                flat, padded_samples = stack_batch(
                    inputs=flat,
                    size=self.test_cfg.get('size', None),
                    size_divisor=self.test_cfg.get('size_divisor', None),
                    pad_val=self.pad_val,
                    seg_pad_val=self.seg_pad_val)
                if data_samples is not None:
                    for sample, pad_info in zip(data_samples,
                                                padded_samples):
                        sample.set_metainfo({**pad_info})
            else:
                flat = torch.stack(flat, dim=0)
        batch, _, height, width = flat.shape
        inputs = flat.view(batch, num_frames, channels, height, width)
        return dict(inputs=inputs, data_samples=data_samples)
