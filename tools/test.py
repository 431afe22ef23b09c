# Copyright (c) mmsvf contributors. All rights reserved.
"""Test (evaluate) a checkpoint with an mmsvf config.

Task-agnostic like ``tools/train.py``: the config's ``default_scope``
(mmaction / mmseg / mmpose) decides the evaluator and visualiser.

Examples::

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --dump results.pkl --show-dir vis
    bash tools/dist_test.sh CONFIG CHECKPOINT 2

Checks before the test loop: the checkpoint must fit the model (missing,
unexpected or differently shaped tensors are an error naming the file and the
first keys; ``--non-strict`` loads what fits), ``--cfg-options`` keys must
exist in the config (``+KEY=VALUE`` for a new one), and the ``--dump`` /
``--show-dir`` / ``--work-dir`` outputs must be writable.
"""
import argparse
import os.path as osp


def import_mmsvf():
    """``import mmsvf`` (which applies the upstream workarounds), refusing a
    folder named mmsvf that shadows the package (a clone's parent folder on
    ``sys.path``: ``mmsvf/__init__.py`` would never run)."""
    import mmsvf
    if getattr(mmsvf, '__file__', None) is None:
        folders = ', '.join(map(str, mmsvf.__path__))
        raise SystemExit(
            f'"import mmsvf" found the folder(s) {folders}, which hold no '
            '__init__.py, instead of the mmsvf package (its upstream '
            'workarounds would never be applied). A clone of the repository '
            'named mmsvf whose parent folder is on sys.path (PYTHONPATH or '
            'the current directory)? Run the tools from inside the clone, or '
            'put the clone itself, not its parent, on PYTHONPATH.')
    return mmsvf


#: visualisation hook of each toolbox, used when the config names none
DEFAULT_VIS_HOOKS = {
    'mmaction': 'mmsvf.VideoVisualizationHook',
    'mmseg': 'SegVisualizationHook',
    'mmpose': 'PoseVisualizationHook',
}


def parse_args(argv=None):
    import_mmsvf()
    from mmsvf.utils import add_runner_args, parse_runner_args
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
        '--non-strict',
        action='store_true',
        help='load the tensors of the checkpoint that fit the model and '
        'leave the others as initialised; by default a checkpoint that does '
        'not fit (another architecture or class count) is an error')
    add_runner_args(parser)  # --cfg-options, --launcher, --local-rank
    return parse_runner_args(parser, argv)


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
    from mmsvf.utils import (
        CheckpointLoadError,
        check_tool_config,
        check_writable,
        config_stem,
        merge_cfg_options,
        set_unique_experiment_name,
    )
    from mmsvf.utils.strict_load import check_checkpoint_file
    merge_cfg_options(cfg, args.cfg_options, args.config)
    cfg.launcher = args.launcher
    if args.non_strict:
        cfg.load_strict = False

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', config_stem(args.config))
    check_writable(cfg.work_dir, '--work-dir', is_dir=True)

    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} not found')
    try:  # an empty / text file: refused now, not after building the model
        check_checkpoint_file(args.checkpoint)
    except CheckpointLoadError as err:
        raise SystemExit(str(err)) from err
    cfg.load_from = args.checkpoint
    cfg.resume = False

    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.show_dir:
        check_writable(args.show_dir, '--show-dir', is_dir=True)

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--dump must be a .pkl file, got {args.dump}')
        # DumpResults writes after the whole test loop: fail now instead
        check_writable(args.dump, '--dump')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, (list, tuple)):
            cfg.test_evaluator = [*evaluator, dump_metric]
        else:
            cfg.test_evaluator = [evaluator, dump_metric]

    check_tool_config(cfg, args.config)
    set_unique_experiment_name(cfg, args.config, tag='_test')
    return cfg


def main(argv=None):
    args = parse_args(argv)

    import_mmsvf()
    from mmsvf.utils import (
        CheckpointLoadError,
        build_runner,
        cpu_distributed_setup,
        load_tool_config,
    )

    cfg = merge_args(load_tool_config(args.config), args)
    cpu_distributed_setup(cfg, args.launcher)

    runner = build_runner(cfg)
    try:
        metrics = runner.test()
    except CheckpointLoadError as err:  # the message names file and keys
        raise SystemExit(str(err)) from err
    return metrics


if __name__ == '__main__':
    main()
