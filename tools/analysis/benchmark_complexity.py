#!/usr/bin/env python
# Copyright (c) mmsvf contributors. All rights reserved.
"""Cost of attention and of the whole backbone as the clip grows (T).

One run measures, for T in ``--frames`` at a fixed spatial size and width,
forward and forward+backward wall time and peak memory of

* (a) SDHA: mmsvf's spike-driven Hamming attention over all T·N tokens
  (``SpikeDrivenAttention(axis='joint')``, linear order ``Q(KᵀV)``),
* (b) softmax attention over the same T·N tokens, written out as
  ``softmax(QKᵀ/√d)V`` (what an ANN joint space-time Transformer computes),
* (c) the whole SpikeVideoFormer backbone (``--arch``),

and prints every figure as a ratio to T = 8 (``--ref-frames``). Each
measurement runs in a fresh subprocess so that peak memory (resident set
growth over the baseline taken just before the measured call; on CUDA the
allocator's peak) is not polluted by the others.

Example::

    python tools/analysis/benchmark_complexity.py
    python tools/analysis/benchmark_complexity.py --quick
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--frames', type=int, nargs='+', default=[4, 8, 16, 32])
    p.add_argument('--ref-frames', type=int, default=8)
    p.add_argument('--dim', type=int, default=256,
                   help='attention width (channels)')
    p.add_argument('--heads', type=int, default=8)
    p.add_argument('--tokens-hw', type=int, default=10,
                   help='attention tokens per frame = tokens_hw ** 2')
    p.add_argument('--arch', default='small')
    p.add_argument('--embed-dims', type=int, nargs=4, default=None)
    p.add_argument('--img-size', type=int, default=64,
                   help='backbone input H = W')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--device', default='cpu')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes, for a smoke test')
    p.add_argument('--in-process', action='store_true',
                   help='measure in this process (faster; peak memory is '
                   'then only indicative)')
    p.add_argument('--json', default=None, help='write results here')
    p.add_argument('--_worker', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.frames = [2, 4]
        args.ref_frames = 2
        args.dim, args.heads, args.tokens_hw = 16, 2, 4
        args.embed_dims = [16, 32, 64, 64]
        args.img_size = 32
        args.repeats = 1
    if args.ref_frames not in args.frames:
        p.error(f'--ref-frames {args.ref_frames} must be one of --frames')
    return args


# ---------------------------------------------------------------- workers
class SoftmaxJointAttention(torch.nn.Module):
    """ANN joint space-time attention: ``softmax(QKᵀ/√d)V`` over T·N."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x):  # x: [T, B, C, H, W]
        T, B, C, H, W = x.shape
        tokens = x.permute(1, 0, 3, 4, 2).reshape(B, T * H * W, C)
        q, k, v = self.qkv(tokens).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, -1, self.heads, C // self.heads)
                   .transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        y = scores.softmax(-1) @ v
        y = self.proj(y.transpose(1, 2).reshape(B, T * H * W, C))
        return y.reshape(B, T, H, W, C).permute(1, 0, 4, 2, 3)


def _rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _build(kind, args, T):
    import mmsvf  # noqa: F401
    from mmsvf.models import SpikeDrivenAttention, SpikeVideoFormer
    hw = args.tokens_hw
    if kind == 'sdha':
        module = SpikeDrivenAttention(args.dim, args.heads, 'joint')
        x = torch.randn(T, 1, args.dim, hw, hw) * 2
    elif kind == 'softmax':
        module = SoftmaxJointAttention(args.dim, args.heads)
        x = torch.randn(T, 1, args.dim, hw, hw)
    else:
        kw = dict(embed_dims=args.embed_dims, num_heads=2) \
            if args.embed_dims else dict(arch=args.arch)
        module = SpikeVideoFormer(**kw)
        x = torch.randn(1, 3, T, args.img_size, args.img_size)
    return module.to(args.device).train(), x.to(args.device)


def _measure(fn, args):
    cuda = args.device.startswith('cuda')
    fn()  # warm-up (kernel compilation, allocator)
    best = float('inf')
    for _ in range(args.repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        base = _rss_bytes()
        fn()
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                   - base, 0)
    return best, peak


