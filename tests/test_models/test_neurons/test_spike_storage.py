# Copyright (c) mmsvf contributors. All rights reserved.
"""Spike codes (bool / uint8) decode bitwise to the neuron's spikes."""
import pytest
import torch

from mmsvf.models.neurons import (
    decode_spikes,
    encode_spikes,
    mark_spikes,
    spike_format,
)


@pytest.mark.parametrize('max_level,normalized', [(1, False), (4, False),
                                                  (4, True), (3, True)])
def test_spike_codes_are_lossless(max_level, normalized):
    k = torch.randint(0, max_level + 1, (5, 7)).float()
    s = k / max_level if normalized else k
    fmt = spike_format(mark_spikes(s, max_level, normalized))
    code = encode_spikes(s, fmt)
    assert code.dtype == (torch.bool if max_level == 1 and not normalized
                          else torch.uint8)
    for dtype in (torch.float32, torch.bfloat16):
        ref = s.to(dtype) if not normalized else k.to(dtype) / max_level
        assert torch.equal(decode_spikes(code, fmt, dtype), ref)
