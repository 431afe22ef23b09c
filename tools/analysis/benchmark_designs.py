#!/usr/bin/env python
# Copyright (c) mmsvf contributors. All rights reserved.
"""Memory and time of the space-time attention designs over T and tokens.

The designs of the paper's Table 1 (§3.4), each as a stack of ``--depth``
Transformer blocks (``MSBlock``: attention + MLP, membrane shortcuts) of
width ``--dim`` on a ``[T, 1, C, h, h]`` token grid:

* ``joint``: SDHA over all ``T·h·h`` tokens (SpikeVideoFormer);
* ``causal``: joint attention restricted to the current and earlier
  frames (``attn_mode='causal'``);
* ``hierarchical``: spatial module then temporal module;
* ``factorized``: spatial and temporal branches in one module;
* ``spatial``: per-frame attention only;
* ``softmax``: ANN joint attention ``softmax(QKᵀ/√d)V`` in the same block.

For every (design, T, h, with_cp) it measures one forward+backward: the best
wall time of ``--repeats`` and the peak memory above what was held before
(CUDA: the allocator's peak; CPU: the process's peak resident set, reset
through ``/proc/self/clear_refs``, with glibc returning freed memory at once,
as in ``benchmark_train.py``). ``with_cp`` checkpoints every block with the
backbone's own ``checkpoint_module``. Writes ``OUT/designs.csv`` and
``OUT/designs.png``.

``--extrapolate`` also profiles the Large backbone (``--fit-arch``): one
forward with grad per small clip (``--fit-frames`` × ``--fit-res``) under
``saved_tensors_hooks`` counts the bytes autograd keeps for backward
(parameters excluded; with ``with_cp``: every checkpointed layer's input
plus the largest layer's saved tensors), fits ``kept = a + b·T·H·W`` and
prints the largest T at 112², 224², 448² (and the largest square
resolution at T = 8, 16, 32) for which a batch of 8 fits ``--budget-gb``
with AdamW: ``16·P + a + 8·b·T·H·W`` bytes (``OUT/large_fit.csv``,
``OUT/large_extrapolation.csv``). This leaves out the transient buffers
of backward and the allocator's fragmentation: treat the answer as an
upper bound.

Default: the reduced CPU grid. The full grid (for a GPU)::

    python tools/analysis/benchmark_designs.py --device cuda \\
        --frames 4 8 16 32 64 --grids 7 14 21 28 --dim 512 --heads 8 \\
        --repeats 3 --extrapolate --fit-res 64 128 --fit-frames 4 8 \\
        --out outputs/designs_gpu
"""
import argparse
import csv
import math
import os
import os.path as osp
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark_complexity as bc  # noqa: E402
import benchmark_train as bt  # noqa: E402

DESIGNS = ('joint', 'causal', 'hierarchical', 'factorized', 'spatial',
           'softmax')
FIELDS = ['design', 'T', 'grid', 'tokens', 'dim', 'heads', 'depth',
          'with_cp', 'status', 'fwd_bwd_ms', 'peak_mib',
          'peak_bytes_per_token']
FIT_FIELDS = ['design', 'with_cp', 'params', 'a_mib', 'b_bytes_per_pixel',
              'points', 'max_rel_residual']
EXTRA_FIELDS = ['design', 'with_cp', 'query', 'value', 'answer',
                'predicted_gib']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--designs', nargs='+', default=list(DESIGNS),
                   choices=DESIGNS)
    p.add_argument('--frames', type=int, nargs='+', default=[4, 8, 16])
    p.add_argument('--grids', type=int, nargs='+', default=[7, 14],
                   help='token grid side h (tokens per frame h·h)')
    p.add_argument('--dim', type=int, default=64)
    p.add_argument('--heads', type=int, default=2)
    p.add_argument('--depth', type=int, default=2)
    p.add_argument('--with-cp', choices=['both', 'off', 'on'],
                   default='both')
    p.add_argument('--repeats', type=int, default=1)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--max-softmax-gib', type=float, default=2.0,
                   help='skip softmax points whose score matrix alone is '
                   'larger (recorded as skipped)')
    p.add_argument('--extrapolate', action='store_true')
    p.add_argument('--no-grid', action='store_true',
                   help='skip the design grid (only --extrapolate)')
    p.add_argument('--fit-frames', type=int, nargs='+', default=[2, 4])
    p.add_argument('--fit-res', type=int, nargs='+', default=[32, 64])
    p.add_argument('--fit-designs', nargs='+', default=['joint', 'spatial'],
                   choices=DESIGNS)
    p.add_argument('--fit-arch', default='large')
    p.add_argument('--budget-gb', type=float, default=80.0)
    p.add_argument('--out', default='outputs/designs')
    p.add_argument('--no-plot', action='store_true')
    args = p.parse_args(argv)
    if args.dim % args.heads:
        p.error(f'--dim {args.dim} is not divisible by --heads {args.heads}')
    if any(r % 16 for r in args.fit_res):
        p.error('--fit-res must be divisible by 16')
    return args


