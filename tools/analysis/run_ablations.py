# Copyright (c) mmsvf contributors. All rights reserved.
"""The toy-motion ablations of docs/ablations.md: run them, write the table.

Each variant is the toy-motion main job (``tools/run_toy.sh`` through
:mod:`toy_seeds`, same data, same recipe) with a few ``--cfg-options``:

=============  =========================================================
variant        change against the main job
=============  =========================================================
baseline       none: Hamming, adaptive scale ``1/(2C)``, per-head D 32
scale-1/8      ``attn_scale=0.125`` (SDSA's fixed factor)
scale-1/64     ``attn_scale=1/64``
nobn-adaptive  ``attn_bn=False`` (the scale then reaches the neuron)
nobn-1/8       ``attn_bn=False``, ``attn_scale=0.125``
nobn-1/64      ``attn_bn=False``, ``attn_scale=1/64``
dot            ``similarity='dot'`` (SDSA's product, its scale 0.125)
width-d16      widths [8, 16, 32, 32], 2 heads: per-head D 16
width-d8       widths [4, 8, 16, 16], 2 heads: per-head D 8
heads-d8       widths as the main job, 8 heads: per-head D 8
=============  =========================================================

Every (variant, seed) result is stored in ``--results`` (JSON) as soon as
it is known, so an interrupted study resumes where it stopped (runs already
there are skipped) and ``--table-only`` rewrites the table from it::

    python tools/analysis/run_ablations.py --seeds 0 1 2
    python tools/analysis/run_ablations.py --variants dot width-d8 --seeds 0
    python tools/analysis/run_ablations.py --table-only

Runs go seed-major (seed 0 of every variant, then seed 1, ...), one at a
time, so a study cut short still covers every variant. Two drivers may run
side by side on disjoint ``--variants`` (on 2 cores, two single-threaded
trainings finish sooner than two after each other): each result is merged
into ``--results`` under a file lock, after re-reading it, so neither
driver overwrites the other's results::

    python tools/analysis/run_ablations.py --variants baseline dot &
    python tools/analysis/run_ablations.py --variants width-d8 width-d16
"""
import argparse
import fcntl
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import toy_seeds  # noqa: E402

REPO = toy_seeds.REPO


def _widths(plan):
    c3 = plan[-1]
    return ['model.backbone.embed_dims=[' + ','.join(map(str, plan)) + ']',
            f'model.cls_head.in_channels={c3}']


