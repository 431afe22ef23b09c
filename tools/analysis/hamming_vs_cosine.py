# Copyright (c) mmsvf contributors. All rights reserved.
"""Proposition 3.1 of the paper (arXiv 2505.10352 §3.3, Fig. 3), measured.

For real vectors ``q, k ∈ ℝ^d`` and their spike embeddings
``q_s = Θ(Aq)``, ``k_s = Θ(Ak)`` of length ``D`` (``A`` with i.i.d.
Gaussian rows, ``Θ`` the step), the normalised Hamming similarity
``f_H = 1 − d_H(q_s, k_s)/D`` approaches ``g(f_C(q, k))``, with ``f_C`` the
cosine similarity and ``g(x) = 1 − arccos(x)/π``:
``P(|f_H − g(f_C)| > δ) ≤ 2·exp(−δ²·D)``.

Synthetic mode (default) draws ``--pairs`` pairs per ``D`` with their
cosine uniform in [−1, 1] and a fresh ``A`` per pair, and writes
``OUT/hamming_vs_cosine.csv`` (one row per D) and
``OUT/hamming_vs_cosine.png`` (error against D, log-log, with a ``D^−½``
line)::

    python tools/analysis/hamming_vs_cosine.py --dims 8 16 32 64 128 256 \\
        512 1024 --pairs 2000 --delta 0.1 --seed 0 --out outputs/prop31

Model mode measures the same relation inside a network: for every
attention layer it takes the spike queries and keys (``q_lif`` / ``k_lif``
outputs, binarised ``s > 0`` for integer spikes) and the inputs of those
neurons (the pre-spike membrane charge), samples query-key token pairs per
head and reports the Pearson and Spearman correlation between the Hamming
similarity of the spikes and the cosine similarity of the charges, and
``|f_H − g(f_C)|``; ``OUT/hamming_vs_cosine_model.csv``, one row per layer
(and head axis)::

    python tools/analysis/hamming_vs_cosine.py --config CONFIG \\
        [--checkpoint CKPT] [--input-shape 2 3 8 64 64] [--num-samples 8] \\
        --out outputs/prop31_model

Without ``--input-shape`` the clips come from the config's test set.
Hooks only: the model code is not touched.
"""
import argparse
import csv
import math
import os
import os.path as osp
import sys

import numpy as np

SYNTH_FIELDS = ['D', 'pairs', 'feat_dim', 'mean_abs_err', 'p95_abs_err',
                'max_abs_err', 'mean_abs_err_x_sqrtD', 'delta',
                'exceed_frac', 'bound', 'hoeffding_bound']
MODEL_FIELDS = ['layer', 'axis', 'heads', 'head_dim', 'pairs', 'q_rate',
                'k_rate', 'mean_f_H', 'mean_f_C', 'pearson', 'spearman',
                'mean_abs_err']


def g(cos):
    """``g(x) = 1 − arccos(x)/π`` (clipped to the domain)."""
    return 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / math.pi


def hamming_similarity(qs, ks):
    """``f_H = 1 − d_H/D`` of binary vectors along the last axis."""
    qs, ks = np.asarray(qs) > 0, np.asarray(ks) > 0
    return (qs == ks).mean(axis=-1)


