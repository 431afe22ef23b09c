# Copyright (c) mmsvf contributors. All rights reserved.
"""Pick torch's CPU thread count from measured training-step times.

Why this exists. On CPU, torch runs its operators on an OpenMP pool
(libgomp in the PyPI wheels) of ``torch.get_num_threads()`` threads, one per
core by default, and the Numba neuron kernels of mmsvf split their work over
the same number of threads. libgomp's idle threads *spin* between parallel
regions (``OMP_WAIT_POLICY`` unset: about 300,000 spins before they sleep).
On an idle machine that is the fastest setting for the many small operators
of a spiking network. As soon as another busy process shares the cores, it
collapses: every spinning thread competes with the thread doing the work, and
at each barrier the team waits for a thread the scheduler has taken off its
core. Measured with ``tools/analysis/benchmark_threads.py`` on 2 cores, the
toy training step went from 0.29 s to 2.5-3 s (10x) beside other jobs, while
one thread took 0.6 s there. Making the threads sleep instead
(``OMP_WAIT_POLICY=PASSIVE``) fixes the contended case but costs 1.9x on an
idle machine (a futex wake-up per parallel region), and a smaller
``GOMP_SPINCOUNT`` was still 2x slower than one thread under load. No fixed
setting is good in both cases, and the environment variables only take
effect before torch is imported.

``torch.set_num_threads`` works at any time, so this hook measures instead of
guessing: it times the training iterations (model step only, data loading
excluded) with the current thread count, then a few with each other
candidate, and keeps the fastest. It probes again later (the machine's load
changes), doubling the distance between probes while the choice holds, so
on a steady machine the probing costs a few iterations in total.

It does nothing when the model is not on the CPU, when only one candidate
exists (one core), or when ``enabled=False``.
"""
import statistics
import time
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmsvf.registry import HOOKS

__all__ = ['AdaptiveThreadsHook']


