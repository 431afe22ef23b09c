# Copyright (c) mmsvf contributors. All rights reserved.
"""Convert a Meta-SpikeFormer (Spike-Driven Transformer V2) checkpoint.

The official classification checkpoints (BICLab/Spike-Driven-Transformer-V2
releases) are ``{'model': state_dict, ...}`` with the backbone keys of SPEC
§3.8 and ``head.*`` (+ ``head_kd.*``). They use dot-product attention, so
they have no ``attn_bn`` keys: for a Hamming-attention target those are
initialised fresh (weight 1, bias 0, running mean 0, var 1) and listed.

Examples::

    python tools/convert/convert_metaspikformer.py 55M_kd_T4.pth \\
        checkpoints/metaspikformer-55m_mmsvf-backbone.pth --task backbone
    python tools/convert/convert_metaspikformer.py 55M_kd_T4.pth OUT.pth \\
        --task recognition --config configs/recognition/...py
"""
from mmsvf.models.utils.checkpoint_convert import run_cli


def main(argv=None):
    """Run the converter (see ``--help``)."""
    return run_cli(argv, source_format='metaspikformer')


if __name__ == '__main__':
    main()
