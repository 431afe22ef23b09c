#!/usr/bin/env python
# Copyright (c) mmsvf contributors. All rights reserved.
"""GPU benchmark of mmsvf in one run: neurons, SDHA, the Large train step.

Sections (each printed as it finishes, all collected in ``--json``):

1. ``neurons``: LIF and IntegerLIF forward + backward on ``[T, N]`` inputs
   (``N = --neurons``, default ``2^24`` neurons per step; T = 4, 8, 16, 32)
   for every backend: ``reference`` (per-step autograd loop), ``torch``
   (fused eager scans), ``inductor`` (LIF only: the scans compiled by
   ``torch.compile``), ``triton`` (the fused Triton kernels) and
   SpikingJelly's fused multi-step ``LIFNode`` when ``spikingjelly`` is
   importable. Each against the memory-traffic floor of the same tensors:
   forward reads ``X`` and writes ``S``, backward reads ``X``, ``dL/dS``
   and writes ``dL/dX`` — five ``[T, N]`` tensors at the bandwidth of a
   device-to-device copy measured first.
2. ``sdha``: the SDHA module (``SpikeDrivenAttention``, joint space-time,
   Large stage-3 width 512, 8 heads, 14 × 14 tokens per frame, batch
   ``--batch-size``) forward + backward at T = 8, 16, 32, 64 under bf16
   autocast: time, peak memory and both as a ratio to T = 8.
3. ``train``: the Large backbone train step (backbone + linear classifier,
   cross-entropy, SGD; ``tools/analysis/benchmark_train.py``'s model) at
   224², T = 8, batch 8 in bf16 autocast, without and with ``with_cp``:
   step time, peak memory and dense-MAC throughput
   ``6 · dense MACs of one forward / step time`` against the device's bf16
   dense peak (``--peak-tflops``; known for H100 / H200 / A100).
4. ``max_frames``: the largest T whose train step (batch 8, ``with_cp``)
   fits in device memory: doubling from T = 8, then bisection.

Targets (one H100): triton LIF forward + backward at T = 32 >= 10x the
reference loop and no slower than SpikingJelly's kernel; the Large train
step >= 30 % of bf16 dense peak. The whole run stays under ``--budget``
seconds (default 450): a section that would start past it is skipped and
says so. Every measurement is guarded: an error (out of memory, a missing
package) is printed in its row and the run goes on.

``--dry-run`` prints the plan (what would run, sizes, bytes) without
touching a device; ``--device cpu --quick`` runs every section at tiny sizes
on the CPU (Triton entries only under ``TRITON_INTERPRET=1``; no
``inductor``), which is how the test suite checks the script and its output
schema.

Examples::

    python tools/analysis/benchmark_gpu.py --json gpu.json      # one GPU
    python tools/analysis/benchmark_gpu.py --dry-run
    python tools/analysis/benchmark_gpu.py --device cpu --quick
"""
import argparse
import json
import os
import sys
import time

import torch

SCHEMA_VERSION = 1
SECTIONS = ('neurons', 'sdha', 'train', 'max_frames')
NEURON_BACKENDS = {
    'LIF': ('reference', 'torch', 'inductor', 'triton', 'spikingjelly'),
    'IntegerLIF': ('reference', 'torch', 'triton'),
}
TARGETS = dict(triton_vs_reference_T32=10.0, triton_vs_spikingjelly_T32=1.0,
               train_fraction_of_peak=0.30)