class _Stack(torch.nn.Module):
    """``depth`` blocks of one design, checkpointed per block or not."""

    def __init__(self, design, dim, heads, depth, with_cp, neuron=None):
        super().__init__()
        from mmsvf.models.backbones.spikevideoformer import MSBlock
        mode = 'joint' if design == 'softmax' else design
        self.blocks = torch.nn.ModuleList(
            MSBlock(dim, heads, attn_mode=mode, neuron=neuron)
            for _ in range(depth))
        if design == 'softmax':
            for block in self.blocks:
                block.attn = bc.SoftmaxJointAttention(dim, heads)
        self.with_cp = with_cp

    def forward(self, x):
        from mmsvf.models.layers.checkpoint import checkpoint_module
        for block in self.blocks:
            x = checkpoint_module(block, block, x, enabled=self.with_cp)
        return x


def _step(module, x):
    out = module(x)
    if isinstance(out, tuple):
        loss = sum(o.float().square().mean() for o in out)
    else:
        loss = out.float().square().mean()
    loss.backward()
    module.zero_grad(set_to_none=True)


def measure(module, x, repeats, device):
    """``(best seconds, peak bytes above the start)`` of fwd+bwd.

    ``repeats=0``: no warm-up, the time of the measured step alone.
    """
    malloc = bt._Malloc()
    cuda = device.type == 'cuda'
    malloc.fast()
    if repeats:
        _step(module, x)  # warm-up
    best = float('inf')
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        _step(module, x)
        if cuda:
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    malloc.measure()
    meter = bt._Meter(device)
    meter.start()
    t0 = time.perf_counter()
    _step(module, x)
    peak, _ = meter.stop()
    if not repeats:  # one cold step: its time includes first-call costs
        best = time.perf_counter() - t0
    malloc.fast()
    return best, max(peak, 0)


def _is_oom(err):
    return isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)) or \
        'out of memory' in str(err).lower()


