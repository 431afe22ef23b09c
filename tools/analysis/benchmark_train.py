# Copyright (c) mmsvf contributors. All rights reserved.
"""Side-by-side training benchmark: step time and peak memory versus T.

One training step = forward of the SpikeVideoFormer backbone + a linear
classifier on its last stage (mean over T, H, W), cross-entropy, backward and
an SGD (momentum 0.9) step. Four configurations of the same architecture:

* ``a`` — mmsvf default: fused neurons (``backend='auto'``: Numba on CPU
  float32), compact spike storage (``compact_spikes=True``);
* ``b`` — ``a`` with activation checkpointing of every block and
  downsampling layer (``with_cp=True``);
* ``c`` — naive reference written the way predecessor code trains: per-step
  Python neuron loop recorded by autograd (``backend='reference'``, the
  SpikingJelly order of operations), float spikes kept for backward
  (``compact_spikes=False``), no checkpointing;
* ``d`` — ``a`` with the channels-last depthwise convolutions
  (``fast_depthwise=True``: same outputs, weight gradients to float32
  rounding; not the default, see the backbone's docstring).

Every (configuration, T) runs in a fresh Python process (``--isolation
process``; ``--quick`` runs one process per configuration), so allocator
state, JIT caches and peaks of one run never leak into another.

Measurements:

* time: the best of ``--steps`` timed steps after ``--warmup`` untimed ones
  (the minimum is the least disturbed by other processes on a shared
  machine);
* step peak memory: one further step, its peak above the memory held before
  it (model, gradients and optimizer state are allocated first, so this is
  what the step itself needs: activations kept for backward plus transient
  buffers). CUDA: ``torch.cuda.max_memory_allocated`` minus
  ``memory_allocated``. CPU: the process peak resident set (``VmHWM``, reset
  through ``/proc/self/clear_refs``) minus the resident set before the step;
  for that step glibc serves every allocation above 128 KiB with ``mmap``
  (``mallopt``), so a freed tensor leaves the resident set at once and the
  peak is the live peak (the heap would otherwise keep freed memory and hide
  later peaks); the timed steps run with heap allocation (no page fault per
  tensor). The absolute process peak is reported too.

Prints a table and the ratio lines::

    (a) vs (c) speed: X.Xx          (at each T; (c) time / (a) time)
    (d) vs (c) speed: X.Xx, (d) vs (a): X.Xx   (when (d) runs)
    (b) vs (a) peak memory: -YY%, time +ZZ%   (at each T)
    (a) T16/T4 time: X.Xx, memory: Y.Yx

Examples::

    python tools/analysis/benchmark_train.py                 # small, 64x64
    python tools/analysis/benchmark_train.py --frames 4 8 --threads 2
    python tools/analysis/benchmark_train.py --embed-dims 32 64 128 160
    python tools/analysis/benchmark_train.py --device cuda --arch large \\
        --resolution 224 --frames 8 --amp fp16        # on a GPU
    python tools/analysis/benchmark_train.py --quick          # CI: seconds
"""
import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
import time

CONFIGS = {
    'a': dict(label='(a) mmsvf default',
              backbone=dict(compact_spikes=True, with_cp=False),
              backend='auto'),
    'b': dict(label='(b) mmsvf + with_cp',
              backbone=dict(compact_spikes=True, with_cp=True),
              backend='auto'),
    'c': dict(label='(c) naive reference',
              backbone=dict(compact_spikes=False, with_cp=False),
              backend='reference'),
    'd': dict(label='(d) (a) + fast_depthwise',
              backbone=dict(compact_spikes=True, with_cp=False,
                            fast_depthwise=True),
              backend='auto'),
}
TARGETS = dict(speed_a_vs_c=1.5, mem_b_vs_a=-40.0, time_b_vs_a=35.0,
               linear_T=4.4)