# bf16 dense tensor-core peak (TFLOP/s, no sparsity) by device name
PEAK_BF16_TFLOPS = (('H100 PCIe', 756.0), ('H100', 989.4), ('H200', 989.4),
                    ('GH200', 989.4), ('A100', 312.0), ('L40S', 362.0))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda')
    p.add_argument('--sections', nargs='+', default=list(SECTIONS),
                   choices=SECTIONS)
    p.add_argument('--neurons', type=int, default=2**24,
                   help='neurons per time step (default 2^24)')
    p.add_argument('--neuron-steps', type=int, nargs='+',
                   default=[4, 8, 16, 32])
    p.add_argument('--neuron-dtype', default='float32',
                   choices=['float32', 'bfloat16', 'float16'])
    p.add_argument('--sdha-steps', type=int, nargs='+',
                   default=[8, 16, 32, 64])
    p.add_argument('--sdha-dim', type=int, default=512)
    p.add_argument('--sdha-heads', type=int, default=8)
    p.add_argument('--tokens-hw', type=int, default=14)
    p.add_argument('--arch', default='large')
    p.add_argument('--embed-dims', type=int, nargs=4, default=None)
    p.add_argument('--depths', type=int, nargs=2, default=[6, 2])
    p.add_argument('--num-heads', type=int, default=8)
    p.add_argument('--resolution', type=int, default=224)
    p.add_argument('--frames', type=int, default=8)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--amp', default='bf16', choices=['none', 'bf16', 'fp16'])
    p.add_argument('--max-frames-cap', type=int, default=512,
                   help='largest T tried by the max_frames search')
    p.add_argument('--repeats', type=int, default=5,
                   help='timed runs per entry (the best is reported)')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--peak-tflops', type=float, default=None,
                   help='bf16 dense peak of the device (default: by name)')
    p.add_argument('--budget', type=float, default=450.,
                   help='seconds; sections starting later are skipped')
    p.add_argument('--json', default=None, help='write the results here')
    p.add_argument('--dry-run', action='store_true',
                   help='print the plan, run nothing')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes (with --device cpu: the test mode)')
    args = p.parse_args(argv)
    if args.quick:
        args.neurons, args.neuron_steps = 1031, [1, 3]
        args.sdha_steps, args.sdha_dim, args.sdha_heads = [2, 4], 16, 2
        args.tokens_hw = 4
        args.embed_dims, args.depths = [16, 32, 64, 64], [1, 1]
        args.resolution, args.frames, args.batch_size = 16, 2, 1
        args.num_heads = 2
        args.max_frames_cap, args.repeats, args.warmup = 4, 1, 0
        if not args.device.startswith('cuda'):
            args.amp = 'none'
    return args


# ------------------------------------------------------------------ helpers
class Timer:
    """Best-of-``repeats`` wall time of a closure, synchronised on CUDA."""

    def __init__(self, device, repeats, warmup):
        self.cuda = device.type == 'cuda'
        self.device = device
        self.repeats, self.warmup = repeats, warmup

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def best_ms(self, fn):
        for _ in range(self.warmup):
            fn()
        best = float('inf')
        for _ in range(self.repeats):
            self.sync()
            t0 = time.perf_counter()
            fn()
            self.sync()
            best = min(best, time.perf_counter() - t0)
        return best * 1e3

    def peak_bytes(self, fn):
        """Peak device memory of one ``fn()`` above what was held before
        (CUDA); None on CPU."""
        if not self.cuda:
            return None
        self.sync()
        torch.cuda.reset_peak_memory_stats(self.device)
        base = torch.cuda.memory_allocated(self.device)
        fn()
        self.sync()
        return torch.cuda.max_memory_allocated(self.device) - base


def _guard(row, fn):
    """Run ``fn()`` into ``row``; an error becomes ``row['error']``."""
    try:
        row.update(fn())
    except Exception as e:  # noqa: BLE001 - reported, the run goes on
        row['error'] = f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'
        if 'out of memory' in str(e).lower() and torch.cuda.is_available():
            torch.cuda.empty_cache()
    return row


def _fmt(v, spec='.3f'):
    return '-' if v is None else format(v, spec)


def _triton_runs(device):
    from mmsvf.models.neurons.backends import (
        TRITON_AVAILABLE,
        triton_interpreted,
    )
    return TRITON_AVAILABLE and (device.type == 'cuda'
                                 or triton_interpreted())