#: variant → (cfg-options, what it tests)
VARIANTS = {
    'baseline': ([], 'main job: Hamming, 1/(2C), D 32'),
    'scale-1/8': (['+model.backbone.attn_scale=0.125'],
                  'fixed scale 1/8'),
    'scale-1/64': (['+model.backbone.attn_scale=0.015625'],
                   'fixed scale 1/64'),
    'nobn-adaptive': (['+model.backbone.attn_bn=False'],
                      'no attn BN, adaptive 1/(2C)'),
    'nobn-1/8': (['+model.backbone.attn_bn=False',
                  '+model.backbone.attn_scale=0.125'],
                 'no attn BN, fixed 1/8'),
    'nobn-1/64': (['+model.backbone.attn_bn=False',
                   '+model.backbone.attn_scale=0.015625'],
                  'no attn BN, fixed 1/64'),
    'dot': (['model.backbone.similarity=dot'],
            'dot-product similarity (scale 1/8)'),
    'width-d16': (_widths([8, 16, 32, 32]), 'per-head D 16'),
    'width-d8': (_widths([4, 8, 16, 16]), 'per-head D 8'),
    # D 8 at the main job's widths: separates the head width from the
    # network width that width-d8 shrinks with it
    'heads-d8': (['model.backbone.num_heads=8'], 'per-head D 8, 8 heads'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    # default order: the variants that change most first, so a study cut
    # short has them; the table keeps VARIANTS' order
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=['dot', 'width-d8', 'width-d16',
                                 'nobn-1/8', 'nobn-adaptive', 'nobn-1/64',
                                 'scale-1/8', 'scale-1/64', 'baseline',
                                 'heads-d8'])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/ablations')
    parser.add_argument('--data-dir', default='data')
    parser.add_argument('--results', default='docs/ablations.json',
                        help='JSON of every result (read, then updated)')
    parser.add_argument('--table', default='docs/ablations_table.md',
                        help='markdown table written from --results')
    parser.add_argument('--table-only', action='store_true',
                        help='only rewrite the table from --results')
    return parser.parse_args(argv)


def load(path):
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save(path, results):
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def record(path, name, seed, result):
    """Add one (variant, seed) result to the JSON at ``path`` and return
    everything it now holds.

    The file is re-read under an exclusive lock (``path + '.lock'``), so a
    second driver's results written since this one started are kept.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            results = load(path)
            results.setdefault(name, {})[str(seed)] = result
            save(path, results)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return results


def table(results, seeds=(0, 1, 2)):
    """Markdown table: one row per variant, top-1 per seed, the minimum,
    median and mean, the spread (max − min) and the sample standard
    deviation."""
    head = ['variant', 'change'] + [f'seed {s}' for s in seeds] + [
        'runs', 'min', 'median', 'mean', 'spread (max−min)', 'std']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    for name, (_, what) in VARIANTS.items():
        runs = results.get(name, {})
        values = [runs[str(s)]['top-1 %'] for s in seeds if str(s) in runs]
        cells = [runs[str(s)]['top-1 %'] if str(s) in runs else None
                 for s in seeds]
        row = [name, what] + [
            'not run' if c is None else f'{c:.2f}' for c in cells]
        row.append(str(len(values)))
        if values:
            row += [f'{v:.2f}' for v in (min(values),
                                         statistics.median(values),
                                         statistics.fmean(values))]
            if len(values) > 1:
                row.append(f'{max(values) - min(values):.2f}')
                row.append(f'{statistics.stdev(values):.2f}')
            else:  # one run has no spread
                row += ['–', '–']
        else:
            row += ['–'] * 5
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines) + '\n'


def write_table(args, results):
    text = table(results, args.seeds)
    with open(args.table, 'w') as f:
        f.write(text)
    print(text)


def main(argv=None):
    args = parse_args(argv)
    results = load(args.results)
    if args.table_only:
        write_table(args, results)
        return results
    failed = []
    for seed in args.seeds:
        for name in args.variants:
            results = load(args.results)  # another driver may have added
            if str(seed) in results.get(name, {}):
                print(f'[ablations] {name} seed {seed}: done already')
                continue
            opts, _ = VARIANTS[name]
            sub = name.replace('/', '_')
            targs = toy_seeds.parse_args(
                ['motion', '--data-dir', args.data_dir, '--work-dir',
                 osp.join(args.work_dir, sub), '--cfg-options'] + opts)
            root = toy_seeds.data_root(targs)
            toy_seeds.ensure_data(targs, root)
            start = time.time()
            print(f'[ablations] {name} seed {seed} ...', flush=True)
            try:
                _, result = toy_seeds.run_seed(targs, root, seed)
            except subprocess.CalledProcessError as err:
                # a failed run (bad option, crash) is reported, not
                # recorded: the other variants still run
                print(f'[ablations] {name} seed {seed} FAILED ({err}); see '
                      f'{targs.work_dir}/motion/seed{seed}.log', flush=True)
                failed.append((name, seed))
                continue
            result['finished'] = time.strftime('%Y-%m-%d %H:%M UTC',
                                               time.gmtime())
            result['wall s'] = time.time() - start
            results = record(args.results, name, seed, result)
    write_table(args, load(args.results))
    if failed:
        raise SystemExit(f'{len(failed)} run(s) failed: {failed}')
    return results


if __name__ == '__main__':
    main()