_RESULT = 'BENCHMARK_RESULT '


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Training step time and peak memory of SpikeVideoFormer '
        'configurations versus the number of frames T.')
    parser.add_argument('--arch', default='small',
                        choices=['small', 'base', 'large'])
    parser.add_argument('--embed-dims', type=int, nargs=4, default=None,
                        help='override the four widths (e.g. 32 64 128 160)')
    parser.add_argument('--num-heads', type=int, default=8)
    parser.add_argument('--depths', type=int, nargs=2, default=[6, 2])
    parser.add_argument('--resolution', type=int, default=64,
                        help='frame height = width (divisible by 16)')
    parser.add_argument('--frames', type=int, nargs='+', default=[4, 8, 16],
                        help='numbers of frames T (default 4 8 16)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--num-classes', type=int, default=10)
    parser.add_argument('--configs', nargs='+', default=['a', 'b', 'c'],
                        choices=sorted(CONFIGS))
    parser.add_argument('--with-cp', type=int, nargs=4, default=None,
                        choices=[0, 1],
                        help="per-stage checkpointing of configuration 'b' "
                        '(default: every stage, 1 1 1 1)')
    parser.add_argument('--steps', type=int, default=3,
                        help='timed steps; the best is reported')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed steps first (JIT, allocator)')
    parser.add_argument('--device', default='cpu',
                        help="'cpu' or 'cuda' (or 'cuda:N')")
    parser.add_argument('--amp', default='none',
                        choices=['none', 'fp16', 'bf16'],
                        help='autocast dtype (fp16 adds a GradScaler)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch / Numba threads (default: theirs)')
    parser.add_argument('--clock', default='wall', choices=['wall', 'cpu'],
                        help="step time: 'wall' (default) or 'cpu' (CPU "
                        'time of the process: with --threads 1 it ignores '
                        'the time other processes hold the core, the robust '
                        'choice on a shared machine)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='repeat the whole sweep, interleaved, and keep '
                        'the best of every (configuration, T): load changes '
                        'on a shared machine then hit all configurations')
    parser.add_argument('--isolation', default=None,
                        choices=['process', 'config', 'none'],
                        help='fresh process per (config, T) (default), per '
                        'config (default with --quick), or all in this one')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None,
                        help='also write the results to this JSON file')
    parser.add_argument('--quick', action='store_true',
                        help='tiny widths, 32x32, T in {2, 4}, one timed '
                        'step: checks that everything runs')
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.embed_dims = args.embed_dims or [16, 32, 64, 64]
        args.num_heads, args.depths = 2, [1, 1]
        args.resolution, args.frames = 32, [2, 4]
        args.steps, args.warmup = 1, 0
        args.isolation = args.isolation or 'config'
    args.isolation = args.isolation or 'process'
    if args.resolution % 16:
        parser.error('--resolution must be divisible by 16')
    args.frames = sorted(set(args.frames))
    return args


# ---------------------------------------------------------------------------
# worker side: build, run, measure
# ---------------------------------------------------------------------------
class _Malloc:
    """glibc ``mallopt`` switches between timing and peak measurement.

    * ``measure()``: every allocation above 128 KiB is its own ``mmap`` and
      freed memory is trimmed, so the resident set follows the live tensors
      (a freed tensor leaves it at once) and ``VmHWM`` is the live peak;
    * ``fast()``: allocations below 32 MiB are served from the heap (glibc's
      own steady state once its dynamic threshold has grown), so timed steps
      do not pay a page fault for every fresh tensor.

    Does nothing where glibc is not available.
    """

    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3

    def __init__(self):
        try:
            self.libc = ctypes.CDLL('libc.so.6')
            self.libc.mallopt  # noqa: B018
        except (OSError, AttributeError):
            self.libc = None

    def _set(self, mmap_threshold, trim_threshold):
        if self.libc is None:
            return False
        ok = self.libc.mallopt(self.M_MMAP_THRESHOLD, mmap_threshold) == 1
        self.libc.mallopt(self.M_TRIM_THRESHOLD, trim_threshold)
        return ok

    def fast(self):
        return self._set(32 * 2**20, 256 * 2**20)

    def measure(self):
        ok = self._set(128 * 1024, 128 * 1024)
        if self.libc is not None:
            self.libc.malloc_trim(0)
        return ok


def _proc_status(key):
    with open('/proc/self/status') as f:
        m = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)
    return int(m.group(1)) * 1024 if m else None


def _reset_peak_rss():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


class _Meter:
    """Peak memory above a baseline, on CUDA or from the process RSS."""

    def __init__(self, device):
        import torch
        self.torch = torch
        self.cuda = device.type == 'cuda'
        self.device = device

    def start(self):
        torch = self.torch
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            import gc
            gc.collect()
            self.rss_reset = _reset_peak_rss()
            self.base = _proc_status('VmRSS')

    def stop(self):
        torch = self.torch
        if self.cuda:
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            return peak - self.base, peak
        if self.rss_reset:
            peak = _proc_status('VmHWM')
        else:  # no reset: the lifetime peak (an over-estimate)
            import resource
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return peak - self.base, peak


