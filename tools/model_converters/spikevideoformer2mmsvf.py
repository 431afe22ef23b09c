# Copyright (c) mmsvf contributors. All rights reserved.
"""Convert an official SpikeVideoFormer checkpoint into an mmsvf checkpoint.

Official files (JimmyZou/SpikeVideoFormer) use the Meta-SpikeFormer key
layout (the module names of ``classification/models/metaspikformer.py``),
weights under ``model`` or ``state_dict`` (or a bare state dict);
Hamming-attention checkpoints carry ``attn_bn`` keys. V3-style neuron names
(``spike1``, ``q_spike``, ...) hold no parameters and need no mapping. The
mapping itself is :func:`mmsvf.models.utils.checkpoint_convert.convert_file`;
``metaspikeformer2mmsvf.py`` runs this command line for Meta-SpikeFormer
files.

Examples::

    python tools/model_converters/spikevideoformer2mmsvf.py \\
        svf_small_in1k.pth checkpoints/svf-small_mmsvf-backbone.pth \\
        --task backbone
    python tools/model_converters/spikevideoformer2mmsvf.py svf_k400.pth \\
        OUT.pth --task recognition --config configs/recognition/...py
"""
import argparse
import json
import sys

from mmengine.config import DictAction

from mmsvf.models.utils.checkpoint_convert import TASKS, convert_file
from mmsvf.utils.checkpoint import UnsafeCheckpointError
from mmsvf.utils.fileio import atomic_write

#: source format -> what the official project is called in ``--help``
SOURCES = {
    'metaspikeformer':
    'Meta-SpikeFormer (Spike-Driven Transformer V2) classification',
    'spikevideoformer': 'SpikeVideoFormer',
}


def parse_args(argv=None, source_format='spikevideoformer'):
    """The converter's arguments (see ``--help``)."""
    parser = argparse.ArgumentParser(
        description=f'Convert an official {SOURCES[source_format]} '
        'checkpoint into an mmsvf checkpoint ({"state_dict", "meta"}). The '
        'file is read with torch.load(weights_only=True): a file that needs '
        'arbitrary unpickling is refused unless --unsafe-load is given.')
    parser.add_argument('src', help='official checkpoint (.pth/.pth.tar; '
                        '.safetensors with the safetensors package)')
    parser.add_argument('dst', help='output mmsvf checkpoint (.pth)')
    parser.add_argument(
        '--task', choices=TASKS, default='recognition',
        help='target model: recognition keeps the classifier as '
        'cls_head.head (when the classes match); the others keep only '
        'backbone.* (default: recognition)')
    parser.add_argument(
        '--config', help='mmsvf config whose model the keys are compared '
        'with (default: the backbone described by the checkpoint itself, '
        'Hamming attention)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides for --config')
    parser.add_argument(
        '--num-classes', type=int, default=None,
        help='without --config: classes of the recognition target; the '
        'classifier is dropped (and reported) when it differs')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='DANGEROUS: if the safe loader refuses the file, unpickle it '
        'fully (runs any code the file names). Only for files you trust')
    parser.add_argument(
        '--strict', action='store_true',
        help='fail without writing when a backbone key is missing or a key '
        'is unexpected / of another shape')
    parser.add_argument('--report-json', help='also write the report here')
    return parser.parse_args(argv)


def main(argv=None, source_format='spikevideoformer'):
    """Run the converter.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).
        source_format (str): ``'spikevideoformer'`` or ``'metaspikeformer'``.

    Returns:
        ConversionReport: The report (also printed).
    """
    args = parse_args(argv, source_format)
    try:
        report = convert_file(
            args.src, args.dst, task=args.task, config=args.config,
            cfg_options=args.cfg_options, num_classes=args.num_classes,
            unsafe=args.unsafe_load, strict=args.strict,
            source_format=source_format)
    except (UnsafeCheckpointError, FileNotFoundError, ValueError,
            RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        raise SystemExit(1) from err
    print(report.format())
    print(f'wrote {args.dst}')
    if args.report_json:
        text = json.dumps(report.to_dict(), indent=2)
        atomic_write(args.report_json, lambda f: f.write(text.encode()))
    return report


if __name__ == '__main__':
    main()
