# Copyright (c) mmsvf contributors. All rights reserved.
"""A progress bar over the validation / test loops."""
import sys
from typing import Optional, Sequence

from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from mmsvf.registry import HOOKS

__all__ = ['ProgressBarHook']


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show an :class:`mmengine.utils.ProgressBar` (samples done, samples/s,
    ETA) while the test (and optionally validation) loop runs.

    MMEngine 0.10.7 logs only every ``LoggerHook.interval`` iterations in
    these loops; this hook adds a live bar on the main process. It counts
    samples: ``len(dataset)`` in total, ``batch size x world size`` per
    iteration.

    Args:
        test (bool): Show the bar in the test loop. Defaults to True.
        val (bool): Show the bar in the validation loop. Defaults to False.
        bar_width (int): Width of the bar in characters. Defaults to 40.
        stream (str): ``'stdout'`` or ``'stderr'``. Defaults to ``'stdout'``.
    """

    priority = 'VERY_LOW'

    def __init__(self, test: bool = True, val: bool = False,
                 bar_width: int = 40, stream: str = 'stdout') -> None:
        if stream not in ('stdout', 'stderr'):
            raise ValueError(
                f"ProgressBarHook stream must be 'stdout' or 'stderr', "
                f'got {stream!r}')
        self.test = test
        self.val = val
        self.bar_width = bar_width
        self.stream = stream
        self._bar: Optional[ProgressBar] = None
        self._total = 0

    def _start(self, dataloader) -> None:
        if not is_main_process():
            self._bar = None
            return
        self._total = len(dataloader.dataset)
        self._bar = ProgressBar(self._total, self.bar_width,
                                file=getattr(sys, self.stream))

    def _update(self, outputs: Optional[Sequence]) -> None:
        if self._bar is None:
            return
        step = (len(outputs) if outputs is not None else 1) * get_world_size()
        step = min(step, self._total - self._bar.completed)
        if step > 0:
            self._bar.update(step)
        if self._bar.completed >= self._total:
            # end the line before the epoch's metrics are logged
            self._finish()

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.file.write('\n')
            self._bar.file.flush()
        self._bar = None

    def before_test_epoch(self, runner) -> None:
        if self.test:
            self._start(runner.test_dataloader)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        if self.test:
            self._update(outputs)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.test:
            self._finish()

    def before_val_epoch(self, runner) -> None:
        if self.val:
            self._start(runner.val_dataloader)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        if self.val:
            self._update(outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.val:
            self._finish()
