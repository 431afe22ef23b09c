# Copyright (c) mmsvf contributors. All rights reserved.
"""Plot training curves and time training from MMEngine's json logs.

MMEngine writes one json object per logged step to
``<work_dir>/<timestamp>/vis_data/scalars.json`` (and the same lines to
``vis_data/<timestamp>.json``): training lines carry ``iter`` (global) and,
for epoch-based loops, ``epoch``; validation lines carry the metrics and
``step``. Training curves are drawn over iterations; validation curves over
epochs for epoch-based runs, otherwise at the training iteration they follow
in the file (their ``step`` is the epoch, 0, unless the logger has
``log_metric_by_epoch=False``).
Give json files, or work dirs: a work dir stands for the newest run in it
that has training lines (a ``tools/test.py`` run in the same work dir has
none).

Examples::

    # loss and validation top-1 of the toy into one PNG (one panel per key)
    python tools/analysis/analyze_logs.py plot_curve work_dirs/demo \\
        --keys loss acc/top1 --out work_dirs/demo/curves.png
    # two runs side by side
    python tools/analysis/analyze_logs.py plot_curve A/vis_data/scalars.json \\
        B/vis_data/scalars.json --keys loss --legend temporal spatial-only \\
        --out compare.png
    # time per iteration
    python tools/analysis/analyze_logs.py cal_train_time work_dirs/demo
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from collections import OrderedDict

#: keys of the lines that are bookkeeping, not curves (``_iter``: the
#: training iteration a validation line follows, added when reading)
STEP_KEYS = ('epoch', 'iter', 'step', '_iter')


def find_json_log(path):
    """The json log of ``path``: the file itself, or the newest run (by
    its timestamp folder) of a work dir that has training lines.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a work dir holds no
            ``*/vis_data/*.json`` with training lines.
    """
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path}: no such json log or work dir')
    runs = sorted(glob.glob(osp.join(path, '*', 'vis_data')), reverse=True)
    for vis_data in runs:
        candidates = [osp.join(vis_data, 'scalars.json')] + sorted(
            glob.glob(osp.join(vis_data, '*.json')))
        for candidate in candidates:
            if osp.isfile(candidate) and load_json_log(candidate)['train']:
                return candidate
    raise FileNotFoundError(
        f'{path}: no run with training lines in <timestamp>/vis_data/*.json '
        f'(found {len(runs)} vis_data folders); train with a '
        'LocalVisBackend, or give the json file')


def load_json_log(path):
    """Split an MMEngine json log into training and validation records.

    Returns:
        dict: ``train``: list of dicts with ``iter`` (and ``epoch``),
        ``val``: list of dicts with ``step`` and ``_iter`` (the last
        training iteration logged before it), ``by_epoch``: whether the
        training lines carry epochs (then a validation ``step`` is an epoch).

    Raises:
        ValueError: a line is not a json object (names file and line).
    """
    train, val = [], []
    last_iter = 0
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{lineno}: not a json line ({err})'
                                 ) from err
            if not isinstance(record, dict):
                raise ValueError(f'{path}:{lineno}: expected a json object, '
                                 f'got {type(record).__name__}')
            if 'iter' in record:
                train.append(record)
                last_iter = record['iter']
            elif 'step' in record:
                # an iteration-based run logs its validation step as the
                # epoch (0) unless log_metric_by_epoch=False: the place in
                # the file says which iteration it follows
                val.append(dict(record, _iter=last_iter))
    by_epoch = bool(train) and all('epoch' in r for r in train)
    return dict(train=train, val=val, by_epoch=by_epoch)


def available_keys(log):
    """Plottable keys: ``(training keys, validation keys)``, sorted."""
    train = {k for r in log['train'] for k in r if k not in STEP_KEYS}
    val = {k for r in log['val'] for k in r if k not in STEP_KEYS}
    return sorted(train), sorted(val - train)


def curve(log, key):
    """``(xs, ys, x_label)`` of ``key``: training keys over iterations,
    validation keys over epochs (epoch-based runs) or over the last logged
    training iteration before each validation (iteration-based runs).

    Raises:
        KeyError: ``key`` is in no line; the message lists the keys.
    """
    train_keys, val_keys = available_keys(log)
    if key in train_keys:
        rows = [r for r in log['train'] if key in r]
        return [r['iter'] for r in rows], [r[key] for r in rows], 'iter'
    if key in val_keys:
        rows = [r for r in log['val'] if key in r]
        if log['by_epoch']:
            return [r['step'] for r in rows], [r[key] for r in rows], 'epoch'
        return [r['_iter'] for r in rows], [r[key] for r in rows], 'iter'
    raise KeyError(f'key {key!r} is not in the log; training keys: '
                   f'{train_keys}, validation keys: {val_keys}')


def plot_curve(logs, args):
    """One panel per key, one line per log; saved to ``args.out``."""
    import matplotlib
    matplotlib.use('Agg')  # files only: no display needed
    import matplotlib.pyplot as plt

    legend = args.legend or [
        osp.basename(osp.normpath(src)) for src in args.sources
    ]
    if len(legend) != len(logs):
        raise SystemExit(f'--legend has {len(legend)} names for '
                         f'{len(logs)} logs')
    fig, axes = plt.subplots(
        len(args.keys), 1, figsize=(7, 2.6 * len(args.keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], args.keys):
        for log, name in zip(logs, legend):
            xs, ys, label = curve(log, key)
            marker = 'o' if len(xs) < 30 else None
            ax.plot(xs, ys, label=name, marker=marker, markersize=3)
        ax.set_xlabel(label)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend()
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    folder = osp.dirname(args.out)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(args.out, dpi=args.dpi)
    plt.close(fig)
    print(f'saved {", ".join(args.keys)} of {len(logs)} log(s) to '
          f'{args.out}')


def cal_train_time(logs, args):
    """Print the mean time per iteration (and per epoch when logged by
    epoch) of each log."""
    for path, log in zip(args.paths, logs):
        rows = [r for r in log['train'] if 'time' in r]
        print(f'-----Analyze train time of {path}-----')
        if not rows:
            print('no training lines with "time"')
            continue
        times = [r['time'] for r in rows]
        mean = sum(times) / len(times)
        print(f'average iter time: {mean:.4f} s/iter over {len(rows)} '
              'logged steps')
        if log['by_epoch']:
            per_epoch = OrderedDict()
            for r in rows:
                per_epoch.setdefault(r['epoch'], []).append(r['time'])
            means = {e: sum(t) / len(t) for e, t in per_epoch.items()}
            slow = max(means, key=means.get)
            fast = min(means, key=means.get)
            print(f'slowest epoch {slow}: {means[slow]:.4f} s/iter')
            print(f'fastest epoch {fast}: {means[fast]:.4f} s/iter')
            centre = sum(means.values()) / len(means)
            spread = (sum((m - centre)**2 for m in means.values()) /
                      len(means))**0.5
            print(f'std over epochs: {spread:.4f} s/iter')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Analyse MMEngine json logs (mmsvf)')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot curves to an image')
    plot.add_argument('paths', nargs='+', metavar='JSON_OR_WORK_DIR',
                      help='vis_data json logs or work dirs')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='keys to plot, e.g. loss lr acc/top1 mIoU '
                      '(default: loss)')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--legend', nargs='+', help='one name per log')
    plot.add_argument('--out', required=True,
                      help='output image (.png, .pdf, .svg ...)')
    plot.add_argument('--dpi', type=int, default=120)
    timing = sub.add_parser('cal_train_time',
                            help='time per iteration and per epoch')
    timing.add_argument('paths', nargs='+', metavar='JSON_OR_WORK_DIR')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        args.sources = list(args.paths)
        args.paths = [find_json_log(p) for p in args.paths]
        logs = [load_json_log(p) for p in args.paths]
        if args.task == 'plot_curve':
            for path, log in zip(args.paths, logs):
                for key in args.keys:
                    try:
                        curve(log, key)
                    except KeyError as err:
                        raise SystemExit(f'{path}: {err.args[0]}') from err
            plot_curve(logs, args)
        else:
            cal_train_time(logs, args)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(str(err)) from err
    return 0


if __name__ == '__main__':
    sys.exit(main())