def read_csv(path):
    """Rows of a ``designs.csv`` with numbers and flags parsed back."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r['with_cp'] = r['with_cp'] == 'True'
        for k in ('T', 'tokens', 'dim', 'heads', 'depth'):
            r[k] = int(r[k])
        for k in ('fwd_bwd_ms', 'peak_mib', 'peak_bytes_per_token'):
            r[k] = float(r[k]) if r[k] else None
    return rows


def grid_rows(args, log=print):
    device = torch.device(args.device)
    cps = {'both': (False, True), 'off': (False, ), 'on': (True, )}
    rows = []
    points = sorted(((T, h) for T in args.frames for h in args.grids),
                    key=lambda p: (p[0] * p[1]**2, p))
    for design in args.designs:
        for with_cp in cps[args.with_cp]:
            for T, h in points:
                row = dict(design=design, T=T, grid=f'{h}x{h}',
                           tokens=T * h * h, dim=args.dim, heads=args.heads,
                           depth=args.depth, with_cp=with_cp)
                score_gib = (T * h * h)**2 * args.heads * 4 / 2**30
                if design == 'softmax' and \
                        score_gib > args.max_softmax_gib:
                    row['status'] = (f'skipped: scores {score_gib:.1f} GiB'
                                     f' > {args.max_softmax_gib:g}')
                else:
                    row.update(_run_point(design, T, h, with_cp, args,
                                          device))
                rows.append(row)
                log(_fmt(row))
    return rows


def _run_point(design, T, h, with_cp, args, device):
    torch.manual_seed(0)
    try:
        module = _Stack(design, args.dim, args.heads, args.depth,
                        with_cp).to(device).train()
        x = (torch.randn(T, 1, args.dim, h, h) * 2).to(device)
        seconds, peak = measure(module, x, args.repeats, device)
    except (RuntimeError, MemoryError) as err:
        if not _is_oom(err):
            raise
        return dict(status='oom')
    finally:
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return dict(status='ok', fwd_bwd_ms=seconds * 1e3,
                peak_mib=peak / 2**20,
                peak_bytes_per_token=peak / (T * h * h))


def _fmt(row):
    if row.get('status') != 'ok':
        return (f"{row['design']:<13} T={row['T']:<3} {row['grid']:>6} "
                f"cp={int(row['with_cp'])}  {row.get('status')}")
    return (f"{row['design']:<13} T={row['T']:<3} {row['grid']:>6} "
            f"cp={int(row['with_cp'])} {row['fwd_bwd_ms']:9.1f} ms "
            f"{row['peak_mib']:9.1f} MiB "
            f"{row['peak_bytes_per_token'] / 1024:8.1f} KiB/token")


def write_csv(path, rows, fields):
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fields, extrasaction='ignore')
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k, '')) for k in fields})


def _cell(v):
    return f'{v:.6g}' if isinstance(v, float) else v


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get('status') == 'ok']
    designs = [d for d in DESIGNS if any(r['design'] == d for r in ok)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for n_design, design in enumerate(designs):
        color = colors[n_design % len(colors)]
        for cp, style in ((False, '-'), (True, ':')):
            pts = sorted((r['tokens'], r['peak_mib'], r['fwd_bwd_ms'])
                         for r in ok if r['design'] == design
                         and r['with_cp'] == cp)
            if not pts:
                continue
            n, mem, ms = zip(*pts)
            label = design + (' +cp' if cp else '')
            axes[0].loglog(n, mem, style, marker='o', ms=3, color=color,
                           label=label)
            axes[1].loglog(n, ms, style, marker='o', ms=3, color=color,
                           label=label)
    axes[0].set_ylabel('fwd+bwd peak memory (MiB)')
    axes[1].set_ylabel('fwd+bwd time (ms)')
    for ax in axes:
        ax.set_xlabel('tokens T·h·h')
        ax.grid(True, which='both', alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    first = ok[0] if ok else {}
    fig.suptitle(f"space-time designs: {first.get('depth')} blocks, width "
                 f"{first.get('dim')}, {first.get('heads')} heads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------
# Large backbone: activation bytes per pixel and extrapolation


def backbone_layers(model):
    """``(name, module)`` of every unit the backbone checkpoints
    (``SpikeVideoFormer._layer``): downsampling layers and blocks."""
    units = []
    for i in range(4):
        for m in model.stage_modules(i):
            subs = list(m) if isinstance(m, torch.nn.ModuleList) else [m]
            units += subs
    names = {id(m): n for n, m in model.named_modules()}
    return [(names[id(m)], m) for m in units]


def saved_profile(model, x):
    """Bytes autograd keeps for backward, per backbone layer.

    One forward with grad under ``saved_tensors_hooks``: every tensor saved
    for backward is counted once per storage, parameters excluded (they are
    the ``16·P`` of weights, gradients and AdamW moments). Returns
    ``(saved, inputs)``: dicts layer name → saved bytes, and → bytes of the
    layer's input (what ``with_cp`` keeps instead).
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen, saved, inputs, current = set(), {}, {}, [None]
    hooks = []
    for name, layer in backbone_layers(model):
        def pre(mod, args, name=name):
            current[0] = name
            inputs[name] = args[0].untyped_storage().nbytes()
        hooks.append(layer.register_forward_pre_hook(pre))

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params and ptr not in seen:
            seen.add(ptr)
            saved[current[0]] = saved.get(current[0], 0) + \
                t.untyped_storage().nbytes()
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return saved, inputs


def activation_bytes(saved, inputs, with_cp):
    """Kept bytes of one clip: all saved tensors, or (``with_cp``) every
    layer's input plus the largest layer's saved tensors (the one being
    recomputed)."""
    if not with_cp:
        return sum(saved.values())
    return sum(inputs.values()) + max(saved.values())


