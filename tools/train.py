# Copyright (c) mmsvf contributors. All rights reserved.
"""Train a model from an mmsvf (mmaction / mmseg / mmpose scoped) config.

The config's ``default_scope`` decides which toolbox builds the runner parts;
mmsvf's own types are registered here and are named ``'mmsvf.Xxx'`` in the
configs.

Examples::

    python tools/train.py configs/recognition/spikevideoformer/\
spikevideoformer-tiny_1xb8-t8_toy-motion.py --work-dir work_dirs/toy
    python tools/train.py CONFIG --resume            # latest checkpoint
    python tools/train.py CONFIG --resume PATH.pth   # a given checkpoint
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=2 \
        +model.backbone.compact_spikes=True   # "+": a key the config lacks
    bash tools/dist_train.sh CONFIG 2   # 2 processes (gloo on CPU)

Checks before anything runs: ``--cfg-options`` keys must exist in the config
(typos are refused; mark a new key with ``+``), batch sizes and epochs are
positive integers, the work dir is not used by another running training (a
lock file, ``.mmsvf_train.lock``, taken over when stale). Weights loaded by
``load_from``, ``--resume`` and ``init_cfg`` Pretrained must fit the model
(``--non-strict``: load the tensors that fit, e.g. for fine-tuning).
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


def parse_args(argv=None):
    import_mmsvf()
    from mmsvf.utils import add_runner_args, parse_runner_args
    parser = argparse.ArgumentParser(description='Train a model (mmsvf)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a value, resume from '
        'the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision (needs a GPU/NPU/MLU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size '
        '(auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='use a different seed on every rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='deterministic cuDNN / torch algorithms')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load the tensors of load_from / --resume / init_cfg Pretrained '
        'checkpoints that fit the model and skip the others (e.g. '
        'fine-tuning from a model with another head); by default a '
        'checkpoint that does not fit is an error (config: load_strict)')
    add_runner_args(parser)  # --cfg-options, --launcher, --local-rank
    return parse_runner_args(parser, argv)


def _amp_available():
    import torch
    npu = getattr(torch, 'npu', None)
    mlu = getattr(torch, 'mlu', None)
    return torch.cuda.is_available() or bool(
        npu is not None and npu.is_available()) or bool(
            mlu is not None and mlu.is_available())


def merge_args(cfg, args):
    """Fold the command-line arguments into ``cfg`` (in place)."""
    from mmsvf.utils import (
        check_checkpoint_files,
        check_tool_config,
        config_stem,
        merge_cfg_options,
        set_unique_experiment_name,
    )
    merge_cfg_options(cfg, args.cfg_options, args.config)
    cfg.launcher = args.launcher
    if args.non_strict:
        cfg.load_strict = False

    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', config_stem(args.config))

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.amp:
        if not _amp_available():
            raise SystemExit(
                '--amp needs a CUDA (or NPU/MLU) device: mmengine\'s '
                'AmpOptimWrapper does not run on CPU. Drop --amp on CPU.')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper'):
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'--resume: checkpoint {args.resume} not found')
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.'
                             'base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    randomness = dict(cfg.get('randomness', None) or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness

    check_tool_config(cfg, args.config)
    check_checkpoint_files(cfg)
    set_unique_experiment_name(cfg, args.config)
    return cfg


def main(argv=None):
    args = parse_args(argv)

    # importing mmsvf applies the upstream workarounds before any toolbox
    import_mmsvf()
    from mmsvf.utils import (
        CheckpointLoadError,
        build_runner,
        cpu_distributed_setup,
        load_tool_config,
    )
    from mmsvf.utils.work_dir_lock import (
        WorkDirInUseError,
        WorkDirLock,
        is_main_rank,
    )

    cfg = merge_args(load_tool_config(args.config), args)
    # one training per work dir; rank 0 holds the lock for all ranks
    try:
        with WorkDirLock(cfg.work_dir, enabled=is_main_rank()) as lock:
            cpu_distributed_setup(cfg, args.launcher)
            runner = build_runner(cfg)
            if lock.took_over:
                runner.logger.warning(lock.took_over)
            runner.train()
    except (WorkDirInUseError, CheckpointLoadError) as err:
        raise SystemExit(str(err)) from err
    return runner


if __name__ == '__main__':
    main()
