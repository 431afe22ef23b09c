# Copyright (c) mmsvf contributors. All rights reserved.
"""Parameter count of a config's model, in total and per top-level module.

Builds the model of an mmengine config with random weights (no data, no
checkpoint) and prints the number of parameters of each direct child
(``backbone``, ``neck``, ``decode_head``, ``head`` ...) and of the whole
model; BatchNorm running statistics are buffers and not counted. The
parameter counts quoted in the docs beside the paper's (Cityscapes 17.8 M,
MMHPSD 55.8 M) come from this script::

    python tools/analysis/count_params.py CONFIG [--json OUT]
"""
import argparse
import json

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Parameter count of a config\'s model (mmsvf)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--json', default=None,
                        help='also write the counts to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value pairs')
    return parser.parse_args(argv)


def count(model):
    """``{child name: parameters, ..., 'total': parameters}``."""
    counts = {name: sum(p.numel() for p in child.parameters())
              for name, child in model.named_children()}
    counts = {k: v for k, v in counts.items() if v}
    counts['total'] = sum(p.numel() for p in model.parameters())
    return counts


def main(argv=None):
    """Print (and return) the counts of :func:`count`."""
    args = parse_args(argv)
    from mmengine.registry import MODELS, init_default_scope

    import mmsvf  # noqa: F401  (applies the upstream workarounds)
    from mmsvf.utils import load_tool_config

    cfg = load_tool_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', None) or 'mmsvf')
    if 'model' not in cfg:
        raise SystemExit(f'{args.config} has no `model` entry')
    model = MODELS.build(cfg.model)
    counts = count(model)
    width = max(len(k) for k in counts)
    for name, n in counts.items():
        print(f'{name:<{width}}  {n:>12,d}  ({n / 1e6:.2f} M)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, params=counts), f, indent=2)
    return counts


if __name__ == '__main__':
    main()
