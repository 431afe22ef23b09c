# Copyright (c) mmsvf contributors. All rights reserved.
"""AdaptiveThreadsHook: keeps the thread count whose steps are fastest."""
import pytest
import torch
from torch import nn

from mmsvf.engine.hooks import adaptive_threads_hook as module
from mmsvf.engine.hooks.adaptive_threads_hook import AdaptiveThreadsHook


class FakeRunner:

    def __init__(self, device='cpu'):
        self.model = nn.Linear(2, 2).to(device)
        self.iter = 0


class StepClock:
    """perf_counter whose step time depends on torch's thread count."""

    def __init__(self, seconds_per_step):
        self.seconds_per_step = seconds_per_step  # {threads: seconds}
        self.now = 0.0
        self.started = False

    def __call__(self):
        if self.started:  # the end of a step
            self.now += self.seconds_per_step[torch.get_num_threads()]
        self.started = not self.started
        return self.now


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _train(hook, runner, clock, monkeypatch, iters):
    monkeypatch.setattr(module.time, 'perf_counter', clock)
    used = []
    hook.before_train(runner)
    for i in range(iters):
        hook.before_train_iter(runner, i)
        used.append(torch.get_num_threads())
        hook.after_train_iter(runner, i)
        runner.iter += 1
    return used


def test_keeps_more_threads_when_they_are_faster(monkeypatch):
    torch.set_num_threads(2)
    hook = AdaptiveThreadsHook(warmup=2, window=3, interval=10)
    clock = StepClock({1: 0.40, 2: 0.28})  # idle machine
    used = _train(hook, FakeRunner(), clock, monkeypatch, 70)
    assert hook.active
    # warm-up and the first window on 1 thread, then the challenger's window
    assert used[:5] == [1] * 5
    assert used[5:8] == [2, 2, 2]
    assert used[8:18] == [2] * 10
    assert hook.history[0][1] == pytest.approx({1: 0.40, 2: 0.28})
    assert all(h[2] == 2 for h in hook.history)
    # after the switch the next probe comes after `interval` (10), and the
    # gap doubles each time the choice holds (10, then 20)
    probes = [h[0] for h in hook.history]
    assert probes[:4] == [8, 8 + 10 + 6, 24 + 10 + 6, 40 + 20 + 6]
    assert torch.get_num_threads() == 2


def test_switches_to_one_thread_beside_a_busy_process(monkeypatch):
    torch.set_num_threads(2)
    hook = AdaptiveThreadsHook(warmup=2, window=3, interval=10)
    clock = StepClock({1: 0.6, 2: 5.0})  # spinning threads collapse
    used = _train(hook, FakeRunner(), clock, monkeypatch, 40)
    # 1 thread from the start: 2 threads cost one step per probe only (a
    # step more than twice as slow drops them at once)
    assert used[:5] == [1] * 5 and used[5] == 2
    assert hook.current == 1 and torch.get_num_threads() == 1
    assert len(hook.history) == 2
    assert hook.history[0][1] == pytest.approx({1: 0.6, 2: 5.0})
    assert used.count(2) == len(hook.history)


def test_comes_back_when_the_machine_frees_up(monkeypatch):
    torch.set_num_threads(2)
    hook = AdaptiveThreadsHook(warmup=0, window=2, interval=4)
    busy = StepClock({1: 0.6, 2: 5.0})
    _train(hook, FakeRunner(), busy, monkeypatch, 10)
    assert hook.current == 1
    idle = StepClock({1: 0.4, 2: 0.28})
    runner = FakeRunner()
    monkeypatch.setattr(module.time, 'perf_counter', idle)
    for i in range(30):
        hook.before_train_iter(runner, i)
        hook.after_train_iter(runner, i)
        runner.iter += 1
    assert hook.current == 2 and torch.get_num_threads() == 2


def test_needs_a_margin_to_switch(monkeypatch):
    torch.set_num_threads(2)
    hook = AdaptiveThreadsHook(warmup=0, window=2, interval=4, margin=0.1)
    clock = StepClock({1: 0.28, 2: 0.27})  # 4 % faster: not enough
    _train(hook, FakeRunner(), clock, monkeypatch, 12)
    assert hook.current == 1


@pytest.mark.parametrize('case', ['one_thread', 'disabled', 'not_cpu'])
def test_inactive(case, monkeypatch):
    torch.set_num_threads(1 if case == 'one_thread' else 2)
    hook = AdaptiveThreadsHook(enabled=case != 'disabled')
    runner = FakeRunner('meta' if case == 'not_cpu' else 'cpu')
    clock = StepClock({1: 0.6, 2: 5.0})
    used = _train(hook, runner, clock, monkeypatch, 30)
    assert not hook.active and not hook.history
    assert set(used) == {torch.get_num_threads()}


@pytest.mark.parametrize('kwargs, match', [
    (dict(candidates=()), 'candidates'),
    (dict(candidates=(0, 2)), 'candidates'),
    (dict(window=0), 'window'),
    (dict(interval=2.5), 'interval'),
    (dict(warmup=-1), 'warmup'),
    (dict(margin=1.0), 'margin'),
    (dict(slowdown=1.0), 'slowdown'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptiveThreadsHook(**kwargs)


def test_registered_and_in_the_toy_configs(repo_root):
    from mmengine.config import Config

    from mmsvf.registry import HOOKS
    assert HOOKS.get('AdaptiveThreadsHook') is AdaptiveThreadsHook
    for path in [
            'configs/recognition/spikevideoformer/'
            'spikevideoformer-tiny_1xb8-t8_toy-motion.py',
            'configs/segmentation/spikevideoformer/'
            'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py',
            'configs/pose/spikevideoformer/'
            'spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py'
    ]:
        cfg = Config.fromfile(str(repo_root / path))
        types = [h['type'] for h in cfg.custom_hooks]
        assert 'mmsvf.AdaptiveThreadsHook' in types, path


def test_probes_at_once_when_steps_slow_down(monkeypatch):
    """A busy process starting after the choice: the hook does not wait for
    the next scheduled probe."""
    torch.set_num_threads(2)
    hook = AdaptiveThreadsHook(warmup=0, window=2, interval=1000)
    runner = FakeRunner()
    _train(hook, runner, StepClock({1: 0.4, 2: 0.28}), monkeypatch, 10)
    assert hook.current == 2 and len(hook.history) == 1
    monkeypatch.setattr(module.time, 'perf_counter',
                        StepClock({1: 0.6, 2: 5.0}))
    for i in range(8):
        hook.before_train_iter(runner, i)
        hook.after_train_iter(runner, i)
        runner.iter += 1
    # 2 slow steps noticed, then 2 + 2 timed: switched within 6 steps
    assert len(hook.history) == 2 and hook.current == 1
    assert hook.history[1][0] <= 10 + 6
