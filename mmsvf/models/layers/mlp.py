# Copyright (c) mmsvf contributors. All rights reserved.
"""Channel MLP of the spike-driven Transformer block (``MS_MLP``)."""
from torch import nn

from ..neurons import build_neuron
from .spike_conv import SpikeConv1d

__all__ = ['MSMLP']


class MSMLP(nn.Module):
    """Channel MLP of the spike-driven Transformer block.

    ``fc1_lif → fc1_conv (1x1, bias) → fc1_bn → fc2_lif → fc2_conv →
    fc2_bn``.

    Conv1d over the flattened tokens, as Meta-SpikeFormer (key names kept).
    ``8C² + 15C`` parameters for ``mlp_ratio = 4``.

    Shapes:
        ``[T, B, C, H, W]`` → ``[T, B, C, H, W]``.
    """

    def __init__(self, in_features, hidden_features=None, out_features=None,
                 neuron=None):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1_lif = build_neuron(neuron)
        self.fc1_conv = SpikeConv1d(in_features, hidden_features, 1, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden_features)
        self.fc2_lif = build_neuron(neuron)
        self.fc2_conv = SpikeConv1d(hidden_features, out_features, 1, 1)
        self.fc2_bn = nn.BatchNorm1d(out_features)
        self.hidden_features = hidden_features
        self.out_features = out_features

    def forward(self, x):
        T, B, C, H, W = x.shape
        x = self.fc1_lif(x.flatten(3))
        x = self.fc1_bn(self.fc1_conv(x.flatten(0, 1)))
        x = x.reshape(T, B, self.hidden_features, H * W)
        x = self.fc2_lif(x)
        x = self.fc2_bn(self.fc2_conv(x.flatten(0, 1)))
        return x.reshape(T, B, self.out_features, H, W)
