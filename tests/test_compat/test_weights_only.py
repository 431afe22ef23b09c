# Copyright (c) mmsvf contributors. All rights reserved.
"""torch >= 2.6 ``weights_only`` vs mmengine 0.10.7 checkpoints: detection,
real mmengine checkpoints load and resume, code-running pickles do not."""
import inspect
import os
import pickle
import time

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn

from mmsvf.compat import weights_only
from mmsvf.utils.checkpoint import UnsafeCheckpointError


def test_probe(monkeypatch):
    from mmengine.runner import checkpoint

    def load_from_local(filename, map_location):
        return torch.load(filename, map_location=map_location,
                          weights_only=False)

    assert 'weights_only' in inspect.getsource(load_from_local)
    monkeypatch.setattr(checkpoint, 'load_from_local', load_from_local)
    assert weights_only.needed() is False
    monkeypatch.undo()
    assert weights_only.needed() is True  # the pinned stack
    monkeypatch.setattr(weights_only, 'torch_version', lambda: (2, 5))
    assert weights_only.needed() is False


def test_torch_version_is_major_minor():
    major, minor = weights_only.torch_version()
    assert torch.__version__.startswith(f'{major}.{minor}')


def test_mmengine_loader_is_wrapped():
    from mmengine.runner.checkpoint import CheckpointLoader
    loader = CheckpointLoader._schemes['']
    assert loader.__mmsvf_wrapped__
    # applying again changes nothing (the wrapper is not wrapped twice)
    weights_only.apply()
    assert CheckpointLoader._schemes[''] is loader


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(torch.stack(list(inputs)))
        if mode == 'loss':
            return dict(loss=(out - torch.stack(list(data_samples))).pow(2)
                        .mean())
        return out


class _CountIters(Hook):
    """Counts the iterations a Runner actually runs."""

    def __init__(self):
        self.iters = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.iters += 1


def _runner(work_dir, max_iters, resume=False, custom_hooks=None):
    from mmengine.runner import Runner
    data = [(torch.randn(3), torch.randn(1)) for _ in range(8)]
    return Runner(
        model=_TinyModel(),
        work_dir=str(work_dir),
        experiment_name=f'compat_{time.time_ns()}',
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                 end=2),
            dict(type='MultiStepLR', milestones=[1, 2], by_epoch=False)
        ],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=custom_hooks,
        resume=resume,
        default_scope='mmengine')


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory):
    """A checkpoint written by a real mmengine Runner (2 iterations)."""
    work_dir = tmp_path_factory.mktemp('compat_runner')
    runner = _runner(work_dir, max_iters=2)
    runner.train()
    ckpt = work_dir / 'iter_2.pth'
    assert ckpt.is_file()
    return work_dir, ckpt


def test_runner_checkpoint_loads_with_weights_only(runner_checkpoint):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner import load_checkpoint
    _, ckpt = runner_checkpoint
    # torch's default is weights_only=True and it stays so
    loaded = torch.load(ckpt)
    assert loaded['meta']['iter'] == 2
    buffers = loaded['message_hub']['log_scalars']
    assert any(isinstance(v, HistoryBuffer) for v in buffers.values())
    model = _TinyModel()
    load_checkpoint(model, str(ckpt), map_location='cpu')
    torch.testing.assert_close(model.fc.weight,
                               loaded['state_dict']['fc.weight'])
    # the optimizer state (SGD momentum) and schedulers are in there too
    assert loaded['optimizer']['state']
    assert len(loaded['param_schedulers']) == 2


def test_runner_resumes_from_checkpoint(runner_checkpoint):
    work_dir, _ = runner_checkpoint
    counter = _CountIters()
    runner = _runner(work_dir, max_iters=3, resume=True,
                     custom_hooks=[counter])
    runner.train()
    # resumed at iteration 2: only one more iteration ran
    assert counter.iters == 1
    assert runner.iter == 3


class _Evil:
    """Unpickling this object creates a file (a harmless side effect)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, 'w')


def test_code_running_pickle_is_refused(tmp_path):
    from mmengine.runner import CheckpointLoader, load_checkpoint
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(1, 3)},
                'payload': _Evil(marker)}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(_TinyModel(), str(path))
    with pytest.raises(UnsafeCheckpointError, match='--unsafe-load'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()
    # the payload is live: an unsafe load does run it (so the checks above
    # would notice a loader that executed it)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_safe_globals_are_narrow():
    from mmengine.logging import HistoryBuffer

    from mmsvf.utils.checkpoint import mmengine_safe_globals
    registered = torch.serialization.get_safe_globals()
    for obj in mmengine_safe_globals():
        assert obj in registered, obj
    assert HistoryBuffer in registered
    for unsafe in (open, os.system, getattr, eval, exec):
        assert unsafe not in registered


class _Fetch:
    """Unpickles as ``getattr(obj, name)``."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


def test_pickled_getattr_only_reaches_history_buffer_methods(tmp_path):
    from mmengine.logging import HistoryBuffer
    path = tmp_path / 'fetch.pth'
    torch.save({'m': _Fetch(HistoryBuffer, 'mean')}, path)
    assert torch.load(path)['m'] is HistoryBuffer.mean
    for obj, name in ((HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                      (np.ndarray, 'tofile'), (HistoryBuffer, '__dict__')):
        torch.save({'m': _Fetch(obj, name)}, path)
        with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
            torch.load(path)


def test_numpy_checkpoint_values_roundtrip(tmp_path):
    """numpy arrays/scalars (as mmengine logs them) load with weights_only."""
    path = tmp_path / 'np.pth'
    torch.save({'a': np.arange(3, dtype=np.float32), 'b': np.float64(2.5),
                'c': np.int64(7)}, path)
    out = torch.load(path)
    np.testing.assert_array_equal(out['a'], np.arange(3, dtype=np.float32))
    assert out['b'] == 2.5 and out['c'] == 7
