# Copyright (c) mmsvf contributors. All rights reserved.
"""An independent, plain re-implementation of the SpikeVideoFormer backbone.

Test helper only. It is written from the paper (Zou et al., ICML 2025,
"SpikeVideoFormer", arXiv 2505.10352: §3.2 spike-driven CNN blocks, §3.3
spike-driven Hamming attention Eq. 9-10, §3.4 / Table 1 joint, hierarchical
and factorized space-time attention) and from the released model code it
builds on (Meta-SpikeFormer ``sdtv2`` ``MS_ConvBlock`` / ``MS_Block`` /
``RepConv`` / ``BNAndPadLayer``, SpikeVideoFormer ``metaspikformer.py``
attention ``3D_ham`` / ``3D_dot`` / ``2D``, SpikingJelly 0.0.0.0.12
``MultiStepLIFNode`` and SpikeYOLO's ``mem_update`` integer neuron).

It shares **no code** with :mod:`mmsvf.models`: only a ``state_dict`` (the
key names of the official checkpoints) passes between them. Everything is
deliberately naive:

* neurons are explicit per-time-step loops;
* convolutions and BatchNorm are ``torch.nn.functional.conv2d`` and the
  written-out BN formula (running statistics in eval mode; batch statistics,
  and a momentum update of the running statistics with the unbiased
  variance, in train mode);
* RepConv pads the BN output with the BN's response to a zero input,
  ``bias - running_mean * weight / sqrt(running_var + eps)`` (official
  ``BNAndPadLayer``: computed after the BN call, i.e. from the running
  statistics already updated in train mode);
* attention forms the explicit ``N x N`` score matrix,
  ``((2Q - 1)(2K - 1)^T) V / (2C)`` (Hamming, ``C`` the channel count of the
  attention module) or ``(Q K^T) V * 0.125`` (dot), i.e. the quadratic order
  of Eq. 9, never the linear ``Q (K^T V)`` of Eq. 10.

Time-first layout inside: ``[T, B, C, H, W]``.
"""
import torch
import torch.nn.functional as F

__all__ = [
    'lif_steps', 'integer_lif_steps', 'naive_attention', 'ReferenceSVF',
    'reference_cls_head'
]


# ---------------------------------------------------------------------------
# neurons
# ---------------------------------------------------------------------------
def lif_steps(x, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True,
              detach_reset=True, alpha=4.0, reset_each_step=False):
    """LIF neuron over ``x: [T, ...]`` (SpikingJelly ``MultiStepLIFNode``).

    ``H = V + (X - (V - V_reset)) / tau`` (``decay_input``; else
    ``H = V - (V - V_reset) / tau + X``), ``S = [H >= V_th]``, hard reset
    ``V = H (1 - S) + V_reset S`` or soft reset (``v_reset=None``)
    ``V = H - V_th S``. The spike's gradient is the sigmoid surrogate
    ``d/dh sigmoid(alpha (h - V_th))``.
    """
    v0 = 0.0 if v_reset is None else v_reset
    v = torch.full_like(x[0], v0)
    out = []
    for t in range(x.shape[0]):
        if reset_each_step:
            v = torch.full_like(x[0], v0)
        if decay_input:
            h = v + (x[t] - (v - v0)) / tau
        else:
            h = v - (v - v0) / tau + x[t]
        fired = (h >= v_threshold).to(x.dtype)
        sg = torch.sigmoid(alpha * (h - v_threshold))
        s = fired + (sg - sg.detach())  # value: exactly `fired`
        sr = s.detach() if detach_reset else s
        if v_reset is None:
            v = h - v_threshold * sr
        else:
            v = h * (1.0 - sr) + v_reset * sr
        out.append(s)
    return torch.stack(out)


def integer_lif_steps(x, max_level=4, leak=0.25, reset_each_step=False):
    """Integer LIF (SpikeYOLO ``mem_update``) over ``x: [T, ...]``.

    ``u[0] = x[0]``, ``u[t] = (u[t-1] - s[t-1]) * leak + x[t]``,
    ``s[t] = round(clamp(u[t], 0, D))`` with a straight-through gradient on
    ``0 <= u <= D``.
    """
    out = []
    u = s = None
    for t in range(x.shape[0]):
        if t == 0 or reset_each_step:
            u = x[t]
        else:
            u = (u - s.detach()) * leak + x[t]
        ud = u.detach()
        level = torch.round(torch.clamp(ud, 0, max_level))
        inside = ((ud >= 0) & (ud <= max_level)).to(x.dtype)
        s = level + (u - ud) * inside
        out.append(s)
    return torch.stack(out)


