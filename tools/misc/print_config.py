# Copyright (c) mmsvf contributors. All rights reserved.
"""Print a config fully resolved: every ``_base_`` merged, every variable
substituted, ``--cfg-options`` applied.

What is printed is what ``tools/train.py`` / ``tools/test.py`` would build
(they read configs the same way, through
:func:`mmsvf.utils.load_tool_config`), so it answers "which decoder, lr,
T ... does this config really use".

Examples::

    python tools/misc/print_config.py configs/recognition/\\
spikevideoformer/spikevideoformer-tiny_1xb8-t8_toy-motion.py
    python tools/misc/print_config.py CONFIG --cfg-options \\
        model.backbone.attn_mode=spatial --save-path resolved.py
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print a config fully resolved (mmsvf)')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value pairs (as in '
        'tools/train.py)')
    parser.add_argument(
        '--save-path',
        help='also write the resolved config here (.py, .json or .yaml)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import mmsvf  # noqa: F401  (upstream workarounds, mmsvf:: bases)
    from mmsvf.utils import load_tool_config
    cfg = load_tool_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path is not None:
        if not args.save_path.endswith(('.py', '.json', '.yaml', '.yml')):
            raise SystemExit('--save-path must end with .py, .json, .yaml '
                             f'or .yml, got {args.save_path}')
        folder = osp.dirname(args.save_path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        cfg.dump(args.save_path)
        print(f'saved the resolved config to {args.save_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
