# Copyright (c) mmsvf contributors. All rights reserved.
"""Per-stage mean firing rates in the validation / test loops."""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmsvf.analysis.spikes import spike_activity
from mmsvf.models.neurons import SpikeFormat, SpikingNeuron
from mmsvf.registry import HOOKS

__all__ = ['FiringRateHook', 'neuron_stages']


def neuron_stages(model: nn.Module) -> 'OrderedDict[str, List[nn.Module]]':
    """Group the spiking neurons of ``model`` into stages.

    Neurons inside a sub-module that defines ``stage_modules(i)`` (the
    SpikeVideoFormer backbones: stages 0..3 as in ``out_indices``) go to
    ``'stage0'`` .. ``'stage3'``; every other neuron to a group named after
    the first component of its module path (``'cls_head'``, ``'neck'`` ...;
    ``'model'`` for neurons directly on the root).

    Args:
        model (nn.Module): the (unwrapped) model.

    Returns:
        OrderedDict[str, list[nn.Module]]: group name → neurons, stages
        first, in execution-independent module order.
    """
    stage_of: Dict[int, str] = {}
    for module in model.modules():
        stage_fn = getattr(module, 'stage_modules', None)
        if not callable(stage_fn):
            continue
        for index in range(64):
            try:
                parts = stage_fn(index)
            except (IndexError, KeyError):
                break
            for part in parts:
                for sub in part.modules():
                    if isinstance(sub, SpikingNeuron):
                        stage_of.setdefault(id(sub), f'stage{index}')
    groups: 'OrderedDict[str, List[nn.Module]]' = OrderedDict()
    others: 'OrderedDict[str, List[nn.Module]]' = OrderedDict()
    for name, module in model.named_modules():
        if not isinstance(module, SpikingNeuron):
            continue
        if id(module) in stage_of:
            groups.setdefault(stage_of[id(module)], []).append(module)
        else:
            key = name.split('.')[0] if '.' in name else 'model'
            others.setdefault(key, []).append(module)
    ordered = OrderedDict(
        sorted(groups.items(), key=lambda kv: int(kv[0][5:])))
    ordered.update(others)
    return ordered


@HOOKS.register_module()
class FiringRateHook(Hook):
    """Log per-stage mean firing rates of the spiking neurons in val / test.

    During the validation and/or test loop, forward hooks on every mmsvf
    neuron (``LIF``, ``IntegerLIF``) accumulate the activity of its output
    and the number of elements; after the loop the mean firing rate of each
    stage (see :func:`neuron_stages`) and of the whole network
    (``<prefix>/all``) is

    * written to the log (one line), and
    * put into the message hub as ``val/<prefix>/stage0`` ... (``test/...``),
      so that ``LoggerHook`` prints it with the metrics and sends it, with
      the val metrics, to every visualizer backend (TensorBoard when a
      ``TensorboardVisBackend`` is configured); after the test loop the hook
      itself sends the rates to the visualizer (``LoggerHook`` does not for
      test metrics).

    Firing rate: the definition of :mod:`mmsvf.analysis.spikes`, shared
    with the energy tools — ``Σ activity / Σ elements`` over every output
    element of the group's neurons (time steps, clips, channels, positions),
    the activity of each output computed by
    :func:`~mmsvf.analysis.spikes.spike_activity` for the format the neuron
    declares (``output_format``): the number of ones for binary spikes, the
    sum of the integers ``s`` in ``{0..D}`` for IntegerLIF (the mean integer
    value, i.e. the binary rate over the D virtual sub-steps times D), and
    ``Σ round(x·D)`` for a normalised IntegerLIF output ``x = s/D``.
    Activities and element counts are summed over all processes
    (``all_reduce``) before division. The sums stay on the model's device;
    the hook makes no CUDA call of its own, so it runs on CPU.

    Args:
        val (bool): record in the validation loop. Defaults to True.
        test (bool): record in the test loop. Defaults to True.
        prefix (str): scalar name prefix. Defaults to ``'firing_rate'``.

    Example::

        custom_hooks = [dict(type='mmsvf.FiringRateHook')]
    """

    priority = 'NORMAL'  # after RuntimeInfoHook, before LoggerHook

    def __init__(self, val: bool = True, test: bool = True,
                 prefix: str = 'firing_rate') -> None:
        if not isinstance(prefix, str) or not prefix or not re.fullmatch(
                r'[\w./-]+', prefix):
            raise ValueError('FiringRateHook prefix must be a non-empty name '
                             f'of letters, digits, _ . / -, got {prefix!r}')
        self.val = bool(val)
        self.test = bool(test)
        self.prefix = prefix.strip('/')
        self._handles: list = []
        self._sums: 'OrderedDict[str, List]' = OrderedDict()
        self.last_rates: Optional[Dict[str, float]] = None

    # -- recording -----------------------------------------------------------
    def _make_hook(self, group: str, fmt: SpikeFormat):
        def hook(module, args, output):
            if not isinstance(output, torch.Tensor):
                return
            acc = self._sums[group]
            activity = spike_activity(output, fmt)
            acc[0] = activity if acc[0] is None else acc[0] + activity
            acc[1] += output.numel()
        return hook

    def _start(self, runner) -> None:
        self._remove()
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        groups = neuron_stages(model)
        self._sums = OrderedDict((g, [None, 0]) for g in groups)
        for group, neurons in groups.items():
            for neuron in neurons:
                self._handles.append(neuron.register_forward_hook(
                    self._make_hook(group, neuron.output_format)))
        if not groups:
            runner.logger.warning(
                'FiringRateHook: the model has no mmsvf spiking neuron '
                '(LIF / IntegerLIF); no firing rate is recorded')

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _rates(self) -> Dict[str, float]:
        """All-reduced per-group and overall mean rates."""
        rates: Dict[str, float] = OrderedDict()
        total: Tuple[float, float] = (0.0, 0.0)
        for group, (activity, numel) in self._sums.items():
            stats = torch.tensor(
                [0.0 if activity is None else float(activity), float(numel)],
                dtype=torch.float64)
            all_reduce(stats)
            act, num = float(stats[0]), float(stats[1])
            if num > 0:
                rates[group] = act / num
                total = (total[0] + act, total[1] + num)
        if total[1] > 0:
            rates['all'] = total[0] / total[1]
        return rates

    def _finish(self, runner, mode: str) -> None:
        self._remove()
        if not self._sums:
            return
        rates = self._rates()
        self._sums = OrderedDict()
        self.last_rates = dict(rates)
        if not rates:
            return
        scalars = OrderedDict(
            (f'{mode}/{self.prefix}/{k}', v) for k, v in rates.items())
        for key, value in scalars.items():
            runner.message_hub.update_scalar(key, value)
        runner.logger.info(
            f'Mean firing rate ({mode}): ' + '  '.join(
                f'{k} {v:.4f}' for k, v in rates.items()))
        if mode == 'test':
            runner.visualizer.add_scalars(dict(scalars), step=0)

    # -- hook points ---------------------------------------------------------
    def before_val_epoch(self, runner) -> None:
        if self.val:
            self._start(runner)

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if self.val:
            self._finish(runner, 'val')

    def before_test_epoch(self, runner) -> None:
        if self.test:
            self._start(runner)

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        if self.test:
            self._finish(runner, 'test')