# ---------------------------------------------------------------------------
# attention, the quadratic way
# ---------------------------------------------------------------------------
def naive_attention(q, k, v, axis, num_heads, similarity):
    """Un-scaled attention of ``[T, B, C, H, W]`` spikes with explicit scores.

    Heads split the channels (``c = head * d + j``). Tokens attend

    * ``'joint'``: to all ``T*H*W`` tokens of the clip;
    * ``'spatial'``: to the ``H*W`` tokens of their own frame;
    * ``'temporal'``: to the ``T`` tokens at their own position.

    Scores are ``(2q - 1) . (2k - 1)`` (Hamming) or ``q . k`` (dot) per pair
    of tokens (the ``N x N`` matrix per head), then ``Y_i = sum_j score_ij
    v_j``.
    """
    T, B, C, H, W = q.shape
    M = num_heads
    q, k, v = (t.reshape(T, B, M, C // M, H, W) for t in (q, k, v))
    if similarity == 'hamming':
        q, k = 2 * q - 1, 2 * k - 1
    elif similarity != 'dot':
        raise ValueError(similarity)
    if axis == 'joint':  # scores [B, M, (t,h,w), (s,x,y)]
        scores = torch.einsum('tbmjhw,sbmjxy->bmthwsxy', q, k)
        y = torch.einsum('bmthwsxy,sbmjxy->tbmjhw', scores, v)
    elif axis == 'spatial':  # scores [T, B, M, (h,w), (x,y)]
        scores = torch.einsum('tbmjhw,tbmjxy->tbmhwxy', q, k)
        y = torch.einsum('tbmhwxy,tbmjxy->tbmjhw', scores, v)
    elif axis == 'temporal':  # scores [B, M, H, W, t, s]
        scores = torch.einsum('tbmjhw,sbmjhw->bmhwts', q, k)
        y = torch.einsum('bmhwts,sbmjhw->tbmjhw', scores, v)
    else:
        raise ValueError(axis)
    return y.reshape(T, B, C, H, W)


# ---------------------------------------------------------------------------
# the backbone
# ---------------------------------------------------------------------------
class ReferenceSVF:
    """Per-step reference of ``SpikeVideoFormer`` driven by a state dict.

    Args:
        state_dict (dict): weights with the official key names. Tensors are
            used as given (pass tensors with ``requires_grad`` to get
            gradients); running statistics are cloned, so train-mode updates
            land in :attr:`buffers` and never in the caller's tensors.
        embed_dims (Sequence[int]): ``[c0, c1, c2, c3]`` (stem ``c0 // 2``).
        depths (Sequence[int]): Transformer blocks of stages 3 and 4.
        num_heads (int | Sequence[int]): heads (per Transformer stage).
        attn_mode (str): ``'joint'``, ``'spatial'``, ``'hierarchical'`` or
            ``'factorized'``.
        similarity (str): ``'hamming'`` or ``'dot'``.
        neuron (str): ``'LIF'`` or ``'IntegerLIF'`` (D = ``max_level``).
        reset_each_frame (bool): every neuron restarts at every frame.
        training (bool): BN with batch statistics and running updates.
    """

    def __init__(self, state_dict, embed_dims, depths=(6, 2), num_heads=8,
                 mlp_ratio=4.0, attn_mode='joint', similarity='hamming',
                 neuron='LIF', max_level=4, reset_each_frame=False,
                 training=False, bn_momentum=0.1, bn_eps=1e-5):
        self.p = dict(state_dict)
        self.buffers = {k: v.detach().clone() for k, v in self.p.items()
                        if k.endswith(('running_mean', 'running_var'))}
        self.embed_dims = list(embed_dims)
        self.depths = tuple(depths)
        if isinstance(num_heads, int):
            num_heads = (num_heads, num_heads)
        self.num_heads = tuple(num_heads)
        self.mlp_ratio = mlp_ratio
        self.attn_mode, self.similarity = attn_mode, similarity
        self.neuron_type, self.max_level = neuron, max_level
        self.reset_each_frame = reset_each_frame
        self.training = training
        self.momentum, self.eps = bn_momentum, bn_eps
        #: name -> fraction of non-zero outputs of each neuron (last call)
        self.rates = {}

    # -- primitives ---------------------------------------------------------
    def neuron(self, x, name, v_threshold=1.0):
        if self.neuron_type == 'LIF':
            s = lif_steps(x, v_threshold=v_threshold,
                          reset_each_step=self.reset_each_frame)
        elif self.neuron_type == 'IntegerLIF':  # no threshold besides D
            s = integer_lif_steps(x, self.max_level,
                                  reset_each_step=self.reset_each_frame)
        else:
            raise ValueError(self.neuron_type)
        self.rates[name] = (s.detach() != 0).double().mean().item()
        return s

    def bn(self, x, name):
        """BatchNorm over channel dim 1 of ``[N, C, ...]``."""
        w, b = self.p[f'{name}.weight'], self.p[f'{name}.bias']
        rm = self.buffers[f'{name}.running_mean']
        rv = self.buffers[f'{name}.running_var']
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        if self.training:
            mean = x.mean(dim=dims)
            var = ((x - mean.view(shape))**2).mean(dim=dims)
            n = x.numel() // x.shape[1]
            with torch.no_grad():
                m = self.momentum
                rm.copy_((1 - m) * rm + m * mean)
                rv.copy_((1 - m) * rv + m * var * n / (n - 1))
        else:
            mean, var = rm, rv
        return ((x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
                * w.view(shape) + b.view(shape))

    def conv(self, x, name, stride=1, padding=0, groups=1, bias=False):
        return F.conv2d(x, self.p[f'{name}.weight'],
                        self.p[f'{name}.bias'] if bias else None,
                        stride=stride, padding=padding, groups=groups)

    @staticmethod
    def frames(fn, x):
        """``fn`` on ``[T*B, ...]``, back to ``[T, B, ...]``."""
        T, B = x.shape[:2]
        y = fn(x.reshape(T * B, *x.shape[2:]))
        return y.reshape(T, B, *y.shape[1:])

    def repconv(self, x, name):
        """1x1 conv -> BN -> pad with BN(0) -> depthwise 3x3 -> 1x1 -> BN."""
        y = self.bn(self.conv(x, f'{name}.body.0'), f'{name}.body.1.bn')
        bn = f'{name}.body.1.bn'
        pad = (self.p[f'{bn}.bias'].detach() -
               self.buffers[f'{bn}.running_mean'] *
               self.p[f'{bn}.weight'].detach() /
               torch.sqrt(self.buffers[f'{bn}.running_var'] + self.eps))
        N, C, H, W = y.shape
        padded = pad.view(1, C, 1, 1).expand(N, C, H + 2, W + 2).clone()
        padded[:, :, 1:H + 1, 1:W + 1] = y
        y = self.conv(padded, f'{name}.body.2.0', groups=C)
        y = self.conv(y, f'{name}.body.2.1')
        return self.bn(y, f'{name}.body.2.2')

    def projection(self, s, name):
        """``Sequential(RepConv, BN)`` per frame."""
        return self.frames(
            lambda t: self.bn(self.repconv(t, f'{name}.0'), f'{name}.1'), s)

    # -- layers ---------------------------------------------------------------
    def downsample(self, x, name, k, stride, padding, first=False):
        if not first:
            x = self.neuron(x, f'{name}.encode_lif')
        return self.frames(lambda t: self.bn(
            self.conv(t, f'{name}.encode_conv', stride, padding, bias=True),
            f'{name}.encode_bn'), x)

    def conv_block(self, x, name):
        """``x += SepConv(x)``; ``x += ChannelConv(x)`` (paper §3.2)."""
        med = self.p[f'{name}.Conv.pwconv1.weight'].shape[0]
        s = self.neuron(x, f'{name}.Conv.lif1')
        y = self.frames(lambda t: self.bn(self.conv(t, f'{name}.Conv.pwconv1'),
                                          f'{name}.Conv.bn1'), s)
        s = self.neuron(y, f'{name}.Conv.lif2')
        y = self.frames(lambda t: self.bn(self.conv(
            self.conv(t, f'{name}.Conv.dwconv', padding=3, groups=med),
            f'{name}.Conv.pwconv2'), f'{name}.Conv.bn2'), s)
        x = x + y
        s = self.neuron(x, f'{name}.lif1')
        y = self.frames(lambda t: self.bn(
            self.conv(t, f'{name}.conv1', padding=1), f'{name}.bn1'), s)
        s = self.neuron(y, f'{name}.lif2')
        y = self.frames(lambda t: self.bn(
            self.conv(t, f'{name}.conv2', padding=1), f'{name}.bn2'), s)
        return x + y

    def _tail(self, y, name):
        """Scale, [attn_bn], attn_lif, proj_conv."""
        C = y.shape[2]
        if self.similarity == 'hamming':
            y = y / (2 * C)
            y = self.frames(lambda t: self.bn(t, f'{name}.attn_bn'), y)
            s = self.neuron(y, f'{name}.attn_lif', v_threshold=1.0)
        else:
            y = y * 0.125
            s = self.neuron(y, f'{name}.attn_lif', v_threshold=0.5)
        return self.projection(s, f'{name}.proj_conv')

    def attention(self, x, name, axis, heads):
        s = self.neuron(x, f'{name}.head_lif')
        q, k, v = (self.neuron(self.projection(s, f'{name}.{n}_conv'),
                               f'{name}.{n}_lif') for n in 'qkv')
        y = naive_attention(q, k, v, axis, heads, self.similarity)
        return self._tail(y, name)

    def factorized_attention(self, x, name, heads):
        s = self.neuron(x, f'{name}.head_lif')
        q, k, v, qt, kt, vt = (
            self.neuron(self.projection(s, f'{name}.{n}_conv'),
                        f'{name}.{n}_lif')
            for n in ('q', 'k', 'v', 'q_t', 'k_t', 'v_t'))
        y = (naive_attention(q, k, v, 'spatial', heads, self.similarity) +
             naive_attention(qt, kt, vt, 'temporal', heads, self.similarity))
        return self._tail(y, name)

    def mlp(self, x, name):
        T, B, C, H, W = x.shape

        def fc(t, i):  # Conv1d(k=1) over tokens == per-pixel linear map
            w = self.p[f'{name}.fc{i}_conv.weight']
            y = F.conv2d(t, w.unsqueeze(-1), self.p[f'{name}.fc{i}_conv.bias'])
            return self.bn(y, f'{name}.fc{i}_bn')

        s = self.neuron(x, f'{name}.fc1_lif')
        y = self.frames(lambda t: fc(t, 1), s)
        s = self.neuron(y, f'{name}.fc2_lif')
        return self.frames(lambda t: fc(t, 2), s)

    def transformer_block(self, x, name, heads):
        if self.attn_mode == 'factorized':
            x = x + self.factorized_attention(x, f'{name}.attn', heads)
        else:
            axis = 'joint' if self.attn_mode == 'joint' else 'spatial'
            x = x + self.attention(x, f'{name}.attn', axis, heads)
            if self.attn_mode == 'hierarchical':
                x = x + self.attention(x, f'{name}.attn_t', 'temporal', heads)
        return x + self.mlp(x, f'{name}.mlp')

    def __call__(self, clip):
        """``(B, C, T, H, W)`` -> 4 stage outputs ``(B, C_i, T, H_i, W_i)``."""
        x = clip.permute(2, 0, 1, 3, 4)
        outs = []
        x = self.downsample(x, 'downsample1_1', 7, 2, 3, first=True)
        x = self.conv_block(x, 'ConvBlock1_1.0')
        outs.append(x)
        x = self.downsample(x, 'downsample1_2', 3, 2, 1)
        x = self.conv_block(x, 'ConvBlock1_2.0')
        outs.append(x)
        x = self.downsample(x, 'downsample2', 3, 2, 1)
        x = self.conv_block(x, 'ConvBlock2_1.0')
        x = self.conv_block(x, 'ConvBlock2_2.0')
        outs.append(x)
        x = self.downsample(x, 'downsample3', 3, 2, 1)
        for i in range(self.depths[0]):
            x = self.transformer_block(x, f'block3.{i}', self.num_heads[0])
        x = self.downsample(x, 'downsample4', 3, 1, 1)
        for i in range(self.depths[1]):
            x = self.transformer_block(x, f'block4.{i}', self.num_heads[1])
        outs.append(x)
        return tuple(o.permute(1, 2, 0, 3, 4) for o in outs)


def reference_cls_head(feat, weight, bias):
    """Meta-SpikeFormer classification head on a ``(B, C, T, h, w)`` feature:
    spatial mean -> LIF over the T frames -> Linear -> mean over T."""
    x = feat.mean(dim=(3, 4)).permute(2, 0, 1)  # (T, B, C)
    s = lif_steps(x)
    return (s @ weight.T + bias).mean(dim=0)
