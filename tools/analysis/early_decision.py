# Copyright (c) mmsvf contributors. All rights reserved.
"""Accuracy as a function of the frames seen: the "early decision" curve.

For every validation clip of a recognition config and every ``t = 1..T``,
the class the model would answer after seeing frames ``0..t-1``:

* ``stream`` (causal and spatial models): the clip runs once through the
  backbone (frame ``t``'s output depends on frames ``<= t`` only, so it is
  what ``SpikeVideoFormer.forward_step`` gives after ``t`` frames) and the
  head's step form (``SpikingClsHead.forward_step``, running mean of the
  per-frame scores) gives the answer after each frame;
* ``truncate`` (any model, e.g. joint attention, which would look ahead):
  the model is run on the truncated clip ``frames[:t]`` for every ``t``,
  i.e. a clip that ends at frame ``t``.

Both give the same numbers on a causal model (checked on the first batch
with ``--check``). Several ``--model NAME CONFIG CHECKPOINT MODE`` entries
(a name may repeat for several seeds: the curve is their mean) write one
CSV row per ``t`` and a PNG::

    python tools/analysis/early_decision.py \\
        --model causal CFG_C CKPT_C stream \\
        --model joint CFG_J CKPT_J truncate \\
        --data-root data/toy_motion --out work_dirs/early_decision
"""
import argparse
import csv
import os
import os.path as osp
import sys
from collections import OrderedDict

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

MODES = ('stream', 'truncate')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Early-decision curve')
    parser.add_argument('--model', nargs=4, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT', 'MODE'),
                        help=f'MODE one of {MODES}; repeat a NAME for seeds')
    parser.add_argument('--data-root', default='data/toy_motion',
                        help='toy-motion layout: val.txt and videos/')
    parser.add_argument('--out', default='work_dirs/early_decision',
                        help='writes OUT.csv and OUT.png')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--max-clips', type=int, default=None)
    parser.add_argument('--check', action='store_true',
                        help='stream models: compare with truncation on the '
                        'first batch')
    return parser.parse_args(argv)


def build_dataset(cfg, data_root):
    from mmengine.registry import DATASETS, DefaultScope
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.ann_file = osp.join(data_root, 'val.txt')
    ds_cfg.data_prefix = dict(video=osp.join(data_root, 'videos'))
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope',
                                                      'mmaction')):
        return DATASETS.build(ds_cfg)


def batches(dataset, model, batch_size, max_clips=None):
    """``(inputs (N, C, T, H, W), labels (B,), clips per sample)``."""
    from mmengine.dataset import pseudo_collate
    n = len(dataset) if max_clips is None else min(len(dataset), max_clips)
    for a in range(0, n, batch_size):
        samples = [dataset[i] for i in range(a, min(n, a + batch_size))]
        data = model.data_preprocessor(pseudo_collate(samples), False)
        x = data['inputs']  # (B, num_clips, C, T, H, W)
        labels = torch.stack([s.gt_label for s in data['data_samples']])
        yield x.reshape((-1, ) + x.shape[2:]), labels.view(-1), x.shape[1]


def per_sample(scores, clips):
    """Average the views of each sample: ``(B·clips, K)`` → ``(B, K)``."""
    return scores.view(-1, clips, scores.shape[-1]).mean(1)


@torch.no_grad()
def answers_stream(model, x, clips):
    """``(T, B)`` labels after each frame, from one pass + head steps."""
    feats = model.backbone(x)
    head, state, out = model.cls_head, None, []
    for t in range(x.shape[2]):
        frame = [f[:, :, t] for f in feats] if isinstance(
            feats, (tuple, list)) else feats[:, :, t]
        score, state = head.forward_step(frame, state)
        out.append(per_sample(score, clips).argmax(-1))
    return torch.stack(out)


@torch.no_grad()
def answers_truncate(model, x, clips):
    """``(T, B)`` labels of the clips cut after each frame."""
    out = []
    for t in range(1, x.shape[2] + 1):
        score = model.cls_head(model.backbone(x[:, :, :t].contiguous()))
        out.append(per_sample(score, clips).argmax(-1))
    return torch.stack(out)


def curve(config, checkpoint, mode, data_root, batch_size=8,
          max_clips=None, check=False):
    """Accuracy (%) after ``1..T`` frames, one value per ``t``."""
    from mmsvf.apis import init_model
    if mode not in MODES:
        raise SystemExit(f'mode {mode!r}: expected one of {MODES}')
    model = init_model(config, checkpoint)
    dataset = build_dataset(model.cfg, data_root)
    hits, total = None, 0
    for i, (x, labels, clips) in enumerate(batches(dataset, model,
                                                   batch_size, max_clips)):
        fn = answers_stream if mode == 'stream' else answers_truncate
        ans = fn(model, x, clips)
        if check and mode == 'stream' and i == 0:
            ref = answers_truncate(model, x, clips)
            if not torch.equal(ans, ref):
                raise SystemExit(f'{config}: streamed answers differ from '
                                 'truncated clips; is the model causal?')
        h = (ans == labels[None]).sum(1).double()
        hits = h if hits is None else hits + h
        total += labels.numel()
    return (100.0 * hits / total).tolist()


def write_outputs(curves, out):
    """``curves``: name → list of per-seed curves. Writes CSV and PNG."""
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    T = max(len(c) for cs in curves.values() for c in cs)
    header = ['frames_seen']
    for name, cs in curves.items():
        header += [f'{name}_mean'] + [f'{name}_{i}' for i in range(len(cs))]
    with open(out + '.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for t in range(T):
            row = [t + 1]
            for cs in curves.values():
                vals = [c[t] for c in cs]
                row += [f'{np.mean(vals):.2f}'] + [f'{v:.2f}' for v in vals]
            writer.writerow(row)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, cs in curves.items():
        arr = np.asarray(cs)
        t = np.arange(1, arr.shape[1] + 1)
        ax.plot(t, arr.mean(0), marker='o', label=f'{name} (n={len(cs)})')
        if len(cs) > 1:
            ax.fill_between(t, arr.min(0), arr.max(0), alpha=0.2)
    ax.set_xlabel('frames seen')
    ax.set_ylabel('top-1 accuracy (%)')
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(out + '.png', dpi=120)
    plt.close(fig)
    return out + '.csv', out + '.png'


def main(argv=None):
    args = parse_args(argv)
    curves = OrderedDict()
    for name, config, ckpt, mode in args.model:
        c = curve(config, None if ckpt.lower() == 'none' else ckpt, mode,
                  args.data_root, args.batch_size, args.max_clips,
                  args.check)
        print(f'[early_decision] {name} ({mode}) {ckpt}: ' +
              ' '.join(f'{v:.1f}' for v in c), flush=True)
        curves.setdefault(name, []).append(c)
    paths = write_outputs(curves, args.out)
    print(f'[early_decision] wrote {paths[0]} and {paths[1]}')
    return curves


if __name__ == '__main__':
    main()
