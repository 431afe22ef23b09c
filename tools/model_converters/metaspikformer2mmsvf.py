# Copyright (c) mmsvf contributors. All rights reserved.
"""Alias of ``metaspikeformer2mmsvf.py`` under the official code's spelling.

The official repositories name the model "metaspikformer"
(``metaspikformer_8_512``, ``metaspikformer.py``); this script accepts that
spelling and runs ``metaspikeformer2mmsvf.py`` unchanged.
"""
import os.path as osp
import runpy

_CONVERTER = runpy.run_path(
    osp.join(osp.dirname(osp.abspath(__file__)), 'metaspikeformer2mmsvf.py'))


def main(argv=None):
    """Run ``metaspikeformer2mmsvf.py`` (see ``--help``)."""
    return _CONVERTER['main'](argv)


if __name__ == '__main__':
    main()
