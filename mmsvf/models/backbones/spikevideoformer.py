# Copyright (c) mmsvf contributors. All rights reserved.
"""SpikeVideoFormer backbone (arXiv 2505.10352 §3): the Meta-SpikeFormer
layout (BICLab Spike-Driven-Transformer-V2 ``classification/models.py``) with
spike-driven Hamming attention over all ``T·H·W`` tokens."""
import functools
import numbers

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsvf.registry import MODELS
from ..attention import (
    CausalSpikeAttention,
    FactorizedSpikeAttention,
    SpikeDrivenAttention,
)
from ..attention.core import INTEGER_QK_MODES
from ..attention.modules import (
    attn_scale_value,
    remove_attn_bn,
    set_attn_scale,
)
from ..layers import (
    MSMLP,
    MSConvBlock,
    MSDownsampling,
    set_compact_spikes,
    set_fast_depthwise,
)
from ..layers.checkpoint import checkpoint_module
from ..neurons.streaming import StreamState, streaming
from ..utils.compile import compiled_function

__all__ = ['SpikeVideoFormer', 'MSBlock']

ATTN_MODES = ('joint', 'spatial', 'hierarchical', 'factorized', 'causal')
#: modes whose frame t depends on frames <= t only (forward_step runs them)
STREAMING_MODES = ('causal', 'spatial')
#: why the other modes cannot run frame by frame
_NOT_CAUSAL = {
    'joint': 'its attention sums K^T V over all T*H*W tokens of the clip, '
    'so frame t depends on later frames',
    'hierarchical': 'its temporal attention mixes every frame of the clip '
    'at each position, so frame t depends on later frames',
    'factorized': 'its temporal branch mixes every frame of the clip at '
    'each position, so frame t depends on later frames',
}
SIMILARITIES = ('hamming', 'dot')
#: SpikeVideoFormer code's ``att_mode`` names → (attn_mode, similarity)
LEGACY_ATT_MODES = {
    '3D_ham': ('joint', 'hamming'),
    '3D_dot': ('joint', 'dot'),
    '2D': ('spatial', 'dot'),
}
#: stages of ``out_indices``, ``with_cp`` and ``frozen_stages``
NUM_STAGES = 4


def _compile_cfg(compile_blocks):
    """``compile_blocks`` → ``torch.compile`` kwargs (static shapes unless
    asked otherwise: blocks of different stages share one function but not
    one shape) or None."""
    if not compile_blocks:
        return None
    cfg = dict(dynamic=False)
    if compile_blocks is not True:
        cfg.update(compile_blocks)
    return cfg


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_seq(value):
    return isinstance(value, (list, tuple))


class _ArgChecker:
    """Raises a ``ValueError`` naming the class, the argument, its value and
    what was expected."""

    def __init__(self, owner):
        self.owner = owner

    def fail(self, name, value, expected):
        raise ValueError(f'{self.owner}: {name}={value!r} is invalid; '
                         f'expected {expected}')

    def ints(self, name, value, length, minimum, meaning):
        """``value`` as a tuple of ``length`` integers >= ``minimum``."""
        if not (_is_seq(value) and len(value) == length
                and all(_is_int(v) and v >= minimum for v in value)):
            self.fail(name, value, f'{length} integers >= {minimum} '
                      f'({meaning})')
        return tuple(int(v) for v in value)

    def flag(self, name, value):
        if not isinstance(value, bool):
            self.fail(name, value, 'True or False')
        return value

    def flags(self, name, value, length, meaning):
        """A bool for all, or ``length`` bools."""
        if isinstance(value, bool):
            return (value, ) * length
        if not (_is_seq(value) and len(value) == length
                and all(isinstance(v, bool) for v in value)):
            self.fail(name, value, f'a bool or {length} bools ({meaning})')
        return tuple(value)


def _check_heads(check, embed_dims, depths, num_heads):
    """Heads per Transformer stage; each must divide its stage's width."""
    heads = (num_heads, num_heads) if _is_int(num_heads) else num_heads
    if not (_is_seq(heads) and len(heads) == 2
            and all(_is_int(n) and n >= 1 for n in heads)):
        check.fail('num_heads', num_heads, 'an integer >= 1, or one per '
                   'Transformer stage (2 integers >= 1)')
    for stage, dim, depth, n in zip((3, 4), embed_dims[2:], depths, heads):
        if depth and dim % n:
            check.fail('num_heads', num_heads,
                       f'head counts that divide the widths: embed_dims'
                       f'[{stage - 1}]={dim} is not divisible by {n}')
    return tuple(int(n) for n in heads)