def fit_linear(pixels, peaks):
    """Least squares ``peak = a + b·pixels``; ``(a, b, max rel residual)``."""
    n = len(pixels)
    mx, my = sum(pixels) / n, sum(peaks) / n
    sxx = sum((x - mx)**2 for x in pixels)
    b = sum((x - mx) * (y - my) for x, y in zip(pixels, peaks)) / sxx
    a = my - b * mx
    res = max(abs(a + b * x - y) / y for x, y in zip(pixels, peaks))
    return a, b, res


def predict(params, a, b, batch, T, res):
    """Training bytes of a batch: ``16·P`` (fp32 weights, gradients, two
    AdamW moments) ``+ a + batch·b·T·res²``."""
    return 16 * params + a + batch * b * T * res * res


def max_frames(params, a, b, batch, res, budget):
    free = budget - 16 * params - a
    return max(0, int(free // (batch * b * res * res)))


def max_res(params, a, b, batch, T, budget):
    """Largest square side, a multiple of 16, that fits."""
    free = budget - 16 * params - a
    side = int(math.sqrt(max(free, 0) / (batch * b * T)))
    return side // 16 * 16


def large_rows(args, log=print):
    from mmsvf.models.backbones import SpikeVideoFormer
    device = torch.device(args.device)
    fits, extra = [], []
    budget = args.budget_gb * 1e9
    for design in args.fit_designs:
        if design == 'softmax':
            log('softmax: no Large backbone with softmax attention; skipped')
            continue
        torch.manual_seed(0)
        model = SpikeVideoFormer(arch=args.fit_arch, attn_mode=design,
                                 out_indices=(3, )).to(device).train()
        params = sum(p.numel() for p in model.parameters())
        profiles = []
        for res in args.fit_res:
            for T in args.fit_frames:
                x = torch.randn(1, 3, T, res, res, device=device)
                profiles.append((T * res * res, *saved_profile(model, x)))
        for with_cp in (False, True):
            pixels = [p for p, _, _ in profiles]
            kept = [activation_bytes(s, i, with_cp) for _, s, i in profiles]
            for px, k in zip(pixels, kept):
                log(f'{args.fit_arch} {design} cp={int(with_cp)} '
                    f'{px} pixel-frames: {k / 2**20:.1f} MiB kept '
                    f'({k / px:.0f} B/pixel)')
            a, b, res_err = fit_linear(pixels, kept)
            fits.append(dict(design=design, with_cp=with_cp, params=params,
                             a_mib=a / 2**20, b_bytes_per_pixel=b,
                             points=len(pixels), max_rel_residual=res_err))
            for side in (112, 224, 448):
                t = max_frames(params, a, b, 8, side, budget)
                extra.append(dict(
                    design=design, with_cp=with_cp, query='max T',
                    value=f'{side}x{side}', answer=t,
                    predicted_gib=predict(params, a, b, 8, t, side) / 2**30))
            for T in (8, 16, 32):
                side = max_res(params, a, b, 8, T, budget)
                extra.append(dict(
                    design=design, with_cp=with_cp, query='max resolution',
                    value=f'T={T}', answer=side,
                    predicted_gib=predict(params, a, b, 8, T, side) / 2**30))
        del model
    return fits, extra


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    if not args.no_grid:
        rows = grid_rows(args)
        write_csv(osp.join(args.out, 'designs.csv'), rows, FIELDS)
        if not args.no_plot:
            plot(rows, osp.join(args.out, 'designs.png'))
    fits = extra = None
    if args.extrapolate:
        fits, extra = large_rows(args)
        write_csv(osp.join(args.out, 'large_fit.csv'), fits, FIT_FIELDS)
        write_csv(osp.join(args.out, 'large_extrapolation.csv'), extra,
                  EXTRA_FIELDS)
        for r in extra:
            print(f"large {r['design']} cp={int(r['with_cp'])}: "
                  f"{r['query']} at {r['value']}, batch 8, "
                  f'{args.budget_gb:g} GB: {r["answer"]} '
                  f"({r['predicted_gib']:.1f} GiB)")
    print(f'wrote {args.out}')
    return rows, fits, extra


if __name__ == '__main__':
    main()
