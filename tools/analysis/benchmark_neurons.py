# Copyright (c) mmsvf contributors. All rights reserved.
"""Benchmark multi-step LIF forward + backward against a memory-bound floor.

For each number of time steps T, on ``[T, N]`` float inputs (``N`` =
``--neurons``), times one forward + backward pass of the LIF neuron
(SpikingJelly ``MultiStepLIFNode`` defaults, as in Meta-SpikeFormer and
SpikeVideoFormer: tau 2, hard reset to 0, sigmoid surrogate) with each
backend:

* ``reference`` — the naive per-step loop recorded by autograd;
* ``torch`` — the fused eager scans (custom autograd function);
* ``auto`` — the default path (the Numba kernels for CPU float32/64);
* optionally ``numba`` or ``inductor`` (``--backends``; compile time is spent
  in the warm-up).

and two yardsticks:

* ``floor`` — the memory-bound floor: one elementwise pass over the same
  ``[T, N]`` tensor (``torch.mul(x, 2.0, out=preallocated)``);
* ``traffic`` — the memory traffic that any forward + backward must do, with
  no arithmetic: forward reads ``X`` and writes ``S``, backward reads the
  saved ``[T, N]`` tensor and ``dL/dS`` and writes ``dL/dX`` (two elementwise
  torch ops into preallocated outputs). No implementation can beat it, so
  ``traffic / floor`` bounds what ``default / floor`` can reach.

The default path's page faults per call (``getrusage`` minor faults; fresh
output tensors, see docs/speed_and_memory.md) are printed too. Times are the
best of
``--repeats`` rounds after ``--warmup`` rounds; each round runs every entry
once, round-robin (the floor five times), so bursts of load from other
processes hit all columns alike, and the minimum is the least disturbed
measurement on a shared machine. Prints a table in ms and,
per T, ``default vs naive: X.Xx`` (naive time / default time) and
``default / floor: X.Xx``.

Examples::

    python tools/analysis/benchmark_neurons.py
    python tools/analysis/benchmark_neurons.py --neurons 262144 --steps 8 32
    python tools/analysis/benchmark_neurons.py --backends reference auto \\
        inductor --repeats 5
    python tools/analysis/benchmark_neurons.py --quick   # seconds, for CI
"""
import argparse
import statistics
import time

import torch

from mmsvf.models.neurons import lif_multistep, neuron_backend

NAIVE, DEFAULT = 'reference', 'auto'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time multi-step LIF forward+backward per backend.')
    parser.add_argument('--neurons', type=int, default=65536,
                        help='neurons N per time step (default 65536)')
    parser.add_argument('--steps', type=int, nargs='+',
                        default=[4, 8, 16, 32],
                        help='time steps T to run (default 4 8 16 32)')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed runs per entry; the best is reported')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed runs first (compilation, caches)')
    parser.add_argument('--backends', nargs='+',
                        default=[NAIVE, 'torch', DEFAULT],
                        choices=['reference', 'torch', 'auto', 'numba',
                                 'inductor'],
                        help='backends to time (default: reference torch '
                        'auto)')
    parser.add_argument('--dtype', default='float32',
                        choices=['float32', 'float64', 'bfloat16'])
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (also the Numba kernels)')
    parser.add_argument('--timer', default='wall', choices=['wall', 'cpu'],
                        help='wall: time.perf_counter (default); cpu: '
                        'time.process_time, CPU time of all threads, less '
                        'disturbed by other processes (most useful with '
                        '--threads 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes, 2 repeats: checks that it runs')
    args = parser.parse_args(argv)
    if args.quick:
        args.neurons, args.steps = 2048, [2, 4]
        args.repeats, args.warmup = 2, 1
    for name in (NAIVE, DEFAULT):  # the ratios need both
        if name not in args.backends:
            args.backends.append(name)
    return args


