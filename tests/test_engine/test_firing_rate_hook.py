# Copyright (c) mmsvf contributors. All rights reserved.
"""FiringRateHook: per-stage mean firing rates in real val / test loops."""
import time

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch import nn

from mmsvf.engine.hooks import FiringRateHook, neuron_stages
from mmsvf.models.neurons import LIF, IntegerLIF
from mmsvf.registry import HOOKS


class _Staged(nn.Module):
    """Two stages (``stage_modules`` as in SpikeVideoFormer): stage 0 a LIF,
    stage 1 an IntegerLIF (D = 4) that passes integer inputs 0..4."""

    def __init__(self, normalize=False):
        super().__init__()
        self.lif = LIF()
        self.ilif = IntegerLIF(max_level=4, normalize=normalize,
                               stateful=False)

    def stage_modules(self, i):
        return [[self.lif], [self.ilif]][i]


class _ToyModel(BaseModel):
    """Sample ``x`` = (a, b): a → stage-0 LIF, b → stage-1 IntegerLIF, and
    ``a`` again → a head LIF outside the stages."""

    def __init__(self, normalize=False):
        super().__init__()
        self.backbone = _Staged(normalize)
        self.head = nn.Sequential(LIF())

    def forward(self, inputs, data_samples=None, mode='tensor'):
        a = torch.stack([x[0] for x in inputs])[None]  # [T=1, B, 8]
        b = torch.stack([x[1] for x in inputs])[None]
        out = self.backbone.lif(a).sum() + self.backbone.ilif(b).sum() + \
            self.head(a).sum()
        return [dict(out=out)] * len(inputs)


class _NullMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return dict(dummy=1.0)


def _samples():
    """4 samples. a: value 4 fires a LIF (H = 0.5·4 = 2 ≥ 1), 0 does not —
    8 of 32 ones in total (rate 0.25). b: integers summing to 30 over 32
    elements (I-LIF rate = mean integer value 0.9375)."""
    a = torch.zeros(4, 8)
    a[0, :3] = 4.0
    a[1, 2:5] = 4.0
    a[3, 6:8] = 4.0
    b = torch.zeros(4, 8)
    b[0, :4] = torch.tensor([4., 3., 2., 1.])
    b[2, :5] = torch.tensor([4., 4., 4., 4., 4.])
    assert a.eq(4).sum() == 8 and b.sum() == 30
    return [dict(inputs=torch.stack([a[i], b[i]])) for i in range(4)]


def _runner(work_dir, hook, normalize=False, tensorboard=False):
    from mmengine.runner import Runner
    loader = dict(dataset=_samples(),
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='pseudo_collate'), batch_size=3)
    backends = [dict(type='TensorboardVisBackend')] if tensorboard else []
    return Runner(
        model=_ToyModel(normalize),
        work_dir=str(work_dir),
        experiment_name=f'firing_rate_{time.time_ns()}',
        val_dataloader=loader, val_cfg=dict(),
        val_evaluator=[_NullMetric()],
        test_dataloader=loader, test_cfg=dict(),
        test_evaluator=[_NullMetric()],
        visualizer=dict(type='Visualizer', vis_backends=backends),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[hook],
        default_scope='mmengine')


def test_neuron_stages_groups_by_stage_modules():
    model = _ToyModel()
    groups = neuron_stages(model)
    assert list(groups) == ['stage0', 'stage1', 'head']
    assert groups['stage0'] == [model.backbone.lif]
    assert groups['stage1'] == [model.backbone.ilif]


def test_neuron_stages_of_the_backbone():
    from mmsvf.models.backbones import SpikeVideoFormer
    model = SpikeVideoFormer(embed_dims=[16, 32, 64, 72], depths=(1, 1))
    groups = neuron_stages(model)
    assert list(groups) == ['stage0', 'stage1', 'stage2', 'stage3']
    neurons = [m for m in model.modules() if hasattr(m, 'is_integer')]
    assert sum(map(len, groups.values())) == len(neurons)
    # the attention neurons of block3 / block4 are in the last stage
    assert any(m is model.block4[0].attn.q_lif for m in groups['stage3'])
    assert any(m is model.block3[0].attn.attn_lif for m in groups['stage3'])


