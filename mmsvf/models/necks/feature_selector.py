# Copyright (c) mmsvf contributors. All rights reserved.
"""Pick one backbone stage for heads that take a single tensor."""
from typing import Dict, Sequence, Tuple, Union

from torch import Tensor, nn

from mmsvf.registry import MODELS

__all__ = ['FeatureSelector']


@MODELS.register_module()
class FeatureSelector(nn.Module):
    """Recognizer neck that returns one stage of the backbone's output tuple.

    ``SpikeVideoFormer`` always returns a tuple of NCTHW stage maps, while
    mmaction heads such as ``I3DHead`` expect one ``(B, C, T, h, w)`` tensor.
    Used as ``Recognizer3D(neck=dict(type='mmsvf.FeatureSelector'))`` it
    hands the chosen stage on and no auxiliary loss (mmaction's neck
    interface returns ``(feature, loss_aux)``).

    Args:
        index (int): Which element of the tuple. Defaults to -1 (the last
            stage in ``out_indices``).
    """

    def __init__(self, index: int = -1) -> None:
        super().__init__()
        self.index = index

    def init_weights(self) -> None:
        """No parameters."""

    def forward(self, x: Union[Tensor, Sequence[Tensor]],
                data_samples=None) -> Tuple[Tensor, Dict]:
        """``tuple of (B, C_i, T, H_i, W_i)`` → ``((B, C, T, H, W), {})``."""
        if isinstance(x, Tensor):
            return x, dict()
        if not isinstance(x, (tuple, list)) or len(x) == 0:
            raise ValueError('FeatureSelector expects a tensor or a non-empty '
                             f'tuple of tensors, got {type(x).__name__}')
        try:
            return x[self.index], dict()
        except IndexError:
            raise IndexError(
                f'FeatureSelector(index={self.index}) on a backbone output '
                f'of {len(x)} stages') from None