def best_times(fns, repeats, warmup, tries=None, clock=time.perf_counter):
    """Best wall time (ms) of each ``fns[name]()``, timed round-robin.

    Every round runs each function once (``tries[name]`` times for short
    ones), so a burst of load from other processes hits all of them alike
    instead of spoiling one column.
    """
    tries = tries or {}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    best = {name: float('inf') for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(tries.get(name, 1)):
                start = clock()
                fn()
                best[name] = min(best[name], clock() - start)
    return {name: t * 1e3 for name, t in best.items()}


def lif_step(x, grad, backend):
    """A closure running one LIF forward + backward on the leaf ``x``."""

    def run():
        x.grad = None
        lif_multistep(x, backend=backend).backward(grad)

    return run


def floor_step(x):
    """One elementwise pass over ``x`` into a preallocated output."""
    out = torch.empty_like(x)
    return lambda: torch.mul(x, 2.0, out=out)


def traffic_step(x, grad):
    """The memory traffic of a forward + backward, into preallocated outputs:
    read X, write S; read X (saved) and dL/dS, write dL/dX."""
    spikes, grad_x = torch.empty_like(x), torch.empty_like(x)

    def run():
        torch.mul(x, 2.0, out=spikes)
        torch.add(x, grad, out=grad_x)

    return run


def page_faults_per_call(fn, calls=5):
    """Median minor page faults of one ``fn()`` call (None off Linux/Unix)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    counts = []
    for _ in range(calls):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        fn()
        counts.append(
            resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return int(statistics.median(counts))


def benchmark(args):
    """Time every backend and the floor for each T.

    Returns:
        list[dict]: one row per T: ``T``, ``<backend>`` ms, ``floor`` ms.
    """
    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(args.seed)
    rows = []
    for T in args.steps:
        # mean drive near threshold: ~30 % of the neurons fire per step
        x = (torch.randn(T, args.neurons, generator=gen) * 1.5 + 1.0).to(
            dtype).requires_grad_()
        grad = torch.randn(T, args.neurons, generator=gen).to(dtype)
        fns = {b: lif_step(x, grad, b) for b in args.backends}
        fns['floor'] = floor_step(x.detach())
        fns['traffic'] = traffic_step(x.detach(), grad)
        # the floor is short: several tries per round
        clock = time.process_time if args.timer == 'cpu' else \
            time.perf_counter
        row = dict(T=T, **best_times(fns, args.repeats, args.warmup,
                                     tries={'floor': 5}, clock=clock))
        row['faults'] = page_faults_per_call(fns[DEFAULT])
        rows.append(row)
    return rows


def format_report(args, rows):
    """The table and the per-T ratio lines, as text."""
    resolved = neuron_backend(DEFAULT, 'cpu', getattr(torch, args.dtype))
    cols = list(args.backends) + ['floor', 'traffic']
    lines = [
        f'LIF forward+backward, N = {args.neurons} neurons, {args.dtype}, '
        f'{torch.get_num_threads()} threads, best of {args.repeats} '
        f'({args.timer} ms; "{DEFAULT}" runs "{resolved}")',
        '{:>4}'.format('T') + ''.join(f'{c:>12}' for c in cols) +
        '{:>18}{:>17}'.format('default vs naive', 'default / floor')
    ]
    for row in rows:
        speedup = row[NAIVE] / row[DEFAULT]
        over_floor = row[DEFAULT] / row['floor']
        lines.append(f'{row["T"]:>4}' +
                     ''.join(f'{row[c]:>12.3f}' for c in cols) +
                     f'{speedup:>17.1f}x{over_floor:>16.1f}x')
    lines.append('')
    for row in rows:
        faults = '' if row.get('faults') is None else \
            f', page faults per default call: {row["faults"]}'
        lines.append(f'T = {row["T"]:>2}: default vs naive: '
                     f'{row[NAIVE] / row[DEFAULT]:.1f}x, default / floor: '
                     f'{row[DEFAULT] / row["floor"]:.1f}x (memory traffic '
                     f'alone: {row["traffic"] / row["floor"]:.1f}x; default '
                     f'/ traffic: {row[DEFAULT] / row["traffic"]:.1f}x)'
                     f'{faults}')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = benchmark(args)
    print(format_report(args, rows))
    return rows


if __name__ == '__main__':
    main()
