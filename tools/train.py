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
    bash tools/dist_train.sh CONFIG 2   # 2 processes (gloo on CPU)
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args(argv=None):
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
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value pairs, e.g. '
        'train_dataloader.batch_size=4 "model.backbone.depths=(2,1)"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local_rank / --local-rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _amp_available():
    import torch
    npu = getattr(torch, 'npu', None)
    mlu = getattr(torch, 'mlu', None)
    return torch.cuda.is_available() or bool(
        npu is not None and npu.is_available()) or bool(
            mlu is not None and mlu.is_available())


def merge_args(cfg, args):
    """Fold the command-line arguments into ``cfg`` (in place)."""
    from mmsvf.utils import config_stem, set_unique_experiment_name
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher

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

    set_unique_experiment_name(cfg, args.config)
    return cfg


def main(argv=None):
    args = parse_args(argv)

    # importing mmsvf applies the upstream workarounds before any toolbox
    import mmsvf  # noqa: F401
    from mmsvf.utils import (build_runner, cpu_distributed_setup,
                             load_tool_config)

    cfg = merge_args(load_tool_config(args.config), args)
    cpu_distributed_setup(cfg, args.launcher)

    runner = build_runner(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