@HOOKS.register_module()
class AdaptiveThreadsHook(Hook):
    """Choose the CPU intra-op thread count that trains fastest, online.

    Phases (counted in training iterations):

    1. ``warmup`` iterations run on the fewest threads (the safe choice
       beside a busy process) and are not timed (first-call compilation,
       caches).
    2. ``window`` iterations are timed with the current count, then
       ``window`` with each other candidate (a challenger whose first step
       takes twice the current median is dropped at once); the count with
       the lowest median wins (a challenger must be ``margin`` faster to
       replace the current).
    3. After ``interval`` iterations the candidates are timed again; the
       interval doubles each time the choice stays (up to ``max_interval``)
       and returns to ``interval`` when it changes.
    4. Between probes, when the median of the last ``window`` steps is
       ``slowdown`` times the chosen count's measured median (another
       process started, say), the candidates are timed again at once.

    Args:
        candidates (Sequence[int] | None): thread counts to try. Default:
            ``(1, n)`` with ``n`` the thread count at the start of training
            (torch's default is the number of cores).
        warmup (int): untimed iterations at the start. Defaults to 5.
        window (int): timed iterations per candidate and probe.
            Defaults to 3.
        interval (int): iterations between the first two probes.
            Defaults to 50.
        max_interval (int): the longest distance between probes.
            Defaults to 800.
        margin (float): relative speed-up a challenger needs.
            Defaults to 0.1.
        slowdown (float): step-time ratio that triggers an early probe.
            Defaults to 2.0.
        enabled (bool): switch the hook off. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 candidates: Optional[Sequence[int]] = None,
                 warmup: int = 5,
                 window: int = 3,
                 interval: int = 50,
                 max_interval: int = 800,
                 margin: float = 0.1,
                 slowdown: float = 2.0,
                 enabled: bool = True) -> None:
        if candidates is not None:
            candidates = tuple(int(c) for c in candidates)
            if not candidates or min(candidates) < 1:
                raise ValueError('AdaptiveThreadsHook candidates must be '
                                 f'positive thread counts, got {candidates}')
        for name, value in (('warmup', warmup), ('window', window),
                            ('interval', interval),
                            ('max_interval', max_interval)):
            least = 0 if name == 'warmup' else 1
            if int(value) != value or value < least:
                raise ValueError(f'AdaptiveThreadsHook {name} must be an '
                                 f'integer >= {least}, got {value!r}')
        if not 0 <= margin < 1:
            raise ValueError(
                f'AdaptiveThreadsHook margin must be in [0, 1), got {margin}')
        if not slowdown > 1:
            raise ValueError(
                f'AdaptiveThreadsHook slowdown must be > 1, got {slowdown}')
        self.candidates = candidates
        self.warmup = int(warmup)
        self.window = int(window)
        self.interval = int(interval)
        self.max_interval = int(max_interval)
        self.margin = float(margin)
        self.slowdown = float(slowdown)
        self.enabled = enabled
        self.active = False
        self.history = []  # (iteration, {threads: median seconds}, chosen)

    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        model = runner.model
        params = list(model.parameters())
        on_cpu = bool(params) and all(p.device.type == 'cpu' for p in params)
        start = torch.get_num_threads()
        candidates = self.candidates or tuple(sorted({1, start}))
        self.active = self.enabled and on_cpu and len(candidates) > 1
        if not self.active:
            return
        # start on the fewest threads: on an idle machine that costs the
        # warm-up a few tens of ms per step, beside a busy process the most
        # threads can cost seconds per step
        self.current = min(candidates)
        torch.set_num_threads(self.current)
        self._candidates = candidates
        self._seen = 0
        self._next_probe = self.warmup
        self._gap = self.interval
        self._queue = []  # candidates still to time in this probe
        self._times = {}
        self._timing = None  # candidate being timed
        self._t0 = None
        self._recent = []  # step times between probes
        self._reference = None  # measured median of the chosen count
        print_log(
            f'AdaptiveThreadsHook: timing the training step with '
            f'{", ".join(map(str, candidates))} CPU threads (starting with '
            f'{self.current}); it keeps the fastest.', logger='current')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not self.active:
            return
        if self._timing is None and not self._queue and \
                self._seen >= self._next_probe:
            # current first, then the others
            self._queue = [self.current] + [
                c for c in self._candidates if c != self.current]
            self._times = {}
        if self._timing is None and self._queue:
            self._timing = self._queue.pop(0)
            self._samples = []
            torch.set_num_threads(self._timing)
        self._t0 = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.active or self._t0 is None:
            return
        elapsed = time.perf_counter() - self._t0
        self._t0 = None
        self._seen += 1
        if self._timing is None:
            self._watch(elapsed)
            return
        self._samples.append(elapsed)
        baseline = self._times.get(self.current)
        clearly_slower = baseline is not None and \
            self._timing != self.current and elapsed > 2 * baseline
        # one step twice as slow as the current count settles it (a bad
        # count beside a busy process costs 5-10x per step)
        if len(self._samples) < self.window and not clearly_slower:
            return
        self._times[self._timing] = statistics.median(self._samples)
        self._timing = None
        if self._queue:
            return
        self._decide(runner)

    def _watch(self, elapsed: float) -> None:
        """Probe early when steps became ``slowdown`` times slower."""
        if self._reference is None:
            return
        self._recent = (self._recent + [elapsed])[-self.window:]
        if len(self._recent) == self.window and statistics.median(
                self._recent) > self.slowdown * self._reference:
            self._next_probe = self._seen
            self._gap = self.interval
            self._recent = []

    def _decide(self, runner) -> None:
        best = min(self._times, key=self._times.get)
        changed = best != self.current and \
            self._times[best] < (1 - self.margin) * self._times[self.current]
        if changed:
            self.current = best
            self._gap = self.interval
        gap = self._gap
        self._next_probe = self._seen + gap
        if not changed:  # the choice held: probe less often
            self._gap = min(self._gap * 2, self.max_interval)
        torch.set_num_threads(self.current)
        self._reference = self._times[self.current]
        self._recent = []
        self.history.append((runner.iter + 1, dict(self._times),
                             self.current))
        timings = ', '.join(f'{c} thread{"s" if c > 1 else ""} '
                            f'{t:.3f} s' for c, t in sorted(
                                self._times.items()))
        print_log(
            f'AdaptiveThreadsHook: median step time {timings} -> using '
            f'{self.current}; next check in {gap} iterations.',
            logger='current')