def _spikingjelly_lif(device):
    """SpikingJelly's fused multi-step LIF (hard reset 0, tau 2, sigmoid
    surrogate, detached reset: the mmsvf defaults), or None."""
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError:
        return None
    node = neuron.LIFNode(tau=2., detach_reset=True, step_mode='m',
                          surrogate_function=surrogate.Sigmoid(alpha=4.))
    for backend in ('triton', 'cupy'):
        if backend in node.supported_backends:
            try:
                node.backend = backend
                break
            except Exception:  # noqa: BLE001 - try the next one
                continue
    return node.to(device)


def _device_info(device):
    if device.type != 'cuda':
        return dict(name='cpu', total_memory=None)
    prop = torch.cuda.get_device_properties(device)
    return dict(name=prop.name, total_memory=prop.total_memory)


def _peak_tflops(args, info):
    if args.peak_tflops:
        return args.peak_tflops
    for key, value in PEAK_BF16_TFLOPS:
        if key in info['name']:
            return value
    return None


def copy_bandwidth(device, timer, nbytes):
    """Bytes per second of a device-to-device copy (read + write)."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = timer.best_ms(lambda: dst.copy_(src))
    return 2 * src.numel() * 4 / (ms / 1e3)


# ------------------------------------------------------------------ sections
def bench_neurons(args, device, timer, out):
    from mmsvf.models.neurons import integer_lif_multistep, lif_multistep
    dtype = getattr(torch, args.neuron_dtype)
    size = torch.finfo(dtype).bits // 8
    bandwidth = copy_bandwidth(
        device, timer, min(args.neurons * max(args.neuron_steps) * 4,
                           2**30))
    out['copy_bandwidth_gbs'] = bandwidth / 1e9
    print(f'\n[neurons] N = {args.neurons} per step, {args.neuron_dtype}, '
          f'copy bandwidth {bandwidth / 1e9:.0f} GB/s; forward+backward ms '
          f'(floor: 5 [T, N] tensors at that bandwidth)', flush=True)
    sj = _spikingjelly_lif(device) if device.type == 'cuda' else None
    rows = out.setdefault('rows', [])
    for kind, backends in NEURON_BACKENDS.items():
        for T in args.neuron_steps:
            gen = torch.Generator(device='cpu').manual_seed(T)
            x = (torch.randn(T, args.neurons, generator=gen) * 1.5 + 1.).to(
                device, dtype).requires_grad_()
            grad = torch.randn(T, args.neurons, generator=gen).to(
                device, dtype)
            floor_ms = 5 * x.numel() * size / bandwidth * 1e3
            for backend in backends:
                row = dict(kind=kind, T=T, backend=backend,
                           floor_ms=floor_ms)
                rows.append(row)
                skip = None
                if backend == 'triton' and not _triton_runs(device):
                    skip = 'triton not installed / no CUDA'
                elif backend == 'inductor' and device.type != 'cuda' \
                        and args.quick:
                    skip = 'quick CPU run: no compilation'
                elif backend == 'spikingjelly' and sj is None:
                    skip = 'spikingjelly not importable'
                if skip:
                    row['skipped'] = skip
                    continue

                if backend == 'spikingjelly':
                    def fwd(_x=x):
                        sj.reset()
                        return sj(_x)
                elif kind == 'LIF':
                    def fwd(_x=x, _b=backend):
                        return lif_multistep(_x, backend=_b)
                else:
                    def fwd(_x=x, _b=backend):
                        return integer_lif_multistep(_x, backend=_b)

                def step(_x=x, _fwd=fwd, _g=grad):
                    _x.grad = None
                    _fwd().backward(_g)

                def measure(_step=step):
                    ms = timer.best_ms(_step)
                    return dict(ms=ms, vs_floor=ms / floor_ms)

                _guard(row, measure)
            del x, grad
            ref = {r['backend']: r.get('ms') for r in rows
                   if r['kind'] == kind and r['T'] == T}
            for r in rows:
                if r['kind'] == kind and r['T'] == T and r.get('ms') and \
                        ref.get('reference'):
                    r['speedup_vs_reference'] = ref['reference'] / r['ms']
            line = ', '.join(
                f'{b} {_fmt(ref.get(b))}' for b in backends)
            print(f'  {kind:<10} T={T:>3}: {line}; floor '
                  f'{floor_ms:.3f}', flush=True)
    T = max(args.neuron_steps)
    by = {r['backend']: r for r in rows if r['kind'] == 'LIF'
          and r['T'] == T}
    tri = by.get('triton', {}).get('ms')
    checks = {}
    if tri and by.get('reference', {}).get('ms'):
        checks['triton_vs_reference'] = by['reference']['ms'] / tri
    if tri and by.get('spikingjelly', {}).get('ms'):
        checks['triton_vs_spikingjelly'] = by['spikingjelly']['ms'] / tri
    out['checks'] = checks
    for name, value in checks.items():
        target = TARGETS[f'{name}_T32']
        print(f'  LIF T={T}: {name} {value:.2f}x (target >= {target}x: '
              f'{"met" if value >= target else "NOT met"})', flush=True)


def bench_sdha(args, device, timer, out):
    from mmsvf.models import SpikeDrivenAttention
    amp = dict(bf16=torch.bfloat16, fp16=torch.float16).get(args.amp)
    hw = args.tokens_hw
    print(f'\n[sdha] SpikeDrivenAttention({args.sdha_dim}, '
          f'{args.sdha_heads}, joint), {hw}x{hw} tokens/frame, batch '
          f'{args.batch_size}, amp {args.amp}: forward+backward', flush=True)
    torch.manual_seed(0)
    module = SpikeDrivenAttention(args.sdha_dim, args.sdha_heads,
                                  'joint').to(device).train()
    rows = out.setdefault('rows', [])
    for T in args.sdha_steps:
        x = (torch.randn(T, args.batch_size, args.sdha_dim, hw, hw,
                         device=device) * 2).requires_grad_()

        def step(_x=x):
            _x.grad = None
            module.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp,
                                enabled=amp is not None):
                y = module(_x)
            y.float().square().mean().backward()

        row = _guard(dict(T=T), lambda _s=step: dict(
            ms=timer.best_ms(_s), peak_bytes=timer.peak_bytes(_s)))
        rows.append(row)
        del x
    ref = rows[0]
    for r in rows:
        if r.get('ms') and ref.get('ms'):
            r['time_vs_first'] = r['ms'] / ref['ms']
        if r.get('peak_bytes') and ref.get('peak_bytes'):
            r['memory_vs_first'] = r['peak_bytes'] / ref['peak_bytes']
        print(f'  T={r["T"]:>3}: {_fmt(r.get("ms"))} ms, peak '
              f'{_fmt(_mib(r.get("peak_bytes")), ".1f")} MiB, '
              f'x{_fmt(r.get("time_vs_first"), ".2f")} time, '
              f'x{_fmt(r.get("memory_vs_first"), ".2f")} memory vs '
              f'T={ref["T"]}' + (f'  [{r["error"]}]' if 'error' in r
                                 else ''), flush=True)


def _mib(n):
    return None if n is None else n / 2**20


def _train_args(args, with_cp):
    bt = _load_tool('benchmark_train')
    targs = bt.parse_args([
        '--arch', args.arch if args.arch in ('small', 'base', 'large')
        else 'large', '--resolution', str(args.resolution),
        '--batch-size', str(args.batch_size), '--device', args.device,
        '--amp', args.amp, '--depths', *map(str, args.depths),
        '--num-heads', str(args.num_heads)
    ] + (['--embed-dims', *map(str, args.embed_dims)]
         if args.embed_dims else []))
    return bt, targs, 'b' if with_cp else 'a'


def _load_tool(name):
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_mmsvf_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train_step_fn(args, device, with_cp, T):
    """(step closure, model) of the benchmark_train model at T frames."""
    bt, targs, config = _train_args(args, with_cp)
    model = bt.build_model(targs, config).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    amp = dict(bf16=torch.bfloat16, fp16=torch.float16).get(args.amp)
    scaler = torch.amp.GradScaler(device.type) if args.amp == 'fp16' \
        else None
    gen = torch.Generator().manual_seed(T)
    x = (torch.randn(args.batch_size, 3, T, args.resolution,
                     args.resolution, generator=gen) * 2).to(device)
    y = torch.randint(0, targs.num_classes, (args.batch_size, ),
                      generator=gen).to(device)
    criterion = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = criterion(model(x).float(), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    return step, model


def dense_macs_per_clip(model, args, device, T):
    """Dense MACs of one forward of one clip (mmsvf.analysis counter)."""
    from mmsvf.analysis import OperationCounter
    clip = torch.randn(1, 3, T, args.resolution, args.resolution,
                       device=device)
    counter = OperationCounter(model.backbone)
    with counter:
        counter.run(clip)
    return sum(r.dense_macs for r in counter.layers.values()) / \
        max(counter.num_clips, 1)


def bench_train(args, device, timer, out, info):
    peak = _peak_tflops(args, info)
    out['peak_tflops'] = peak
    print(f'\n[train] {args.embed_dims or args.arch} at {args.resolution}²,'
          f' T = {args.frames}, batch {args.batch_size}, amp {args.amp} '
          f'(bf16 dense peak: {_fmt(peak, ".0f")} TFLOP/s)', flush=True)
    rows = out.setdefault('rows', [])
    for with_cp in (False, True):
        row = dict(with_cp=with_cp, T=args.frames)

        def measure(_cp=with_cp):
            step, model = _train_step_fn(args, device, _cp, args.frames)
            macs = dense_macs_per_clip(model, args, device, args.frames)
            ms = timer.best_ms(step)
            res = dict(ms=ms, peak_bytes=timer.peak_bytes(step),
                       dense_macs_per_clip=macs)
            res['tflops'] = 6 * macs * args.batch_size / (ms / 1e3) / 1e12
            if peak:
                res['fraction_of_peak'] = res['tflops'] / peak
            return res

        _guard(row, measure)
        rows.append(row)
        frac = row.get('fraction_of_peak')
        verdict = '' if frac is None else (
            f' (target >= {TARGETS["train_fraction_of_peak"]:.0%}: '
            f'{"met" if frac >= TARGETS["train_fraction_of_peak"] else "NOT met"})')  # noqa: E501
        print(f'  with_cp={with_cp!s:<5}: {_fmt(row.get("ms"), ".1f")} ms/'
              f'step, peak {_fmt(_mib(row.get("peak_bytes")), ".0f")} MiB, '
              f'{_fmt(row.get("tflops"), ".1f")} TFLOP/s dense-MAC, '
              f'{_fmt(frac and 100 * frac, ".1f")}% of peak{verdict}' +
              (f'  [{row["error"]}]' if 'error' in row else ''), flush=True)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def bench_max_frames(args, device, timer, out, deadline):
    """Largest T with a train step (batch, with_cp) that fits memory."""
    print(f'\n[max_frames] batch {args.batch_size}, with_cp, amp '
          f'{args.amp}: doubling from T = {args.frames}, then bisection '
          f'(cap {args.max_frames_cap})', flush=True)
    tried = out.setdefault('tried', {})

    def fits(T):
        if time.monotonic() > deadline:
            raise TimeoutError
        try:
            step, model = _train_step_fn(args, device, True, T)
            step()
            timer.sync()
            ok = True
        except torch.cuda.OutOfMemoryError:
            ok = False
        finally:
            step = model = None  # noqa: F841 - free before the next try
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        tried[T] = ok
        print(f'  T={T}: {"fits" if ok else "out of memory"}', flush=True)
        return ok

    lo, hi = None, None
    T = args.frames
    try:
        while T <= args.max_frames_cap:
            if fits(T):
                lo, T = T, T * 2
            else:
                hi = T
                break
        if lo is not None and hi is not None:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if fits(mid):
                    lo = mid
                else:
                    hi = mid
        out['status'] = 'capped' if hi is None else 'found'
    except TimeoutError:
        out['status'] = 'budget exhausted'
    out['max_frames'], out['first_failure'] = lo, hi
    print(f'  largest T that fits: {lo} ({out["status"]}; first failing T: '
          f'{hi})', flush=True)


# ------------------------------------------------------------------ driver
def plan(args):
    """What a run does, as text lines (``--dry-run``)."""
    size = torch.finfo(getattr(torch, args.neuron_dtype)).bits // 8
    lines = [f'benchmark_gpu plan: device {args.device}, budget '
             f'{args.budget:.0f} s, sections {" ".join(args.sections)}']
    if 'neurons' in args.sections:
        for T in args.neuron_steps:
            gib = 5 * T * args.neurons * size / 2**30
            lines.append(f'  neurons T={T}: {args.neurons} neurons/step, '
                         f'{args.neuron_dtype}; LIF backends '
                         f'{" ".join(NEURON_BACKENDS["LIF"])}, IntegerLIF '
                         f'{" ".join(NEURON_BACKENDS["IntegerLIF"])}; '
                         f'{gib:.2f} GiB of fwd+bwd traffic')
    if 'sdha' in args.sections:
        lines.append(f'  sdha: dim {args.sdha_dim}, heads {args.sdha_heads}'
                     f', {args.tokens_hw}² tokens/frame, batch '
                     f'{args.batch_size}, T {args.sdha_steps}')
    if 'train' in args.sections:
        lines.append(f'  train: {args.embed_dims or args.arch} at '
                     f'{args.resolution}², T={args.frames}, batch '
                     f'{args.batch_size}, amp {args.amp}, with_cp off/on')
    if 'max_frames' in args.sections:
        lines.append(f'  max_frames: with_cp, batch {args.batch_size}, '
                     f'T from {args.frames} up to {args.max_frames_cap}')
    return lines


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        text = plan(args)
        print('\n'.join(text))
        return dict(schema=SCHEMA_VERSION, plan=text)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        sys.exit('benchmark_gpu: --device cuda but no CUDA device is '
                 'available (use --dry-run, or --device cpu --quick)')
    import mmsvf  # noqa: F401 - registers the modules
    start = time.monotonic()
    deadline = start + args.budget
    info = _device_info(device)
    results = dict(schema=SCHEMA_VERSION, device=info,
                   torch=torch.__version__, args=vars(args),
                   targets=TARGETS, sections={})
    print(f'benchmark_gpu: {info["name"]}, torch {torch.__version__}',
          flush=True)
    timer = Timer(device, args.repeats, args.warmup)
    runners = dict(
        neurons=lambda o: bench_neurons(args, device, timer, o),
        sdha=lambda o: bench_sdha(args, device, timer, o),
        train=lambda o: bench_train(args, device, timer, o, info),
        max_frames=lambda o: bench_max_frames(args, device, timer, o,
                                              deadline))
    for name in SECTIONS:
        if name not in args.sections:
            continue
        section = results['sections'].setdefault(name, {})
        if time.monotonic() > deadline:
            section['skipped'] = 'budget exhausted'
            print(f'\n[{name}] skipped: --budget {args.budget:.0f} s '
                  'exhausted', flush=True)
            continue
        t0 = time.monotonic()
        _guard(section, lambda _n=name, _s=section: runners[_n](_s) or {})
        section['seconds'] = time.monotonic() - t0
    results['seconds'] = time.monotonic() - start
    print(f'\nbenchmark_gpu: {results["seconds"]:.0f} s in all', flush=True)
    if args.json:
        from mmsvf.utils.fileio import atomic_write
        text = json.dumps(results, indent=1, default=str)
        atomic_write(args.json, lambda f: f.write(text.encode()))
    return results


if __name__ == '__main__':
    main()