@pytest.mark.parametrize('normalize', [False, True])
def test_hook_logs_rates_in_val_and_test(tmp_path, normalize):
    hook = FiringRateHook()
    runner = _runner(tmp_path, hook, normalize=normalize, tensorboard=True)
    runner.val()
    expected = dict(stage0=8 / 32, stage1=30 / 32, head=8 / 32,
                    all=(8 + 30 + 8) / 96)
    assert hook.last_rates == pytest.approx(expected)
    hub = runner.message_hub
    for key, value in expected.items():
        assert hub.get_scalar(f'val/firing_rate/{key}').current() == \
            pytest.approx(value)
    log = next(tmp_path.rglob('*.log')).read_text()
    assert 'Mean firing rate (val): stage0 0.2500  stage1 0.9375' in log
    # LoggerHook prints them with the metrics and sends them to TensorBoard
    assert 'firing_rate/stage1: 0.9375' in log

    runner.test()
    assert hook.last_rates == pytest.approx(expected)
    assert hub.get_scalar('test/firing_rate/all').current() == \
        pytest.approx(46 / 96)
    assert 'Mean firing rate (test)' in next(
        tmp_path.rglob('*.log')).read_text()
    # the forward hooks are removed after each loop
    assert not hook._handles
    assert not runner.model.backbone.lif._forward_hooks

    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    scalars = {}
    for events in tmp_path.rglob('*tfevents*'):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()['scalars']:
            scalars[tag] = acc.Scalars(tag)[-1].value
    # val scalars as LoggerHook writes them (like the metric 'dummy'), test
    # scalars written by the hook
    assert scalars['dummy'] == 1.0
    assert scalars['firing_rate/stage1'] == pytest.approx(0.9375)
    assert scalars['firing_rate/head'] == pytest.approx(0.25)
    assert scalars['test/firing_rate/stage0'] == pytest.approx(0.25)
    assert scalars['test/firing_rate/all'] == pytest.approx(46 / 96)


def test_hook_switches_and_no_neuron(tmp_path):
    hook = FiringRateHook(val=False, test=True)
    runner = _runner(tmp_path, hook)
    runner.val()
    assert hook.last_rates is None
    assert 'val/firing_rate/all' not in runner.message_hub.log_scalars
    with pytest.raises(ValueError, match='prefix'):
        FiringRateHook(prefix='')
    # registered in mmsvf (and reachable from any scope as mmsvf.*)
    assert HOOKS.get('FiringRateHook') is FiringRateHook
    from mmengine.registry import HOOKS as ENGINE_HOOKS
    built = ENGINE_HOOKS.build(dict(type='mmsvf.FiringRateHook', val=False))
    assert isinstance(built, FiringRateHook) and not built.val


def test_hook_warns_without_neurons(tmp_path):
    hook = FiringRateHook()
    runner = _runner(tmp_path, hook)
    runner.model.backbone = nn.Identity()
    runner.model.head = nn.Identity()
    runner.model.forward = lambda inputs, data_samples=None, mode='t': [
        dict()] * len(inputs)
    runner.val()
    assert hook.last_rates is None
    log = next(tmp_path.rglob('*.log')).read_text()
    assert 'no mmsvf spiking neuron' in log


@pytest.mark.parametrize('neuron', [
    dict(type='LIF'),
    dict(type='IntegerLIF', max_level=3, stateful=False),
    dict(type='IntegerLIF', max_level=3, normalize=True, stateful=False)
], ids=['lif', 'ilif', 'ilif-normalized'])
def test_hook_and_counter_share_the_firing_rate(neuron):
    """One definition (mmsvf.analysis.spikes): the hook's rate of a neuron
    equals the counter's input rate of the layer it feeds."""
    from types import SimpleNamespace

    from mmsvf.analysis import OperationCounter, firing_rate
    from mmsvf.models.neurons import build_neuron
    model = nn.Sequential(build_neuron(neuron), nn.Linear(6, 2))
    x = torch.linspace(-1, 8, 24).view(2, 2, 6)  # [T, B, 6]
    hook = FiringRateHook()
    hook._start(SimpleNamespace(model=model, logger=None))
    counter = OperationCounter(model)
    with counter:
        counter.run(x, num_clips=2)
    rates = hook._rates()
    hook._remove()
    expected = firing_rate(model[0](x))
    assert rates == dict(model=expected, all=expected)
    assert counter.records()[0].firing_rate == expected
    assert expected > (1 if neuron.get('max_level') else 0.1)
