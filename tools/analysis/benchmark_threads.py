# Copyright (c) mmsvf contributors. All rights reserved.
"""Thread settings of the toy trainings, idle and beside a busy process.

Runs a toy job's training (``tools/train.py`` on the toy config, about
``--iters`` iterations, no validation, per-iteration times logged) in a
fresh process for each thread setting, first on an otherwise idle machine,
then with a second busy process started beside it, and prints the mean
seconds per iteration (the hook's probing steps included) and the ratios
that matter::

    default vs best OMP_NUM_THREADS (idle): <ratio>x
    default, busy=train beside it vs idle: <ratio>x

(docs/speed_and_memory.md holds the numbers measured here).

Settings of the training process:

* ``default`` — nothing set: the toy config's defaults apply, i.e.
  :class:`mmsvf.AdaptiveThreadsHook` picks the thread count online;
* ``omp1`` / ``omp2`` — ``OMP_NUM_THREADS=1`` / ``2`` with the hook
  switched off (a fixed thread count; ``omp2`` is torch's own default on 2
  cores, i.e. what the toy did before the hook);
* ``passive`` / ``gomp1e4`` / ``gomp1e5`` — 2 threads, hook off, with
  ``OMP_WAIT_POLICY=PASSIVE`` / ``GOMP_SPINCOUNT=10000`` / ``100000``
  (not run by default).

Contention (``--busy``): ``spinner`` is one pure-Python busy loop (one core
taken), ``train`` a second copy of the same training run (as when two users
train on one machine; it runs with the default settings).

Toys (``--toy``): ``motion`` (the main job), ``vspw``, ``mmhpsd``.

Usage::

    python tools/analysis/benchmark_threads.py              # motion, ~6 min
    python tools/analysis/benchmark_threads.py --toy vspw
    python tools/analysis/benchmark_threads.py --settings default omp1 \\
        --busy none train --repeats 2

This is a benchmark, not a test: it prints what it measured.
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOYS = {
    'motion': dict(
        config='configs/recognition/spikevideoformer/'
        'spikevideoformer-tiny_1xb8-t8_toy-motion.py',
        generator=['tools/data/generate_toy_videos.py', '--num-val', '1'],
        marker='train.txt'),
    'vspw': dict(
        config='configs/segmentation/spikevideoformer/'
        'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py',
        generator=['tools/data/generate_toy_vspw.py'],
        marker='train.txt'),
    'mmhpsd': dict(
        config='configs/pose/spikevideoformer/'
        'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py',
        generator=['tools/data/generate_toy_mmhpsd.py'],
        marker='toy_smpl.npz'),
}
#: setting -> (environment, AdaptiveThreadsHook enabled)
SETTINGS = {
    'default': ({}, True),
    'omp1': ({'OMP_NUM_THREADS': '1'}, False),
    'omp2': ({'OMP_NUM_THREADS': '2'}, False),
    # fixed libgomp wait policies (2 threads, hook off), for comparison
    'passive': ({'OMP_WAIT_POLICY': 'PASSIVE'}, False),
    'gomp1e4': ({'GOMP_SPINCOUNT': '10000'}, False),
    'gomp1e5': ({'GOMP_SPINCOUNT': '100000'}, False),
}
#: variables that decide the thread setup; removed from the parent's
#: environment so that only a setting's own values apply
THREAD_VARS = ('OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT',
               'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS')
ITER_TIME = re.compile(r'(?:Epoch|Iter)\(train\)\s+(?:\[\s*\d+\])?'
                       r'\[\s*(\d+)/\d+\].*?\stime: ([0-9.]+)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--toy', choices=sorted(TOYS), default='motion')
    parser.add_argument('--settings', nargs='+',
                        default=['default', 'omp1', 'omp2'],
                        choices=list(SETTINGS))
    parser.add_argument('--busy', nargs='+', default=['none', 'train'],
                        choices=['none', 'spinner', 'train'],
                        help='what runs beside the measured process')
    parser.add_argument('--repeats', type=int, default=1,
                        help='runs per setting (interleaved); the median of '
                        'the per-run means is reported')
    parser.add_argument('--iters', type=int, default=40,
                        help='training iterations per run (the first 5 are '
                        'not timed)')
    parser.add_argument('--data-root', default=None,
                        help='the toy\'s data (default: generated once into '
                        'a temporary folder)')
    parser.add_argument('--json', default=None, help='write results here')
    return parser.parse_args(argv)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(extra or {})
    env['PYTHONUNBUFFERED'] = '1'
    return env


def ensure_data(toy, data_root):
    if osp.isfile(osp.join(data_root, TOYS[toy]['marker'])):
        return
    print(f'[benchmark_threads] generating the {toy} toy data in '
          f'{data_root}', flush=True)
    gen = TOYS[toy]['generator']
    subprocess.run([sys.executable, gen[0], '--out', data_root, '--seed',
                    '0'] + gen[1:], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)


def hook_index(toy):
    """Index of AdaptiveThreadsHook in the toy config's ``custom_hooks``."""
    from mmengine.config import Config
    config = TOYS[toy]['config']
    hooks = Config.fromfile(osp.join(REPO, config)).get('custom_hooks', [])
    for i, hook in enumerate(hooks):
        if str(hook.get('type', '')).endswith('AdaptiveThreadsHook'):
            return i
    raise RuntimeError(f'{config} has no AdaptiveThreadsHook')


