# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeVideoFormer on still images: the image is a clip of T equal frames."""
import numbers

from mmsvf.registry import MODELS
from .spikevideoformer import SpikeVideoFormer

__all__ = ['SpikeVideoFormerImage']


@MODELS.register_module()
class SpikeVideoFormerImage(SpikeVideoFormer):
    """:class:`SpikeVideoFormer` fed with images repeated over ``time_steps``.

    ImageNet pre-training as in Meta-SpikeFormer (BICLab
    Spike-Driven-Transformer-V2, ``classification/main_finetune.py`` and its
    ``train*.sh`` scripts): every SNN time step sees the same image (T = 1
    first, then T = 4 fine-tuning). The
    repetition happens here, after the data pipeline, so augmentation and
    normalisation run once per image. It adds no parameters: the state dict
    is exactly :class:`SpikeVideoFormer`'s, so a checkpoint trained with this
    class initialises the video backbone unchanged
    (``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``).

    Args:
        time_steps (int): T, the number of times each image is repeated.
        **kwargs: :class:`SpikeVideoFormer` arguments.

    Shapes:
        input ``(B, C, H, W)`` images, or ``(B, C, 1, H, W)`` one-frame clips
        (mmaction's ``ImageDecode`` + ``FormatShape('NCTHW')``), or
        ``(B, C, time_steps, H, W)`` clips already repeated; output as
        :class:`SpikeVideoFormer` with ``T = time_steps``.
    """

    def __init__(self, time_steps=1, **kwargs):
        if (isinstance(time_steps, bool)
                or not isinstance(time_steps, numbers.Integral)
                or time_steps < 1):
            raise ValueError(f'{type(self).__name__}: time_steps='
                             f'{time_steps!r} is invalid; expected an '
                             'integer >= 1 (SNN steps per image)')
        super().__init__(**kwargs)
        self.time_steps = int(time_steps)

    def forward(self, x):
        """Images or one-frame clips → tuple of ``(B, C_i, T, H_i, W_i)``."""
        if x.dim() == 4:
            x = x.unsqueeze(2)
        if x.dim() == 5 and x.shape[2] == 1 and self.time_steps > 1:
            x = x.expand(-1, -1, self.time_steps, -1, -1)
        elif x.dim() == 5 and x.shape[2] != self.time_steps:
            raise ValueError(
                f'SpikeVideoFormerImage(time_steps={self.time_steps}) expects '
                '(B, C, H, W) images or (B, C, 1, H, W) / (B, C, '
                f'{self.time_steps}, H, W) clips; got {tuple(x.shape)}')
        return super().forward(x)

    def extra_repr(self):
        return f'time_steps={self.time_steps}'
