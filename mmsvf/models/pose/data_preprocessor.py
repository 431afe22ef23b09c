# Copyright (c) mmsvf contributors. All rights reserved.
"""Batching and normalisation of video clips for pose estimation."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mmsvf.registry import MODELS

__all__ = ['ClipPoseDataPreprocessor']


@MODELS.register_module()
class ClipPoseDataPreprocessor(BaseDataPreprocessor):
    """Stack clips into ``(B, T, C, H, W)`` float tensors and normalise them.

    Inputs from :class:`~mmsvf.datasets.PackClipPoseInputs` are
    ``(T, C, H, W)`` uint8 tensors (``C = 1`` for grey-scale frames, 3 for
    RGB in RGB order, or the event-frame channels). All clips of a batch
    must share ``T``, ``C``, ``H`` and ``W`` (the pipeline resizes them).
    ``(x - mean) / std`` is applied per channel; the data samples are moved
    to the device untouched.

    Args:
        mean (Sequence[float], optional): Per-channel mean (length ``C``, or
            1 to broadcast). None: no normalisation.
        std (Sequence[float], optional): Per-channel std, as ``mean``.
        non_blocking (bool): Asynchronous host-to-device copies.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('ClipPoseDataPreprocessor: give both mean and '
                             'std, or neither')
        self._enable_normalize = mean is not None
        if self._enable_normalize:
            if len(mean) != len(std):
                raise ValueError(f'mean {mean} and std {std} differ in length')
            self.register_buffer(
                'mean', torch.tensor(mean, dtype=torch.float32).view(
                    1, 1, -1, 1, 1), False)
            self.register_buffer(
                'std', torch.tensor(std, dtype=torch.float32).view(
                    1, 1, -1, 1, 1), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack, cast to float and normalise.

        Args:
            data (dict): ``inputs``: list of ``(T, C, H, W)`` tensors (or a
                ``(B, T, C, H, W)`` tensor); ``data_samples``: list.
            training (bool): Unused (no batch augmentation).

        Returns:
            dict: ``inputs (B, T, C, H, W)`` float32 and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) != 1:
                raise ValueError(
                    'ClipPoseDataPreprocessor: clips of one batch differ in '
                    f'shape {sorted(shapes)}; resize them in the pipeline')
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 5:
            raise ValueError('ClipPoseDataPreprocessor expects clips '
                             f'(B, T, C, H, W), got {tuple(inputs.shape)}')
        inputs = inputs.float()
        if self._enable_normalize:
            c = inputs.shape[2]
            if self.mean.shape[2] not in (1, c):
                raise ValueError(
                    f'ClipPoseDataPreprocessor: {self.mean.shape[2]} mean/std '
                    f'values for {c}-channel clips')
            inputs = (inputs - self.mean) / self.std
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
