# Copyright (c) mmsvf contributors. All rights reserved.
"""Convert a Meta-SpikeFormer (Spike-Driven Transformer V2) checkpoint.

The official classification checkpoints (BICLab/Spike-Driven-Transformer-V2
releases, models ``metaspikformer_8_*`` of ``classification/models.py``) are
``{'model': state_dict, 'args': Namespace, ...}`` with the backbone at the
top level and ``head.*`` (+ ``head_kd.*``). They use dot-product attention,
so they have no ``attn_bn`` keys: for a Hamming-attention target those are
initialised fresh (weight 1, bias 0, running mean 0, var 1) and listed.
Same command line as ``spikevideoformer2mmsvf.py``; the official spelling
``metaspikformer2mmsvf.py`` is an alias of this script.

Examples::

    python tools/model_converters/metaspikeformer2mmsvf.py 55M_kd_T4.pth \\
        checkpoints/metaspikeformer-55m_mmsvf-backbone.pth --task backbone
    python tools/model_converters/metaspikeformer2mmsvf.py 55M_kd_T4.pth \\
        OUT.pth --task recognition --config configs/recognition/...py
"""
import os.path as osp
import runpy

# the command line shared with the SpikeVideoFormer converter (a sibling
# script, not an importable module)
_CLI = runpy.run_path(
    osp.join(osp.dirname(osp.abspath(__file__)), 'spikevideoformer2mmsvf.py'))


def main(argv=None):
    """Run the converter (see ``--help``)."""
    return _CLI['main'](argv, source_format='metaspikeformer')


if __name__ == '__main__':
    main()