class MSBlock(nn.Module):
    """Spike-driven Transformer block with membrane shortcuts (paper §3.3;
    Meta-SpikeFormer ``MS_Block``).

    ``x = x + Attn(x)`` (``x = x + Attn_t(x)`` too in hierarchical mode);
    ``x = x + MLP(x)``. Activation checkpointing and ``torch.compile`` are
    applied by the backbone around the whole block.

    Args:
        dim (int): channels.
        num_heads (int): attention heads.
        mlp_ratio (float): hidden width of the MLP over ``dim``.
        attn_mode (str): ``'joint'`` | ``'spatial'`` | ``'hierarchical'`` |
            ``'factorized'`` | ``'causal'``.
        similarity (str): ``'hamming'`` | ``'dot'``.
        neuron (dict): neuron config.
        attn_neuron (dict | None): neuron of the attention's Q/K/V and
            output (None: ``neuron``).
        integer_qk (str): Hamming attention on integer Q/K, ``'linear'``
            or ``'expand'`` (:class:`~mmsvf.models.attention.
            SpikeLinearAttention`).

    Shapes:
        ``[T, B, C, H, W]`` → ``[T, B, C, H, W]``.
    """

    def __init__(self, dim, num_heads=8, mlp_ratio=4.0, attn_mode='joint',
                 similarity='hamming', neuron=None, attn_neuron=None,
                 integer_qk='linear'):
        super().__init__()
        inner = dict(attn_neuron=attn_neuron, integer_qk=integer_qk)
        if attn_mode == 'factorized':
            self.attn = FactorizedSpikeAttention(dim, num_heads, similarity,
                                                 neuron, **inner)
        elif attn_mode == 'causal':
            self.attn = CausalSpikeAttention(dim, num_heads, similarity,
                                             neuron, **inner)
        else:
            axis = 'joint' if attn_mode == 'joint' else 'spatial'
            self.attn = SpikeDrivenAttention(dim, num_heads, axis, similarity,
                                             neuron, **inner)
        if attn_mode == 'hierarchical':
            self.attn_t = SpikeDrivenAttention(dim, num_heads, 'temporal',
                                               similarity, neuron, **inner)
        self.mlp = MSMLP(dim, int(dim * mlp_ratio), neuron=neuron)

    def forward(self, x):
        x = x + self.attn(x)
        if hasattr(self, 'attn_t'):
            x = x + self.attn_t(x)
        return x + self.mlp(x)


