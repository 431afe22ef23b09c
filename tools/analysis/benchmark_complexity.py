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

With ``--core`` it measures instead the SDHA product alone,
:func:`~mmsvf.models.attention.core.hamming_attention` against its literal
form ``(2q − 1)·((2k − 1)ᵀv)`` on ``(1, heads, T·tokens, dim/heads)``
spikes: every T (and both forms) interleaved in one process, ``--repeats``
rounds, medians (``--clock``), ``--threads`` threads, and the peak of the
bytes the products allocate (tensors created inside the call, freed or
not). With
``--busy N`` it first starts ``N`` processes that keep one core busy each
(a matmul loop on a 2 MB working set), to see how the cost scales when the
shared cache is contended.

Example::

    python tools/analysis/benchmark_complexity.py
    python tools/analysis/benchmark_complexity.py --quick
    python tools/analysis/benchmark_complexity.py --core --tokens-hw 14 \
        --frames 8 32 --repeats 15 [--busy 1]
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
    p.add_argument('--core', action='store_true',
                   help='time the SDHA product alone (fast and literal '
                   'form), see above')
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads for --core')
    p.add_argument('--busy', type=int, default=0,
                   help='with --core: busy processes running beside')
    p.add_argument('--clock', default='wall', choices=['wall', 'cpu'],
                   help="with --core: 'wall' (perf_counter) or 'cpu' "
                   '(process_time: CPU time of this process, not the time '
                   'other processes hold the core; cache contention still '
                   'counts)')
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


# ------------------------------------------------------------- core mode
class PeakBytes:
    """Peak bytes of the tensor storages created while it is active.

    A dispatch mode sees every tensor an operator returns; a finalizer on
    each new storage subtracts its size when it is freed. The storages of
    ``existing`` tensors (the inputs, and so their views) are not counted.
    """

    def __init__(self, existing=()):
        from torch.utils._python_dispatch import TorchDispatchMode
        tracker = self
        self.live = self.peak = 0
        self._seen = set()
        self._existing = {id(t.untyped_storage()) for t in existing}

        class _Mode(TorchDispatchMode):

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._record(out)
                return out

        self._mode = _Mode()

    def _record(self, out):
        import weakref

        from torch.utils._pytree import tree_flatten
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            st = t.untyped_storage()
            key = id(st)
            if key in self._seen or key in self._existing:
                continue
            self._seen.add(key)
            self.live += st.nbytes()
            self.peak = max(self.peak, self.live)
            weakref.finalize(st, self._free, key, st.nbytes())

    def _free(self, key, nbytes):
        self._seen.discard(key)
        self.live -= nbytes

    def __enter__(self):
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)


def _busy_loop():
    torch.set_num_threads(1)
    a = torch.randn(512, 512)  # 1 MB each: a and the product share the LLC
    while True:
        a = torch.tanh(a @ a * 1e-3)


def core_benchmark(args):
    import statistics

    from mmsvf.models.attention.core import (
        hamming_attention,
        hamming_attention_naive,
    )
    torch.set_num_threads(args.threads)
    forms = dict(fast=hamming_attention, naive=hamming_attention_naive)
    heads, d = args.heads, args.dim // args.heads
    tokens = args.tokens_hw ** 2
    data = {}
    for T in args.frames:
        q, k, v = (torch.randint(0, 2, (1, heads, T * tokens, d)).float()
                   .requires_grad_() for _ in range(3))
        data[T] = (q, k, v, torch.randn_like(q))

    def run(form, T, mode):
        q, k, v, g = data[T]
        if mode == 'fwd':
            with torch.no_grad():
                return forms[form](q, k, v)
        out = forms[form](q, k, v)
        return torch.autograd.grad(out, (q, k, v), g)

    import multiprocessing as mp
    busy = [mp.get_context('spawn').Process(target=_busy_loop, daemon=True)
            for _ in range(args.busy)]
    for b in busy:
        b.start()
    try:
        keys = [(f, T, m) for T in args.frames for f in forms
                for m in ('fwd', 'fwdbwd')]
        times = {key: [] for key in keys}
        for key in keys:  # warm-up
            run(*key)
        clock = time.process_time if args.clock == 'cpu' else \
            time.perf_counter
        for _ in range(args.repeats):
            for key in keys:
                t0 = clock()
                run(*key)
                times[key].append(clock() - t0)
    finally:
        for b in busy:
            b.terminate()
            b.join()
    results = {}
    for key in keys:
        with PeakBytes(data[key[1]]) as peak:
            run(*key)
        results[key] = dict(seconds=statistics.median(times[key]),
                            best_seconds=min(times[key]),
                            peak_bytes=peak.peak)
    ref, hi = args.ref_frames, max(args.frames)
    print(f'SDHA product: {heads} heads, {tokens} tokens/frame, d={d}, '
          f'{args.threads} thread(s), {args.busy} busy process(es), '
          f'median of {args.repeats} interleaved rounds ({args.clock} '
          'clock)')
    header = (f"{'form':<6} {'T':>3} {'fwd ms':>9} {'fwd+bwd ms':>11} "
              f"{'fwd MB':>8} {'fwd+bwd MB':>11}")
    print(header)
    print('-' * len(header))
    for form in forms:
        for T in args.frames:
            f, fb = results[(form, T, 'fwd')], results[(form, T, 'fwdbwd')]
            print(f'{form:<6} {T:>3} {f["seconds"] * 1e3:>9.2f} '
                  f'{fb["seconds"] * 1e3:>11.2f} '
                  f'{f["peak_bytes"] / 2**20:>8.2f} '
                  f'{fb["peak_bytes"] / 2**20:>11.2f}')
    for form in forms:
        rf, rfb, bf, bfb = (results[(form, hi, m)][s] /
                            results[(form, ref, m)][s]
                            for s in ('seconds', 'best_seconds')
                            for m in ('fwd', 'fwdbwd'))
        print(f'{form}: T={hi} vs T={ref}: forward {rf:.2f}x, '
              f'forward+backward {rfb:.2f}x (best of rounds: {bf:.2f}x, '
              f'{bfb:.2f}x; linear would be {hi / ref:.1f}x)')
    if args.json:
        from mmsvf.utils.fileio import atomic_write
        text = json.dumps({f'{f}:{T}:{m}': v
                           for (f, T, m), v in results.items()}, indent=1)
        atomic_write(args.json, lambda f: f.write(text.encode()))
    return results


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
    if args.core:
        return core_benchmark(args)
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