def build_model(args, config):
    """Backbone + linear classifier of configuration ``config``."""
    import torch
    from torch import nn

    from mmsvf.models.backbones import SpikeVideoFormer

    cfg = CONFIGS[config]
    kwargs = dict(cfg['backbone'])
    if config == 'b' and args.with_cp is not None:
        kwargs['with_cp'] = tuple(bool(c) for c in args.with_cp)
    torch.manual_seed(args.seed)
    backbone = SpikeVideoFormer(
        arch=args.arch, embed_dims=args.embed_dims, depths=args.depths,
        num_heads=args.num_heads, out_indices=(3, ),
        neuron=dict(type='LIF', backend=cfg['backend']), **kwargs)
    head = nn.Linear(backbone.out_channels[-1], args.num_classes)

    class Net(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone, self.head = backbone, head

        def forward(self, x):
            feat = self.backbone(x)[-1]  # (B, C, T, h, w)
            return self.head(feat.float().mean(dim=(2, 3, 4)))

    return Net()


def run_worker(args, config, frames):
    """Measure ``config`` at every T of ``frames``; a list of result dicts."""
    import torch
    from torch import nn

    device = torch.device(args.device)
    malloc = _Malloc() if device.type == 'cpu' else None
    if args.threads:
        torch.set_num_threads(args.threads)
        try:
            import numba
            numba.set_num_threads(min(args.threads,
                                      numba.config.NUMBA_NUM_THREADS))
        except ImportError:
            pass
    model = build_model(args, config).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    amp_dtype = dict(fp16=torch.float16, bf16=torch.bfloat16).get(args.amp)
    scaler = torch.amp.GradScaler(device.type) if args.amp == 'fp16' \
        else None
    # allocate gradients and optimizer state before measuring
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=False)
    criterion = nn.CrossEntropyLoss()
    meter = _Meter(device)
    results = []
    for T in frames:
        gen = torch.Generator().manual_seed(args.seed + T)
        x = (torch.randn(args.batch_size, 3, T, args.resolution,
                         args.resolution, generator=gen) * 2).to(device)
        y = torch.randint(0, args.num_classes, (args.batch_size, ),
                          generator=gen).to(device)

        def step():
            opt.zero_grad(set_to_none=False)
            with torch.autocast(device.type, dtype=amp_dtype,
                                enabled=amp_dtype is not None):
                loss = criterion(model(x).float(), y)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            return loss

        if malloc is not None:
            malloc.fast()
        for _ in range(args.warmup):
            step()
        times = []
        clock = time.process_time if args.clock == 'cpu' else \
            time.perf_counter
        for _ in range(args.steps):
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            t0 = clock()
            loss = step()
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            times.append(clock() - t0)
        # one more step for the peak (on CPU with mmap-backed allocations)
        if malloc is not None:
            malloc.measure()
        meter.start()
        loss = step()
        step_peak, abs_peak = meter.stop()
        results.append(dict(config=config, T=T, time=min(times),
                            peak=step_peak, abs_peak=abs_peak,
                            loss=float(loss)))
    return results