def _train_list_length(data_root):
    with open(osp.join(REPO, data_root, 'train.txt')) as f:
        return len([line for line in f if line.strip()])


def length_options(toy, data_root, iters):
    """Data and schedule options for about ``iters`` training iterations."""
    if toy == 'motion':
        per_epoch = _train_list_length(data_root) // 8  # batch 8
        return [
            f'train_dataloader.dataset.ann_file={data_root}/train.txt',
            f'train_dataloader.dataset.data_prefix.video={data_root}/videos',
            f'train_cfg.max_epochs={max(1, -(-iters // per_epoch))}',
            'train_cfg.val_begin=1000',
            'default_hooks.checkpoint.interval=1000',
            'default_hooks.checkpoint.save_last=False'
        ]
    if toy == 'vspw':
        return [
            f'train_dataloader.dataset.data_root={data_root}',
            f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=100000',
            'default_hooks.checkpoint.interval=100000',
            'default_hooks.checkpoint.save_last=False'
        ]
    # mmhpsd: 45 iterations per epoch on the generator's defaults
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'model.head.smpl_cfg.model_path={data_root}/toy_smpl.npz',
        f'train_cfg.max_epochs={max(1, -(-iters // 45))}',
        'train_cfg.val_begin=1000', 'default_hooks.checkpoint.interval=1000',
        'default_hooks.checkpoint.save_last=False'
    ]


def train_cmd(toy, data_root, work_dir, iters, hook=True):
    return [
        sys.executable, 'tools/train.py', TOYS[toy]['config'], '--work-dir',
        work_dir, '--cfg-options'
    ] + length_options(toy, data_root, iters) + [
        'default_hooks.logger.interval=1', 'log_processor.window_size=1',
        f'custom_hooks.{hook_index(toy)}.enabled={hook}'
    ]


def run_once(toy, setting, data_root, tmp, iters, tag):
    work_dir = osp.join(tmp, f'{setting}_{tag}')
    env, hook = SETTINGS[setting]
    proc = subprocess.run(train_cmd(toy, data_root, work_dir, iters, hook),
                          cwd=REPO, env=clean_env(env),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'training with setting {setting!r} failed:\n'
                           f'{proc.stderr[-3000:]}')
    times = [float(t) for i, t in ITER_TIME.findall(proc.stdout +
                                                    proc.stderr)
             if 5 < int(i) <= iters]
    if not times:
        raise RuntimeError(f'no iteration times in the log of {setting!r}')
    return statistics.mean(times)


def start_busy(toy, kind, data_root, tmp):
    if kind == 'none':
        return None
    if kind == 'spinner':
        cmd = [sys.executable, '-c', 'while True: pass']
    else:  # a second training, restarted whenever it ends
        inner = ' '.join(f"'{a}'" for a in train_cmd(
            toy, data_root, osp.join(tmp, 'busy'), 10_000))
        cmd = ['bash', '-c', f'while true; do {inner}; done']
    proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(20 if kind == 'train' else 1)  # let it reach its loop
    return proc


def stop_busy(proc):
    if proc is None:
        return
    import signal
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def main(argv=None):
    args = parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix='mmsvf_threads_') as tmp:
        data_root = args.data_root or osp.join(tmp, f'toy_{args.toy}')
        ensure_data(args.toy, data_root)
        for busy in args.busy:
            proc = start_busy(args.toy, busy, data_root, tmp)
            try:
                runs = {s: [] for s in args.settings}
                for r in range(args.repeats):
                    for s in args.settings:
                        t = run_once(args.toy, s, data_root, tmp,
                                     args.iters, f'{busy}{r}')
                        runs[s].append(t)
                        print(f'[benchmark_threads] busy={busy:8s} '
                              f'{s:8s} run {r}: {t:.3f} s/iter', flush=True)
            finally:
                stop_busy(proc)
            for s, ts in runs.items():
                results[(busy, s)] = statistics.median(ts)
    print(f'\nmean seconds per training iteration, iterations 6-'
          f'{args.iters} (toy {args.toy}; runs per setting: '
          f'{args.repeats}, median over runs):')
    header = 'setting   ' + ''.join(f'{b:>12s}' for b in args.busy)
    print(header)
    for s in args.settings:
        print(f'{s:10s}' + ''.join(f'{results[(b, s)]:12.3f}'
                                   for b in args.busy))
    ratios = {}
    idle = 'none' in args.busy
    omp = [s for s in args.settings if s.startswith('omp')]
    if idle and 'default' in args.settings and omp:
        best = min(results[('none', s)] for s in omp)
        ratios['default_vs_best_omp_idle'] = results[('none', 'default')] / \
            best
        print(f'default vs best OMP_NUM_THREADS (idle): '
              f'{ratios["default_vs_best_omp_idle"]:.2f}x')
    for b in args.busy:
        if b == 'none' or not idle:
            continue
        for s in args.settings:
            key = f'{s}_busy_{b}_vs_idle'
            ratios[key] = results[(b, s)] / results[('none', s)]
            print(f'{s}, busy={b} beside it vs idle: {ratios[key]:.2f}x')
    if args.json:
        from mmsvf.utils.fileio import atomic_write
        text = json.dumps(dict(seconds_per_iter={f'{b}/{s}': v for (b, s), v
                                                 in results.items()},
                               ratios=ratios), indent=1)
        atomic_write(args.json, lambda f: f.write(text.encode()))
    return dict(results=results, ratios=ratios)


if __name__ == '__main__':
    main()