@MODELS.register_module()
class SpikeVideoFormer(BaseModule):
    """SpikeVideoFormer: spike-driven video Transformer (Zou et al., 2025).

    The Meta-SpikeFormer backbone (conv stages 1+1+2 blocks, Transformer
    stages 6+2 blocks) with the T frames of a clip as the SNN's time steps
    (every neuron integrates over frames) and spike-driven Hamming attention
    over all ``T·H·W`` tokens, ``O(T·N·D²)``.

    Module names equal Meta-SpikeFormer's (``downsample1_1``,
    ``ConvBlock1_1.0.Conv.pwconv1``, ``block3.0.attn.q_conv.0.body.0``,
    ``block3.0.mlp.fc1_conv``, ...) so official checkpoints map by prefix.
    Neuron state starts fresh in every forward.

    Args:
        arch (str): ``'small'``, ``'base'`` or ``'large'`` (ignored when
            ``embed_dims`` is given).
        embed_dims (Sequence[int] | None): the four widths
            ``[c0, c1, c2, c3]``; the stem has ``c0 // 2`` channels.
        depths (Sequence[int]): Transformer blocks in stages 3 and 4.
        num_heads (int | Sequence[int]): heads (per Transformer stage).
        mlp_ratio (float): MLP/conv-block expansion.
        attn_mode (str): ``'joint'`` (default, SDHA over T·H·W),
            ``'spatial'`` (per frame), ``'hierarchical'`` (spatial module then
            temporal module) or ``'factorized'`` (spatial + temporal branches
            in one module) or ``'causal'`` (joint attention over the frames
            up to the query's, a cumulative ``KᵀV``; runs frame by frame
            with :meth:`forward_step`). SpikeVideoFormer's ``'3D_ham'``,
            ``'3D_dot'`` and
            ``'2D'`` are accepted as aliases (they also set ``similarity``).
        similarity (str): ``'hamming'`` (default) or ``'dot'``.
        reset_each_frame (bool): restart every neuron's membrane at each frame
            (no temporal spiking). With ``attn_mode='spatial'`` the network
            then treats frames as independent images.
        neuron (dict): neuron config, e.g. ``dict(type='LIF')`` or
            ``dict(type='IntegerLIF', max_level=4)``.
        attn_neuron (dict | None): neuron of every attention's ``q_lif``,
            ``k_lif``, ``v_lif`` (``*_t_lif``) and ``attn_lif``, chosen
            apart from ``neuron`` (None: ``neuron``). The paper's SDHA
            (§3.3) is defined on binary Q/K: in an I-LIF network,
            ``attn_neuron=dict(type='LIF')`` keeps it exact
            (docs/segmentation.md, "Integer neurons and the attention").
        integer_qk (str): Hamming attention on integer Q/K spikes:
            ``'linear'`` (default, ``2q − 1`` on the integer values, not a
            Hamming similarity for ``q >= 2``) or ``'expand'`` (each
            integer expanded to D binary sub-steps before the similarity,
            exact Hamming over ``d·D`` bits). No effect on binary Q/K.
        in_channels (int): input channels (3 RGB, 1 grey).
        out_indices (Sequence[int]): stages to return, of 0 (after
            ``ConvBlock1_1``), 1 (``ConvBlock1_2``), 2 (``ConvBlock2_2``),
            3 (``block4``).
        frozen_stages (int): freeze stages ``0..frozen_stages`` (-1: none).
        norm_eval (bool): keep BN layers in eval mode while training.
        with_cp (bool | Sequence[bool]): activation checkpointing per block,
            for all stages or per stage (4 values, stage ``i`` as in
            ``out_indices``; a stage's downsampling layer and each of its
            blocks are checkpointed separately). Only block inputs are kept;
            the rest is recomputed in backward with the same spikes,
            surrogate gradients and BatchNorm running statistics as without
            checkpointing.
        compact_spikes (bool): layers that keep spikes for backward
            (convolutions after a neuron, the attention products) keep them
            as ``bool`` / ``uint8`` instead of float; gradients unchanged.
        fast_depthwise (bool): run the depthwise convolutions (SepConv's
            7x7, RepConv's 3x3) on CPU float32 in the channels-last layout,
            2-4x faster forward+backward than the NCHW kernel. Outputs and
            input gradients are bitwise the same; the depthwise weight
            gradients sum in another order (float32 rounding), so a
            training run drifts from the default's after some steps. Off by
            default: the published toy results were measured without it.
        compile_blocks (bool | dict): run every block (and downsampling
            layer) through ``torch.compile`` (a dict: its keyword arguments,
            e.g. ``dict(mode='max-autotune')``). Off by default; neurons use
            their traceable torch path inside compiled code.
        attn_scale (str | float | None): factor of the attention products.
            None (default): each similarity's own, ``1/(2C)`` for Hamming
            (the paper's adaptive ``1/(2D)``, §3.3) and ``0.125`` for dot
            (SDSA's). ``'adaptive'``: ``1/(2C)`` for either; a number > 0:
            that fixed factor for every attention (the scale ablation,
            docs/ablations.md). Neuron thresholds and ``attn_bn`` stay.
        attn_bn (bool): keep the BatchNorm between the Hamming product and
            ``attn_lif`` (default, the official code). ``False`` drops it
            (the paper's form, where the scale reaches the neuron; with the
            BN a constant scale cancels). No effect in dot mode (no BN).
        init_cfg (dict | list | None): mmengine init config, e.g.
            ``dict(type='Pretrained', checkpoint=...)``.

    Shapes:
        input ``(B, C, T, H, W)`` float (mmaction's NCTHW), ``H, W`` divisible
        by 16; output a tuple of ``(B, C_i, T, H / s_i, W / s_i)`` membrane
        maps, ``s = (2, 4, 8, 16)``, ``C = (c0 // 2, c0, c1, c3)``.
    """

    arch_settings = {
        'small': [64, 128, 256, 360],
        'base': [96, 192, 384, 480],
        'large': [128, 256, 512, 640],
    }

    def __init__(self,
                 arch='small',
                 embed_dims=None,
                 depths=(6, 2),
                 num_heads=8,
                 mlp_ratio=4.0,
                 attn_mode='joint',
                 similarity='hamming',
                 reset_each_frame=False,
                 neuron=dict(type='LIF'),
                 attn_neuron=None,
                 integer_qk='linear',
                 in_channels=3,
                 out_indices=(0, 1, 2, 3),
                 frozen_stages=-1,
                 norm_eval=False,
                 with_cp=False,
                 compact_spikes=True,
                 fast_depthwise=False,
                 compile_blocks=False,
                 attn_scale=None,
                 attn_bn=True,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check = _ArgChecker(type(self).__name__)
        if embed_dims is None:
            if arch not in self.arch_settings:
                check.fail('arch', arch, f'one of '
                           f'{sorted(self.arch_settings)} (or embed_dims)')
            embed_dims = self.arch_settings[arch]
        widths = check.ints('embed_dims', embed_dims, 4, 1,
                            'the widths [c0, c1, c2, c3]')
        if widths[0] < 2:
            check.fail('embed_dims', embed_dims,
                       'c0 >= 2 (the stem has c0 // 2 channels)')
        embed_dims = widths
        depths = check.ints('depths', depths, 2, 0,
                            'Transformer blocks of stages 3 and 4')
        num_heads = _check_heads(check, embed_dims, depths, num_heads)
        if (isinstance(mlp_ratio, bool)
                or not isinstance(mlp_ratio, numbers.Real)
                or not mlp_ratio > 0):
            check.fail('mlp_ratio', mlp_ratio, 'a number > 0')
        if attn_mode in LEGACY_ATT_MODES:
            attn_mode, similarity = LEGACY_ATT_MODES[attn_mode]
        if attn_mode not in ATTN_MODES:
            check.fail('attn_mode', attn_mode,
                       f'one of {ATTN_MODES + tuple(LEGACY_ATT_MODES)}')
        if similarity not in SIMILARITIES:
            check.fail('similarity', similarity, f'one of {SIMILARITIES}')
        if neuron is not None and not (isinstance(neuron, dict)
                                       and 'type' in neuron):
            check.fail('neuron', neuron,
                       "a neuron config dict with a 'type', e.g. "
                       "dict(type='LIF')")
        if attn_neuron is not None and not (isinstance(attn_neuron, dict)
                                            and 'type' in attn_neuron):
            check.fail('attn_neuron', attn_neuron,
                       "None or a neuron config dict with a 'type', e.g. "
                       "dict(type='LIF')")
        if integer_qk not in INTEGER_QK_MODES:
            check.fail('integer_qk', integer_qk,
                       f'one of {INTEGER_QK_MODES}')
        if not (_is_int(in_channels) and in_channels >= 1):
            check.fail('in_channels', in_channels, 'an integer >= 1')
        if not (_is_seq(out_indices) and out_indices and all(
                _is_int(i) and 0 <= i < NUM_STAGES for i in out_indices)
                and list(out_indices) == sorted(set(out_indices))):
            check.fail('out_indices', out_indices,
                       f'increasing stage indices in 0..{NUM_STAGES - 1}')
        if not (_is_int(frozen_stages)
                and -1 <= frozen_stages < NUM_STAGES):
            check.fail('frozen_stages', frozen_stages,
                       f'an integer in -1..{NUM_STAGES - 1} (-1: none)')
        with_cp = check.flags('with_cp', with_cp, NUM_STAGES,
                              'one per stage')
        if not isinstance(compile_blocks, (bool, dict)):
            check.fail('compile_blocks', compile_blocks,
                       'a bool or a dict of torch.compile arguments')
        for name, value in (('reset_each_frame', reset_each_frame),
                            ('norm_eval', norm_eval),
                            ('compact_spikes', compact_spikes),
                            ('fast_depthwise', fast_depthwise)):
            check.flag(name, value)
        self.embed_dims = list(embed_dims)
        self.in_channels = in_channels
        self.attn_mode, self.similarity = attn_mode, similarity
        self.reset_each_frame = reset_each_frame
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.depths, self.num_heads = depths, num_heads
        self.with_cp = with_cp
        self.compact_spikes = compact_spikes
        self.fast_depthwise = fast_depthwise
        self.compile_cfg = _compile_cfg(compile_blocks)
        neuron = dict(neuron or dict(type='LIF'))
        if reset_each_frame:
            neuron['reset_each_step'] = True
        self.neuron_cfg = neuron
        if attn_neuron is not None:
            attn_neuron = dict(attn_neuron)
            if reset_each_frame:
                attn_neuron['reset_each_step'] = True
        self.attn_neuron_cfg = attn_neuron
        self.integer_qk = integer_qk

        c0, c1, c2, c3 = embed_dims
        stem = c0 // 2
        conv = dict(mlp_ratio=mlp_ratio, neuron=neuron)
        self.downsample1_1 = MSDownsampling(in_channels, stem, 7, 2, 3,
                                            first_layer=True, neuron=neuron)
        self.ConvBlock1_1 = nn.ModuleList([MSConvBlock(stem, **conv)])
        self.downsample1_2 = MSDownsampling(stem, c0, 3, 2, 1, neuron=neuron)
        self.ConvBlock1_2 = nn.ModuleList([MSConvBlock(c0, **conv)])
        self.downsample2 = MSDownsampling(c0, c1, 3, 2, 1, neuron=neuron)
        self.ConvBlock2_1 = nn.ModuleList([MSConvBlock(c1, **conv)])
        self.ConvBlock2_2 = nn.ModuleList([MSConvBlock(c1, **conv)])
        self.downsample3 = MSDownsampling(c1, c2, 3, 2, 1, neuron=neuron)
        attn = dict(mlp_ratio=mlp_ratio, attn_mode=attn_mode,
                    similarity=similarity, neuron=neuron,
                    attn_neuron=attn_neuron, integer_qk=integer_qk)
        self.block3 = nn.ModuleList([
            MSBlock(c2, num_heads[0], **attn) for _ in range(depths[0])
        ])
        self.downsample4 = MSDownsampling(c2, c3, 3, 1, 1, neuron=neuron)
        self.block4 = nn.ModuleList([
            MSBlock(c3, num_heads[1], **attn) for _ in range(depths[1])
        ])
        all_channels = (stem, c0, c1, c3)
        self.out_channels = tuple(all_channels[i] for i in self.out_indices)
        set_compact_spikes(self, self.compact_spikes)
        set_fast_depthwise(self, self.fast_depthwise)
        self.attn_scale = attn_scale
        if attn_scale is not None:
            try:
                attn_scale_value(attn_scale, 1)
            except ValueError:
                check.fail('attn_scale', attn_scale,
                           "None, 'adaptive' or a number > 0")
            set_attn_scale(self, attn_scale)
        self.attn_bn = check.flag('attn_bn', attn_bn)
        if not attn_bn:
            remove_attn_bn(self)
        self._freeze_stages()

    # ------------------------------------------------------------------
    def stage_modules(self, i):
        """Modules of stage ``i`` (0..3), in order."""
        return [
            [self.downsample1_1, self.ConvBlock1_1],
            [self.downsample1_2, self.ConvBlock1_2],
            [self.downsample2, self.ConvBlock2_1, self.ConvBlock2_2],
            [self.downsample3, self.block3, self.downsample4, self.block4],
        ][i]

    def _freeze_stages(self):
        for i in range(self.frozen_stages + 1):
            for m in self.stage_modules(i):
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    # ------------------------------------------------------------------
    def _check_input(self, x):
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
            raise ValueError(
                'SpikeVideoFormer expects a clip of shape (B, C, T, H, W) '
                f'(NCTHW, C={self.in_channels}); got {shape}')
        B, C, T, H, W = x.shape
        if C != self.in_channels:
            raise ValueError(
                f'SpikeVideoFormer expects (B, {self.in_channels}, T, H, W) '
                f'with in_channels={self.in_channels}; got {tuple(x.shape)}')
        if T < 1 or H % 16 or W % 16:
            raise ValueError(
                'SpikeVideoFormer expects T >= 1 and H, W divisible by 16 '
                f'(B, C, T, H, W); got {tuple(x.shape)}')

    def forward(self, x):
        """``(B, C, T, H, W)`` → tuple of ``(B, C_i, T, H_i, W_i)``."""
        self._check_input(x)
        # time-first spike layout inside: [T, B, C, H, W]
        x = x.permute(2, 0, 1, 3, 4).contiguous()
        outs = []

        def emit(i, t):
            if i in self.out_indices:
                outs.append(t.permute(1, 2, 0, 3, 4))

        x = self._layer(self.downsample1_1, x, 0)
        x = self._blocks(self.ConvBlock1_1, x, 0)
        emit(0, x)
        x = self._layer(self.downsample1_2, x, 1)
        x = self._blocks(self.ConvBlock1_2, x, 1)
        emit(1, x)
        x = self._layer(self.downsample2, x, 2)
        x = self._blocks(self.ConvBlock2_1, x, 2)
        x = self._blocks(self.ConvBlock2_2, x, 2)
        emit(2, x)
        x = self._layer(self.downsample3, x, 3)
        x = self._blocks(self.block3, x, 3)
        x = self._layer(self.downsample4, x, 3)
        x = self._blocks(self.block4, x, 3)
        emit(3, x)
        return tuple(outs)

    def _layer(self, module, x, stage):
        """Run one layer or block of ``stage``: the one place where
        activation checkpointing (``with_cp``) and ``torch.compile``
        (``compile_blocks``) are applied."""
        fn = module
        if self.compile_cfg is not None:
            fn = functools.partial(
                compiled_function(type(module).forward, self.compile_cfg),
                module)
        return checkpoint_module(module, fn, x, enabled=self.with_cp[stage])

    def _blocks(self, blocks, x, stage):
        for block in blocks:
            x = self._layer(block, x, stage)
        return x

    # ------------------------------------------------------------------
    def init_stream(self):
        """An empty :class:`~mmsvf.models.neurons.StreamState` for
        :meth:`forward_step`."""
        return StreamState()

    def _check_frame(self, frame, state):
        if not isinstance(frame, torch.Tensor) or frame.dim() != 4:
            shape = tuple(frame.shape) if isinstance(
                frame, torch.Tensor) else type(frame)
            raise ValueError(
                'SpikeVideoFormer.forward_step expects one frame of shape '
                f'(B, C, H, W) (C={self.in_channels}); got {shape}')
        B, C, H, W = frame.shape
        if C != self.in_channels:
            raise ValueError(
                f'SpikeVideoFormer.forward_step expects (B, '
                f'{self.in_channels}, H, W) with in_channels='
                f'{self.in_channels}; got {tuple(frame.shape)}')
        if H % 16 or W % 16:
            raise ValueError(
                'SpikeVideoFormer.forward_step expects H, W divisible by 16 '
                f'(B, C, H, W); got {tuple(frame.shape)}')
        spec = (tuple(frame.shape), frame.dtype, frame.device)
        if state.spec is not None and state.spec != spec:
            raise ValueError(
                'SpikeVideoFormer.forward_step: this frame '
                f'{spec[0]} ({spec[1]}, {spec[2]}) does not continue the '
                f'stream of {state.spec[0]} frames ({state.spec[1]}, '
                f'{state.spec[2]}); start a new stream (state=None) for '
                'another shape')
        return spec

    def forward_step(self, frame, state=None):
        """Run one frame of a stream, carrying every neuron's membrane and
        every causal attention's running ``KᵀV`` in ``state``.

        For ``attn_mode`` ``'causal'`` and ``'spatial'`` the outputs of frame
        ``t`` equal frame ``t`` of :meth:`forward` on the clip of the frames
        so far (in eval mode: in training mode BatchNorm would normalise
        with the statistics of one frame instead of the clip). ``state``
        holds one tensor per neuron and per attention layer, its size
        independent of the number of frames seen. ``with_cp`` and
        ``compile_blocks`` are not applied here.

        Args:
            frame (Tensor): ``(B, C, H, W)``, ``H, W`` divisible by 16.
            state (StreamState | None): what the previous call returned;
                None starts a new stream.

        Returns:
            tuple: ``outs``, a tuple of ``(B, C_i, H_i, W_i)`` for
            ``out_indices``, and the updated ``state``.
        """
        if self.attn_mode not in STREAMING_MODES:
            raise ValueError(
                f"SpikeVideoFormer.forward_step cannot run attn_mode="
                f"'{self.attn_mode}' frame by frame: "
                f'{_NOT_CAUSAL[self.attn_mode]}. Streaming needs '
                f'attn_mode in {STREAMING_MODES} (a joint checkpoint loads '
                "into attn_mode='causal', same keys)")
        if state is None:
            state = self.init_stream()
        elif not isinstance(state, StreamState):
            raise TypeError('SpikeVideoFormer.forward_step: state must be '
                            'None or the StreamState a previous call '
                            f'returned, got {type(state).__name__}')
        spec = self._check_frame(frame, state)
        x = frame.unsqueeze(0)  # [T=1, B, C, H, W]
        outs = []
        with streaming(self, state):
            for i in range(NUM_STAGES):
                for module in self.stage_modules(i):
                    for layer in (module if isinstance(
                            module, nn.ModuleList) else [module]):
                        x = layer(x)
                if i in self.out_indices:
                    outs.append(x[0])
        state.spec = spec
        state.frames += 1
        return tuple(outs), state
