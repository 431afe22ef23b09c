# Copyright (c) mmsvf contributors. All rights reserved.
"""Convert an official SpikeVideoFormer checkpoint (JimmyZou/SpikeVideoFormer).

Same key layout as Meta-SpikeFormer (SPEC §3.8), weights under ``model`` or
``state_dict`` (or a bare state dict); Hamming-attention checkpoints carry
``attn_bn`` keys. V3-style neuron names (``spike1``, ``q_spike``, ...) hold no
parameters and need no mapping.

Examples::

    python tools/convert/convert_spikevideoformer.py svf_small_in1k.pth \\
        checkpoints/svf-small_mmsvf-backbone.pth --task backbone
    python tools/convert/convert_spikevideoformer.py svf_k400.pth OUT.pth \\
        --task recognition --config configs/recognition/...py
"""
from mmsvf.models.utils.checkpoint_convert import run_cli


def main(argv=None):
    """Run the converter (see ``--help``)."""
    return run_cli(argv, source_format='spikevideoformer')


if __name__ == '__main__':
    main()