# ---------------------------------------------------------------------------
# parent side: spawn, collect, report
# ---------------------------------------------------------------------------
def _spawn(argv, config, frames):
    cmd = [sys.executable, os.path.abspath(__file__), *argv, '--worker',
           f'{config}:{",".join(map(str, frames))}']
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_RESULT)]
    if proc.returncode or not lines:
        raise RuntimeError(f'benchmark worker {config} T={frames} failed '
                           f'(exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(lines[-1][len(_RESULT):])


def _sweep(args, argv):
    results = []
    for config in args.configs:
        if args.isolation == 'process':
            for T in args.frames:
                results += _spawn(argv, config, [T])
        elif args.isolation == 'config':
            results += _spawn(argv, config, args.frames)
        else:
            results += run_worker(args, config, args.frames)
    return results


def collect(args, argv):
    """Results of every (configuration, T), in order: over ``--rounds``
    sweeps, the best time and the smallest peaks of each."""
    best = {}
    for _ in range(max(1, args.rounds)):
        for r in _sweep(args, argv):
            key = (r['config'], r['T'])
            if key not in best:
                best[key] = dict(r)
                continue
            for k in ('time', 'peak', 'abs_peak'):
                best[key][k] = min(best[key][k], r[k])
    return list(best.values())


def _mib(n):
    return n / 2**20


def report(args, results):
    """Print the table and the ratio lines; return the ratio dict."""
    by = {(r['config'], r['T']): r for r in results}
    dims = args.embed_dims or args.arch
    print(f'SpikeVideoFormer {dims}, depths {args.depths}, '
          f'{args.resolution}x{args.resolution}, batch {args.batch_size}, '
          f'device {args.device}, amp {args.amp}, threads '
          f'{args.threads or "default"}; time ({args.clock} clock): best of '
          f'{args.steps} step(s) after {args.warmup} warm-up, '
          f'{args.rounds} round(s)')
    print(f'{"configuration":<24}{"T":>4}{"step (s)":>11}'
          f'{"step peak (MiB)":>17}{"process peak (MiB)":>20}')
    for r in results:
        print(f'{CONFIGS[r["config"]]["label"]:<24}{r["T"]:>4}'
              f'{r["time"]:>11.3f}{_mib(r["peak"]):>17.1f}'
              f'{_mib(r["abs_peak"]):>20.1f}')
    ratios = {}

    def verdict(ok):
        return 'met' if ok else 'NOT met'

    for T in args.frames:
        a, b, c = by.get(('a', T)), by.get(('b', T)), by.get(('c', T))
        if a and c:
            sp = c['time'] / a['time']
            ratios[f'speed_a_vs_c_T{T}'] = sp
            print(f'T={T}: (a) vs (c) speed: {sp:.2f}x '
                  f'(target >= {TARGETS["speed_a_vs_c"]}x: '
                  f'{verdict(sp >= TARGETS["speed_a_vs_c"])}); '
                  f'peak memory {100 * (a["peak"] / c["peak"] - 1):+.0f}%')
        d = by.get(('d', T))
        if d and c:
            sp = c['time'] / d['time']
            ratios[f'speed_d_vs_c_T{T}'] = sp
            line = f'T={T}: (d) vs (c) speed: {sp:.2f}x'
            if a:
                ratios[f'speed_d_vs_a_T{T}'] = a['time'] / d['time']
                line += f', (d) vs (a): {a["time"] / d["time"]:.2f}x'
            print(line)
        if a and b:
            mem = 100 * (b['peak'] / a['peak'] - 1)
            tim = 100 * (b['time'] / a['time'] - 1)
            ratios[f'mem_b_vs_a_T{T}'], ratios[f'time_b_vs_a_T{T}'] = mem, tim
            ok = mem <= TARGETS['mem_b_vs_a'] and tim <= TARGETS['time_b_vs_a']
            print(f'T={T}: (b) vs (a) peak memory: {mem:+.0f}%, time '
                  f'{tim:+.0f}% (target <= {TARGETS["mem_b_vs_a"]:.0f}% at '
                  f'<= +{TARGETS["time_b_vs_a"]:.0f}%: {verdict(ok)})')
    lo, hi = args.frames[0], args.frames[-1]
    if lo != hi and ('a', lo) in by and ('a', hi) in by:
        t = by[('a', hi)]['time'] / by[('a', lo)]['time']
        m = by[('a', hi)]['peak'] / by[('a', lo)]['peak']
        ratios['time_T_ratio'], ratios['mem_T_ratio'] = t, m
        bound = TARGETS['linear_T'] * hi / (4 * lo)
        print(f'(a) T{hi}/T{lo} time: {t:.2f}x, memory: {m:.2f}x '
              f'(linear in T: {hi / lo:.0f}x; target <= {bound:.1f}x: '
              f'{verdict(t <= bound and m <= bound)})')
    return ratios


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker:
        config, frames = args.worker.split(':')
        out = run_worker(args, config, [int(t) for t in frames.split(',')])
        print(_RESULT + json.dumps(out), flush=True)
        return out
    results = collect(args, argv)
    ratios = report(args, results)
    if args.json:
        from mmsvf.utils.fileio import atomic_write
        text = json.dumps(dict(args=vars(args), results=results,
                               ratios=ratios), indent=2)
        atomic_write(args.json, lambda f: f.write(text.encode()))
    return dict(results=results, ratios=ratios)


if __name__ == '__main__':
    main()