def cosine(q, k, eps=1e-12):
    """Cosine similarity along the last axis (0 for a zero vector)."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    num = (q * k).sum(-1)
    den = np.linalg.norm(q, axis=-1) * np.linalg.norm(k, axis=-1)
    return np.where(den > eps, num / np.maximum(den, eps), 0.0)


def summarise(errors, D, delta):
    """The CSV row of one ``D`` from the absolute errors of its pairs."""
    errors = np.asarray(errors, np.float64)
    mean = float(errors.mean())
    row = dict(D=int(D), pairs=int(errors.size), mean_abs_err=mean,
               p95_abs_err=float(np.percentile(errors, 95)),
               max_abs_err=float(errors.max()),
               mean_abs_err_x_sqrtD=mean * math.sqrt(D))
    if delta is not None:
        row.update(delta=float(delta),
                   exceed_frac=float((errors > delta).mean()),
                   bound=min(1.0, 2 * math.exp(-delta**2 * D)),
                   hoeffding_bound=min(1.0, 2 * math.exp(-2 * delta**2 * D)))
    return row


def pairs_with_cosines(cosines, feat_dim, rng):
    """Unit ``q, k ∈ ℝ^feat_dim`` with the given cosines, random
    directions."""
    n = len(cosines)
    q = rng.standard_normal((n, feat_dim))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    u = rng.standard_normal((n, feat_dim))
    u -= (u * q).sum(1, keepdims=True) * q
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    c = np.asarray(cosines)[:, None]
    return q, c * q + np.sqrt(1 - c**2) * u


def embed(q, k, D, rng, chunk_elems=1 << 22):
    """Spikes ``Θ(Aq), Θ(Ak)`` with a fresh Gaussian ``A`` (``D × d``) per
    pair; ``q, k: (n, d)`` → two ``(n, D)`` bool arrays."""
    n, d = q.shape
    step = max(1, chunk_elems // (D * d))
    qs, ks = [], []
    for i in range(0, n, step):
        A = rng.standard_normal((min(step, n - i), D, d))
        qs.append(np.einsum('nDd,nd->nD', A, q[i:i + step]) > 0)
        ks.append(np.einsum('nDd,nd->nD', A, k[i:i + step]) > 0)
    return np.concatenate(qs), np.concatenate(ks)


def synthetic(dims, pairs, seed, feat_dim=64, delta=None, cosines=None):
    """One summary row per ``D``; also returns the raw ``f_H`` per D.

    ``cosines``: the pairs' cosine similarities (default uniform in
    [−1, 1]); the same pairs are used for every ``D``.
    """
    rng = np.random.default_rng(seed)
    if cosines is None:
        cosines = rng.uniform(-1, 1, pairs)
    q, k = pairs_with_cosines(cosines, feat_dim, rng)
    target = g(cosine(q, k))
    rows, f_h = [], {}
    for D in dims:
        qs, ks = embed(q, k, D, rng)
        f_h[D] = hamming_similarity(qs, ks)
        row = summarise(np.abs(f_h[D] - target), D, delta)
        row['feat_dim'] = feat_dim
        rows.append(row)
    return rows, f_h


def write_csv(path, rows, fields):
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fields, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, '') for k in fields})


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    D = np.array([r['D'] for r in rows], float)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(D, [r['mean_abs_err'] for r in rows], 'o-',
              label='mean |f_H − g(f_C)|')
    ax.loglog(D, [r['p95_abs_err'] for r in rows], 's-', label='95th pct')
    ref = rows[0]['mean_abs_err'] * np.sqrt(D[0] / D)
    ax.loglog(D, ref, 'k--', label='∝ D^−1/2')
    if rows[0].get('delta') is not None:
        ax.axhline(rows[0]['delta'], color='grey', lw=0.8, ls=':',
                   label=f'δ = {rows[0]["delta"]:g}')
    ax.set_xlabel('spike length D')
    ax.set_ylabel('absolute error')
    ax.set_title('Prop. 3.1: Hamming of spikes vs cosine')
    ax.legend(fontsize=8)
    ax.grid(True, which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------
# model mode


def _rank(x):
    order = np.argsort(x, kind='stable')
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    # ties: average rank
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, ranks)
    return sums[inv] / counts[inv]


def pearson(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float('nan')


def spearman(a, b):
    return pearson(_rank(np.asarray(a)), _rank(np.asarray(b)))


def attention_sites(model):
    """``(name, module, q_lif, k_lif, axis)`` for every attention layer."""
    from mmsvf.models.attention import (
        FactorizedSpikeAttention,
        SpikeDrivenAttention,
    )
    sites = []
    for name, m in model.named_modules():
        if isinstance(m, FactorizedSpikeAttention):
            sites.append((name, m, m.q_lif, m.k_lif, 'spatial'))
            sites.append((name + '[t]', m, m.q_t_lif, m.k_t_lif, 'temporal'))
        elif isinstance(m, SpikeDrivenAttention):
            sites.append((name, m, m.q_lif, m.k_lif, m.axis))
    return sites


class _Recorder:
    """Forward hooks on ``q_lif`` / ``k_lif``: their input (charge) and
    output (spikes), per forward."""

    def __init__(self, sites):
        self.data = {}
        self.handles = []
        for name, _, q_lif, k_lif, _ in sites:
            for role, mod in (('q', q_lif), ('k', k_lif)):
                self.handles.append(mod.register_forward_hook(
                    self._hook(name, role)))

    def _hook(self, name, role):
        def hook(module, inputs, output):
            self.data.setdefault((name, role), []).append(
                (inputs[0].detach().float(), output.detach().float()))
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def layer_pairs(q_u, q_s, k_u, k_s, axis, heads, num_pairs, rng):
    """``(f_H, f_C)`` of ``num_pairs`` random query-key pairs (same head,
    same attention group) from ``[T, B, C, H, W]`` charges and spikes."""
    from mmsvf.models.attention import to_tokens
    heads_dim = q_u.shape[2] // heads
    tok = [to_tokens(t, axis, heads) for t in (q_u, q_s, k_u, k_s)]
    # (groups, heads, tokens, d): a pair shares its group and head
    n_groups, n_tok = tok[0].shape[0] * heads, tok[0].shape[2]
    qu, qs, ku, ks = (t.reshape(-1, heads_dim).numpy() for t in tok)
    grp = rng.integers(0, n_groups, num_pairs)
    i = grp * n_tok + rng.integers(0, n_tok, num_pairs)
    j = grp * n_tok + rng.integers(0, n_tok, num_pairs)
    return (hamming_similarity(qs[i], ks[j]), cosine(qu[i], ku[j]),
            float((qs > 0).mean()), float((ks > 0).mean()))


def measure_model(model, batches, num_pairs, seed):
    """One row per attention layer (see MODEL_FIELDS)."""
    import torch

    sites = attention_sites(model)
    if not sites:
        raise SystemExit('the model has no SpikeDrivenAttention / '
                         'FactorizedSpikeAttention module to measure')
    rec = _Recorder(sites)
    try:
        with torch.no_grad():
            for kwargs, _ in batches:
                model(**kwargs)
    finally:
        rec.remove()
    rng = np.random.default_rng(seed)
    rows = []
    for name, m, _, _, axis in sites:
        fh, fc, qr, kr = [], [], [], []
        qs_list, ks_list = rec.data.get((name, 'q'), []), rec.data.get(
            (name, 'k'), [])
        if not qs_list:
            continue
        per = max(1, num_pairs // len(qs_list))
        for (q_u, q_s), (k_u, k_s) in zip(qs_list, ks_list):
            a, b, r1, r2 = layer_pairs(q_u, q_s, k_u, k_s, axis,
                                       m.num_heads, per, rng)
            fh.append(a)
            fc.append(b)
            qr.append(r1)
            kr.append(r2)
        fh, fc = np.concatenate(fh), np.concatenate(fc)
        rows.append(dict(
            layer=name, axis=axis, heads=m.num_heads,
            head_dim=m.dim // m.num_heads, pairs=len(fh),
            q_rate=float(np.mean(qr)), k_rate=float(np.mean(kr)),
            mean_f_H=float(fh.mean()), mean_f_C=float(fc.mean()),
            pearson=pearson(fh, fc), spearman=spearman(fh, fc),
            mean_abs_err=float(np.abs(fh - g(fc)).mean())))
    return rows


def run_model(args):
    import torch

    import mmsvf  # noqa: F401  (applies the upstream workarounds)
    from mmsvf.utils import load_tool_config

    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    import energy as tool  # the energy tool's model and batch builders

    cfg = load_tool_config(args.config, args.cfg_options)
    torch.manual_seed(args.seed)
    model = tool.build_model(cfg, args.checkpoint, 'cpu')
    if args.input_shape is not None:
        batches = tool.random_batches(model, tuple(args.input_shape),
                                      args.num_samples, 'cpu', args.seed)
    else:
        batches = tool.dataset_batches(model, cfg, args.num_samples,
                                       args.config)
    rows = measure_model(model, batches, args.pairs, args.seed)
    path = osp.join(args.out, 'hamming_vs_cosine_model.csv')
    write_csv(path, rows, MODEL_FIELDS)
    for r in rows:
        print(f"{r['layer']:24s} {r['axis']:8s} d={r['head_dim']:<4d} "
              f"rate q {r['q_rate']:.3f} k {r['k_rate']:.3f}  "
              f"pearson {r['pearson']:+.3f} spearman {r['spearman']:+.3f}"
              f"  |f_H-g(f_C)| {r['mean_abs_err']:.3f}")
    print(f'wrote {path}')
    return rows


def parse_args(argv=None):
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        description='Proposition 3.1: Hamming similarity of spikes vs '
        'cosine similarity of the real vectors')
    parser.add_argument('--dims', type=int, nargs='+',
                        default=[8, 16, 32, 64, 128, 256, 512, 1024])
    parser.add_argument('--pairs', type=int, default=2000,
                        help='pairs per D (synthetic) or per layer (model)')
    parser.add_argument('--feat-dim', type=int, default=64,
                        help='d, the length of the real vectors')
    parser.add_argument('--delta', type=float, default=0.1,
                        help='δ of the exceedance column')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='outputs/hamming_vs_cosine')
    parser.add_argument('--no-plot', action='store_true')
    parser.add_argument('--config', default=None,
                        help='model mode: the config to build')
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--input-shape', type=int, nargs=5, default=None,
                        metavar=('B', 'C', 'T', 'H', 'W'),
                        help='random clips instead of the test set')
    parser.add_argument('--num-samples', type=int, default=8)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if any(d < 1 for d in args.dims) or args.pairs < 1:
        parser.error('--dims and --pairs must be positive')
    if not 0 < args.delta < 1:
        parser.error('--delta must be in (0, 1)')
    if args.config is None and (args.checkpoint or args.input_shape):
        parser.error('--checkpoint / --input-shape need --config')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.config is not None:
        return run_model(args)
    rows, _ = synthetic(args.dims, args.pairs, args.seed, args.feat_dim,
                        args.delta)
    path = osp.join(args.out, 'hamming_vs_cosine.csv')
    write_csv(path, rows, SYNTH_FIELDS)
    print(f"{'D':>6} {'mean':>8} {'p95':>8} {'mean·√D':>8} "
          f"{'P(>δ)':>8} {'bound':>8}")
    for r in rows:
        print(f"{r['D']:6d} {r['mean_abs_err']:8.4f} {r['p95_abs_err']:8.4f}"
              f" {r['mean_abs_err_x_sqrtD']:8.4f} {r['exceed_frac']:8.4f}"
              f" {r['bound']:8.4f}")
    if not args.no_plot:
        plot(rows, osp.join(args.out, 'hamming_vs_cosine.png'))
    print(f'wrote {path}')
    return rows


if __name__ == '__main__':
    main()
