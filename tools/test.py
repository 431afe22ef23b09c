# Copyright (c) mmsvf contributors. All rights reserved.
"""Test (evaluate) a checkpoint with an mmsvf config.

Task-agnostic like ``tools/train.py``: the config's ``default_scope``
(mmaction / mmseg / mmpose) decides the evaluator and visualiser.

Examples::

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --dump results.pkl --show-dir vis
    bash tools/dist_test.sh CONFIG CHECKPOINT 2
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

#: visualisation hook of each toolbox, used when the config names none
DEFAULT_VIS_HOOKS = {
    'mmaction': 'mmsvf.VideoVisualizationHook',
    'mmseg': 'SegVisualizationHook',
    'mmpose': 'PoseVisualizationHook',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model (mmsvf)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump the predictions to a pickle file (.pkl)')
    parser.add_argument(
        '--show-dir',
        help='write the visualised samples (clips with labels, masks, '
        'poses) to this directory')
    parser.add_argument(
        '--show', action='store_true', help='show the visualised samples')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='visualise every interval-th sample')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='seconds each shown sample stays on screen')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    """Turn on the config's visualisation hook for ``--show``/``--show-dir``.

    mmseg's ``SegVisualizationHook`` takes ``draw`` and saves through the
    visualiser's ``save_dir``; the mmaction / mmpose / mmsvf hooks take
    ``enable`` and ``out_dir``.
    """
    default_hooks = cfg.setdefault('default_hooks', {})
    if 'visualization' not in default_hooks or \
            default_hooks['visualization'] is None:
        scope = cfg.get('default_scope', None)
        if scope not in DEFAULT_VIS_HOOKS:
            raise SystemExit(
                f'--show/--show-dir: the config ({args.config}) has no '
                'default_hooks.visualization and its default_scope '
                f'{scope!r} has no known visualisation hook')
        default_hooks['visualization'] = dict(type=DEFAULT_VIS_HOOKS[scope])
    hook = default_hooks['visualization']
    hook['interval'] = args.interval
    if 'SegVisualizationHook' in hook['type']:
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir
            cfg.visualizer['vis_backends'] = [dict(type='LocalVisBackend')]
    else:
        hook['enable'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            hook['out_dir'] = args.show_dir
    return cfg


def merge_args(cfg, args):
    """Fold the command-line arguments into ``cfg`` (in place)."""
    from mmsvf.utils import config_stem, set_unique_experiment_name
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', config_stem(args.config))

    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} not found')
    cfg.load_from = args.checkpoint
    cfg.resume = False

    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--dump must be a .pkl file, got {args.dump}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, (list, tuple)):
            cfg.test_evaluator = [*evaluator, dump_metric]
        else:
            cfg.test_evaluator = [evaluator, dump_metric]

    set_unique_experiment_name(cfg, args.config, tag='_test')
    return cfg


def main(argv=None):
    args = parse_args(argv)

    import mmsvf  # noqa: F401  (applies the upstream workarounds)
    from mmsvf.utils import (build_runner, cpu_distributed_setup,
                             load_tool_config)

    cfg = merge_args(load_tool_config(args.config), args)
    cpu_distributed_setup(cfg, args.launcher)

    runner = build_runner(cfg)
    metrics = runner.test()
    return metrics


if __name__ == '__main__':
    main()
