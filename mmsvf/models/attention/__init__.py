# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike-driven attention: the linear-order core and the attention modules."""
from .core import SpikeLinearAttention, dot_attention, hamming_attention
from .modules import (
                      FactorizedSpikeAttention,
                      SpikeDrivenAttention,
                      from_tokens,
                      to_tokens,
)

__all__ = ['hamming_attention', 'dot_attention', 'SpikeLinearAttention',
           'SpikeDrivenAttention', 'FactorizedSpikeAttention', 'to_tokens',
           'from_tokens']
