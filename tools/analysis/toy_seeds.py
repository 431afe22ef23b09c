# Copyright (c) mmsvf contributors. All rights reserved.
"""Rerun a toy job from scratch for several training seeds; print the spread.

Every published toy number in the README and docs comes from this script:
it runs exactly the commands the docs give (the main job through
``tools/run_toy.sh``, the segmentation and pose toys through
``tools/train.py`` + ``tools/test.py``), once per training seed
(``randomness.seed``), each in a fresh work directory, and prints each
result, the minimum, the median and the wall time::

    python tools/analysis/toy_seeds.py motion --seeds 0 1 2 3 4
    python tools/analysis/toy_seeds.py motion-spatial --seeds 0 1 2
    python tools/analysis/toy_seeds.py motion-causal --seeds 0 1 2
    python tools/analysis/toy_seeds.py motion --seeds 0 1 2 --data-seed 1
    python tools/analysis/toy_seeds.py vspw --seeds 0 1 2
    python tools/analysis/toy_seeds.py vspw-plain-decoder --seeds 0 1 2
    python tools/analysis/toy_seeds.py mmhpsd --seeds 0 1 2

Toys and their metric:

==============  ======================================================  =====
toy             job                                                     metric
==============  ======================================================  =====
motion          ``make demo`` (toy-motion, temporal model)              top-1
motion-spatial  the same data, spatial-only control config              top-1
motion-causal   the same data and recipe, ``attn_mode='causal'``        top-1
vspw            toy VSPW segmentation (docs/segmentation.md)            mIoU
vspw-plain-...  the same with the plain (non-spiking) FPN decoder       mIoU
mmhpsd          toy MMHPSD pose tracking (docs/pose.md)                 MPJPE
==============  ======================================================  =====

The data are generated once per ``--data-seed`` under ``--data-dir`` (and
reused); ``--jobs 2`` runs two seeds at a time (then wall times are not
idle-machine times). ``--json`` writes every number.
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = {
    'motion': 'configs/recognition/spikevideoformer/'
    'spikevideoformer-tiny_1xb8-t8_toy-motion.py',
    'motion-spatial': 'configs/recognition/spikevideoformer/'
    'spikevideoformer-tiny_spatial-only_1xb8-t8_toy-motion.py',
    'motion-causal': 'configs/recognition/spikevideoformer/'
    'spikevideoformer-tiny_causal-attn_1xb8-t8_toy-motion.py',
    'vspw': 'configs/segmentation/spikevideoformer/'
    'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py',
    'vspw-plain-decoder': 'configs/segmentation/spikevideoformer/'
    'spikevideoformer-tiny_plain-fpn-decoder_1xb4-t4_toy-vspw.py',
    'mmhpsd': 'configs/pose/spikevideoformer/'
    'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py',
}
GENERATOR = {
    'motion': 'tools/data/generate_toy_videos.py',
    'motion-spatial': 'tools/data/generate_toy_videos.py',
    'motion-causal': 'tools/data/generate_toy_videos.py',
    'vspw': 'tools/data/generate_toy_vspw.py',
    'vspw-plain-decoder': 'tools/data/generate_toy_vspw.py',
    'mmhpsd': 'tools/data/generate_toy_mmhpsd.py',
}
DATA_NAME = {'motion': 'toy_motion', 'motion-spatial': 'toy_motion',
             'motion-causal': 'toy_motion',
             'vspw': 'toy_vspw', 'vspw-plain-decoder': 'toy_vspw',
             'mmhpsd': 'toy_mmhpsd'}
#: metrics printed by tools/test.py, per toy: (log key, name, scale, better)
METRICS = {
    'motion': [('acc/top1', 'top-1 %', 100.0, 'max')],
    'motion-spatial': [('acc/top1', 'top-1 %', 100.0, 'max')],
    'motion-causal': [('acc/top1', 'top-1 %', 100.0, 'max')],
    'vspw': [('mIoU', 'mIoU', 1.0, 'max'), ('mVC8', 'mVC8', 1.0, 'max')],
    'vspw-plain-decoder': [('mIoU', 'mIoU', 1.0, 'max'),
                           ('mVC8', 'mVC8', 1.0, 'max')],
    'mmhpsd': [('smpl/MPJPE', 'MPJPE mm', 1.0, 'min'),
               ('smpl/PA-MPJPE', 'PA-MPJPE mm', 1.0, 'min')],
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Rerun a toy job for several seeds')
    parser.add_argument('toy', choices=sorted(CFG))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='training seeds (randomness.seed)')
    parser.add_argument('--data-seed', type=int, default=0,
                        help='seed of the generated data (--seed of the '
                        'generator); 0 is what the docs use')
    parser.add_argument('--data-dir', default='data',
                        help='where the generated data sets live; '
                        '<data-dir>/<toy>[_seed<k>]')
    parser.add_argument('--work-dir', default='work_dirs/toy_seeds',
                        help='<work-dir>/<toy>[_data<k>]/seed<s>')
    parser.add_argument('--jobs', type=int, default=1,
                        help='seeds run at the same time')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='extra key=value options for train and test')
    parser.add_argument('--json', default=None, help='write results here')
    return parser.parse_args(argv)


def data_root(args):
    name = DATA_NAME[args.toy]
    if args.data_seed != 0:
        name += f'_seed{args.data_seed}'
    return osp.join(args.data_dir, name)


def ensure_data(args, root):
    marker = 'train.txt' if args.toy != 'mmhpsd' else 'toy_smpl.npz'
    if osp.exists(osp.join(REPO, root, marker)):
        return
    print(f'[toy_seeds] generating {root} (seed {args.data_seed})',
          flush=True)
    subprocess.run([sys.executable, GENERATOR[args.toy], '--out', root,
                    '--seed', str(args.data_seed)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)


def data_options(toy, root):
    """``--cfg-options`` that point the segmentation / pose toy at
    ``root`` (the motion toy gets its data root through run_toy.sh)."""
    opts = [f'{split}_dataloader.dataset.data_root={root}'
            for split in ('train', 'val', 'test')]
    if toy == 'mmhpsd':  # the generated body model lives beside the data
        opts.append('model.head.smpl_cfg.model_path='
                    f'{osp.join(root, "toy_smpl.npz")}')
    return opts


def last_checkpoint(work_dir):
    with open(osp.join(REPO, work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def parse_metrics(toy, text):
    """The last value printed by the test loop for each metric of ``toy``."""
    found = {}
    for key, name, scale, _ in METRICS[toy]:
        hits = re.findall(rf'(?<![\w/-]){re.escape(key)}: (-?[0-9.]+)', text)
        if not hits:
            raise RuntimeError(f'{key} not found in the test output')
        found[name] = float(hits[-1]) * scale
    return found


def run_seed(args, root, seed):
    sub = args.toy if args.data_seed == 0 else \
        f'{args.toy}_data{args.data_seed}'
    work_dir = osp.join(args.work_dir, sub, f'seed{seed}')
    log = osp.join(REPO, work_dir + '.log')
    os.makedirs(osp.dirname(log), exist_ok=True)
    opts = [f'randomness.seed={seed}'] + list(args.cfg_options)
    start = time.time()
    with open(log, 'w') as out:
        if args.toy.startswith('motion'):
            env = dict(os.environ, DATA_ROOT=root, CONFIG=CFG[args.toy],
                       DATA_SEED=str(args.data_seed),
                       PYTHON=sys.executable, EXTRA_ARGS=' '.join(opts))
            subprocess.run(['bash', 'tools/run_toy.sh', work_dir], cwd=REPO,
                           env=env, stdout=out, stderr=subprocess.STDOUT,
                           check=True)
        else:
            data = data_options(args.toy, root)
            subprocess.run(
                [sys.executable, 'tools/train.py', CFG[args.toy],
                 '--work-dir', work_dir, '--cfg-options'] + data + opts,
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, check=True)
            subprocess.run(
                [sys.executable, 'tools/test.py', CFG[args.toy],
                 last_checkpoint(work_dir), '--work-dir', work_dir,
                 '--cfg-options'] + data + opts,
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, check=True)
    wall = time.time() - start
    with open(log) as f:
        text = f.read()
    if args.toy.startswith('motion'):
        # run_toy.sh's own line; the test loop's acc/top1 agrees with it
        m = re.search(r'val top-1: ([0-9.]+)', text)
        result = {'top-1 %': float(m.group(1))}
    else:
        test_part = text[text.rfind('Loads checkpoint'):]
        result = parse_metrics(args.toy, test_part)
    result['wall s'] = wall
    print(f'[toy_seeds] {args.toy} data seed {args.data_seed} seed {seed}: '
          + ', '.join(f'{k} {v:.2f}' for k, v in result.items())
          + f'  ({log})', flush=True)
    return seed, result


def summarise(toy, results):
    names = [name for _, name, _, _ in METRICS[toy]] + ['wall s']
    lines = []
    for name in names:
        values = [r[name] for _, r in results]
        lines.append(f'{name:12s} ' + ' '.join(f'{v:8.2f}' for v in values) +
                     f' | min {min(values):.2f} median '
                     f'{statistics.median(values):.2f} max {max(values):.2f}')
    return lines


def main(argv=None):
    args = parse_args(argv)
    for key in args.cfg_options:
        if '=' not in key:
            raise SystemExit(f'--cfg-options {key!r}: expected key=value')
    root = data_root(args)
    ensure_data(args, root)
    if not args.toy.startswith('motion'):
        root = osp.join(root, '')  # data_root ends with a separator
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda s: run_seed(args, root, s),
                                args.seeds))
    print(f'\n{args.toy}, data seed {args.data_seed}, training seeds '
          f'{" ".join(str(s) for s, _ in results)}'
          + (f' ({args.jobs} at a time)' if args.jobs > 1 else ''))
    for line in summarise(args.toy, results):
        print(line)
    if args.json:
        from mmsvf.utils.fileio import atomic_write
        text = json.dumps(dict(toy=args.toy, data_seed=args.data_seed,
                               jobs=args.jobs,
                               results={str(s): r for s, r in results}),
                          indent=1)
        atomic_write(args.json, lambda f: f.write(text.encode()))
    return results


if __name__ == '__main__':
    main()