def worker(spec, args):
    kind, T, mode = spec.split(':')
    T = int(T)
    module, x = _build(kind, args, T)

    def forward():
        with torch.no_grad():
            out = module(x)
        return out

    def forward_backward():
        x.requires_grad_(kind != 'backbone')
        out = module(x)
        loss = sum(o.float().square().mean() for o in out) \
            if isinstance(out, tuple) else out.float().square().mean()
        loss.backward()
        module.zero_grad(set_to_none=True)

    seconds, peak = _measure(forward if mode == 'fwd' else forward_backward,
                             args)
    print(json.dumps(dict(seconds=seconds, peak_bytes=peak)))


# ----------------------------------------------------------------- driver
def run_one(spec, argv, args):
    if args.in_process:
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            worker(spec, args)
        return json.loads(buf.getvalue().strip().splitlines()[-1])
    cmd = [sys.executable, os.path.abspath(__file__), *argv, '--_worker',
           spec]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'benchmark worker {spec} failed:\n{out.stderr}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args._worker:
        torch.manual_seed(0)
        return worker(args._worker, args)
    kinds = [('sdha', 'SDHA joint attention (linear)'),
             ('softmax', 'softmax joint attention'),
             ('backbone', 'SpikeVideoFormer backbone')]
    results = {}
    total = len(kinds) * len(args.frames) * 2
    done = 0
    for kind, _ in kinds:
        for T in args.frames:
            for mode in ('fwd', 'fwdbwd'):
                done += 1
                print(f'[{done}/{total}] {kind} T={T} {mode} ...',
                      file=sys.stderr, flush=True)
                results[(kind, T, mode)] = run_one(f'{kind}:{T}:{mode}',
                                                   argv, args)
    ref = args.ref_frames
    tokens = args.tokens_hw ** 2
    torch.manual_seed(0)
    print(f'\nattention: dim={args.dim}, heads={args.heads}, '
          f'{tokens} tokens/frame; backbone: '
          f"{args.embed_dims or args.arch} at {args.img_size}x"
          f'{args.img_size}; device={args.device}; best of {args.repeats}')
    header = (f"{'module':<30} {'T':>3} {'fwd ms':>9} {'fwd+bwd ms':>11} "
              f"{'peak MB':>9} {'time/T' + str(ref):>9} "
              f"{'mem/T' + str(ref):>8}")
    print(header)
    print('-' * len(header))
    for kind, name in kinds:
        r_t = results[(kind, ref, 'fwdbwd')]['seconds']
        r_m = max(results[(kind, ref, 'fwdbwd')]['peak_bytes'], 1)
        for T in args.frames:
            f = results[(kind, T, 'fwd')]
            fb = results[(kind, T, 'fwdbwd')]
            print(f'{name:<30} {T:>3} {f["seconds"] * 1e3:>9.2f} '
                  f'{fb["seconds"] * 1e3:>11.2f} '
                  f'{fb["peak_bytes"] / 2**20:>9.1f} '
                  f'{fb["seconds"] / r_t:>8.2f}x '
                  f'{fb["peak_bytes"] / r_m:>7.2f}x')
    hi = max(args.frames)
    print()
    for kind, name in kinds:
        t = results[(kind, hi, 'fwdbwd')]['seconds'] / \
            results[(kind, ref, 'fwdbwd')]['seconds']
        m = results[(kind, hi, 'fwdbwd')]['peak_bytes'] / max(
            results[(kind, ref, 'fwdbwd')]['peak_bytes'], 1)
        tf = results[(kind, hi, 'fwd')]['seconds'] / \
            results[(kind, ref, 'fwd')]['seconds']
        print(f'{name}: T={hi} vs T={ref}: forward {tf:.1f}x, '
              f'forward+backward {t:.1f}x time, {m:.1f}x peak memory '
              f'(linear would be {hi / ref:.1f}x)')
    if args.json:
        from mmsvf.utils.fileio import atomic_write
        text = json.dumps({f'{k}:{T}:{m}': v
                           for (k, T, m), v in results.items()}, indent=1)
        atomic_write(args.json, lambda f: f.write(text.encode()))


if __name__ == '__main__':
    main()
