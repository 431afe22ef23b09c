# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike-driven attention: the linear-order core and the attention modules."""
from .core import (
                   SpikeCausalLinearAttention,
                   SpikeLinearAttention,
                   causal_attention_step,
                   causal_dot_attention,
                   causal_hamming_attention,
                   dot_attention,
                   hamming_attention,
)
from .modules import (
                      CausalSpikeAttention,
                      FactorizedSpikeAttention,
                      SpikeDrivenAttention,
                      from_tokens,
                      to_tokens,
)

__all__ = ['hamming_attention', 'dot_attention', 'SpikeLinearAttention',
           'SpikeDrivenAttention', 'FactorizedSpikeAttention', 'to_tokens',
           'from_tokens', 'causal_hamming_attention', 'causal_dot_attention',
           'causal_attention_step', 'SpikeCausalLinearAttention',
           'CausalSpikeAttention']
