# Copyright (c) mmsvf contributors. All rights reserved.
"""Tests of :mod:`mmsvf.compat`: each upstream defect is handled on the pinned
stack, and each probe says "not needed" (so nothing is patched) when its
defect is absent."""
import importlib.metadata
import inspect
import os
import pickle
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn

from mmsvf import compat

# --------------------------------------------------------------------------
# the defects are handled (real upstream imports and calls)
# --------------------------------------------------------------------------


def test_all_workarounds_applied_on_pinned_stack():
    # the pinned stack has all these defects, so import mmsvf applied them;
    # the last one only for an editable install (the README's)
    editable = ['mmengine-editable-install-path'
                ] if compat.installed_path_fix_needed() else []
    assert compat.applied == [
        'mmaction-drn-placeholder', 'mmcv-ext-stub',
        'mmpose-torchvision-placeholder', 'mmengine-weights-only',
        'mmengine-config-package'
    ] + editable
    assert compat.drn_placeholder_needed()
    assert compat.weights_only_fix_needed()
    # apply_all is idempotent: nothing new, same list
    assert compat.apply_all() == compat.applied


def test_upstream_model_packages_import():
    import mmaction.models
    import mmdet.models
    import mmpose.models
    import mmseg.models
    from mmaction.registry import MODELS as MMACTION_MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS
    assert MMACTION_MODELS.get('Recognizer3D') is \
        mmaction.models.Recognizer3D
    assert MMSEG_MODELS.get('EncoderDecoder') is \
        mmseg.models.EncoderDecoder
    assert hasattr(mmpose.models, 'TopdownPoseEstimator')
    assert hasattr(mmdet.models, 'DetDataPreprocessor')


def test_drn_placeholder_raises_when_built():
    from mmaction.models.localizers.drn.drn import DRN
    with pytest.raises(ImportError, match='2714'):
        DRN()
    module = sys.modules['mmaction.models.localizers.drn']
    assert module.__mmsvf_placeholder__


def test_mmcv_stub_keeps_full_mmcv_unavailable():
    from mmengine.utils.dl_utils import mmcv_full_available
    assert mmcv_full_available() is False
    stub = sys.modules['mmcv._ext']
    assert stub.__spec__.loader is None
    # dunder lookups are real AttributeErrors (hasattr/pickle/inspect work)
    assert not hasattr(stub, '__file__')


def test_compiled_op_raises_clear_error():
    import mmcv.ops
    boxes = torch.tensor([[0., 0., 2., 2.], [1., 1., 3., 3.]])
    scores = torch.tensor([0.9, 0.8])
    with pytest.raises(compat.MissingCompiledOpError, match='mmcv-lite'):
        mmcv.ops.nms(boxes, scores, 0.5)
    # and it is a NotImplementedError for callers that catch that
    with pytest.raises(NotImplementedError, match='"nms"'):
        mmcv.ops.nms(boxes, scores, 0.5)


def test_mmpose_visualization_imports_without_torchvision():
    assert compat.importlib.util.find_spec('torchvision') is None
    import mmpose.visualization
    from mmpose.visualization.simcc_vis import SimCCVisualizer
    assert hasattr(mmpose.visualization, 'PoseLocalVisualizer')
    with pytest.raises(ImportError, match='torchvision'):
        SimCCVisualizer()


# --------------------------------------------------------------------------
# weights_only: real mmengine checkpoints load; code-running pickles do not
# --------------------------------------------------------------------------


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
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(_TinyModel(), str(path))
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()
    # the payload is live: an unsafe load does run it (so the checks above
    # would notice a loader that executed it)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_safe_globals_are_narrow():
    from mmengine.logging import HistoryBuffer
    allowed = compat.mmengine_safe_globals()
    assert HistoryBuffer in allowed
    assert (compat._checkpoint_getattr, 'builtins.getattr') in allowed
    for obj in allowed:
        if obj is HistoryBuffer or isinstance(obj, tuple):
            continue
        assert getattr(obj, '__module__', '').startswith('numpy'), obj
    registered = torch.serialization.get_safe_globals()
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


# --------------------------------------------------------------------------
# probes say "not needed" when the defect is absent, and nothing is patched
# --------------------------------------------------------------------------


def _fake_package(tmp_path, name, files=(), dirs=()):
    root = tmp_path / name
    root.mkdir()
    for d in dirs:
        (root / d).mkdir(parents=True)
    for f in files:
        (root / f).write_bytes(b'')
    return str(root)


def test_drn_probe(tmp_path, monkeypatch):
    fixed = _fake_package(tmp_path, 'fixed',
                          dirs=['models/localizers/drn'])
    broken = _fake_package(tmp_path, 'broken', dirs=['models/localizers'])
    monkeypatch.setattr(compat, '_package_dir', lambda name: fixed)
    assert compat.drn_placeholder_needed() is False
    monkeypatch.setattr(compat, '_package_dir', lambda name: broken)
    assert compat.drn_placeholder_needed() is True
    monkeypatch.setattr(compat, '_package_dir', lambda name: None)
    assert compat.drn_placeholder_needed() is False  # no mmaction at all


def test_mmcv_ext_probe(tmp_path, monkeypatch):
    full = _fake_package(tmp_path, 'full',
                         files=['_ext.cpython-311-x86_64-linux-gnu.so'])
    lite = _fake_package(tmp_path, 'lite', files=['__init__.py'])
    monkeypatch.delitem(sys.modules, 'mmcv._ext')
    monkeypatch.setattr(compat, '_package_dir', lambda name: full)
    assert compat.mmcv_ext_stub_needed() is False
    monkeypatch.setattr(compat, '_package_dir', lambda name: lite)
    assert compat.mmcv_ext_stub_needed() is True
    # a real (or already stubbed) mmcv._ext module: nothing to do
    monkeypatch.setitem(sys.modules, 'mmcv._ext', object())
    assert compat.mmcv_ext_stub_needed() is False


def test_torchvision_probe(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmpose.visualization.simcc_vis')
    assert compat.torchvision_placeholder_needed() is True
    _fake_package(tmp_path, 'torchvision', files=['__init__.py'])
    monkeypatch.syspath_prepend(str(tmp_path))
    assert compat.torchvision_placeholder_needed() is False


def test_weights_only_probe(monkeypatch):
    from mmengine.runner import checkpoint

    def load_from_local(filename, map_location):
        return torch.load(filename, map_location=map_location,
                          weights_only=False)

    assert 'weights_only' in inspect.getsource(load_from_local)
    monkeypatch.setattr(checkpoint, 'load_from_local', load_from_local)
    assert compat.weights_only_fix_needed() is False
    monkeypatch.undo()
    assert compat.weights_only_fix_needed() is True
    monkeypatch.setattr(compat, '_torch_version', lambda: (2, 5))
    assert compat.weights_only_fix_needed() is False


def test_apply_all_patches_nothing_when_defects_absent(tmp_path,
                                                       monkeypatch):
    """Real probes, in a simulated fixed stack; appliers are spies."""
    from mmengine.runner import checkpoint
    calls = []
    monkeypatch.setattr(compat, 'applied', [])
    monkeypatch.setattr(compat, '_WORKAROUNDS', [
        (name, needed, lambda name=name: calls.append(name))
        for name, needed, _ in compat._WORKAROUNDS
    ])
    from mmengine.config import utils as config_utils
    # defects present (the pinned stack, with the stubs taken away)
    monkeypatch.delitem(sys.modules, 'mmcv._ext')
    monkeypatch.delitem(sys.modules, 'mmpose.visualization.simcc_vis')
    monkeypatch.delitem(config_utils.MODULE2PACKAGE, 'mmsvf')
    monkeypatch.setattr(importlib.metadata, 'distribution',
                        lambda name: _FakeDist(tmp_path / 'site-packages'))
    assert compat.apply_all() == [name for name, _, _ in compat._WORKAROUNDS]
    assert calls == compat.applied
    # defects absent
    calls.clear()
    monkeypatch.setattr(compat, 'applied', [])
    root = _fake_package(
        tmp_path, 'pkg', dirs=['models/localizers/drn'],
        files=['_ext.cpython-311-x86_64-linux-gnu.so'])
    monkeypatch.setattr(compat, '_package_dir', lambda name: root)
    _fake_package(tmp_path, 'torchvision', files=['__init__.py'])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        checkpoint, 'load_from_local',
        lambda filename, map_location: torch.load(  # noqa: E731
            filename, map_location=map_location, weights_only=True))
    monkeypatch.setitem(config_utils.MODULE2PACKAGE, 'mmsvf', 'mmsvf')
    (tmp_path / 'site-packages' / 'mmsvf').mkdir(parents=True)
    assert compat.apply_all() == []
    assert calls == []


class _FakeDist:
    """An importlib.metadata distribution installed under ``location``."""

    def __init__(self, location):
        self.location = location

    def locate_file(self, name):
        return self.location / name


def test_config_package_probe(monkeypatch):
    from mmengine.config import utils as config_utils
    assert compat.config_package_needed() is False  # applied on import
    monkeypatch.delitem(config_utils.MODULE2PACKAGE, 'mmsvf')
    assert compat.config_package_needed() is True


def test_installed_path_probe(tmp_path, monkeypatch):
    # an editable install: the distribution's location holds no mmsvf folder
    monkeypatch.setattr(importlib.metadata, 'distribution',
                        lambda name: _FakeDist(tmp_path))
    assert compat.installed_path_fix_needed() is True
    (tmp_path / 'mmsvf').mkdir()  # a regular install
    assert compat.installed_path_fix_needed() is False

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, 'distribution', not_installed)
    assert compat.installed_path_fix_needed() is False


def test_installed_path_fix_finds_the_package_folder(tmp_path, monkeypatch):
    """The wrapper keeps mmengine's answer when that folder exists and asks
    the import system otherwise."""
    from mmengine.config import config as config_module
    from mmengine.hub import hub as hub_module
    answers = {'mmsvf': str(tmp_path / 'site-packages' / 'mmsvf'),
               'other': str(tmp_path)}
    monkeypatch.setattr(config_module, 'get_installed_path',
                        lambda package: answers[package])
    monkeypatch.setattr(hub_module, 'get_installed_path', None)
    compat._apply_installed_path_fix()
    fixed = config_module.get_installed_path
    assert hub_module.get_installed_path is fixed
    assert fixed('other') == str(tmp_path)  # exists: unchanged
    answers['nomodule'] = str(tmp_path / 'no_such_module_xyz')
    assert fixed('nomodule') == answers['nomodule']  # nothing better known
    assert os.path.samefile(fixed('mmsvf'),
                            os.path.dirname(compat.__file__))


def test_mmsvf_configs_inherit_with_their_own_scope(tmp_path):
    """``_base_ = 'mmsvf::...'`` reads the shipped config like a local base:
    its default_scope stays, no ``_scope_='mmsvf'`` lands on upstream types,
    and the model builds; ``mmengine.hub.get_config`` works too."""
    import mmsvf
    from mmengine.hub import get_config
    from mmengine.registry import MODELS, init_default_scope
    mim = os.path.join(os.path.dirname(mmsvf.__file__), '.mim', 'configs')
    if not os.path.isdir(mim):
        pytest.skip('mmsvf/.mim is made by `pip install` (setup.py)')
    base = 'recognition/spikevideoformer/' \
        'spikevideoformer-tiny_1xb8-t8_toy-motion.py'
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['mmsvf::{base}']\n"
                     'train_cfg = dict(max_epochs=1)\n')
    cfg = Config.fromfile(str(child))
    assert cfg.default_scope == 'mmaction'
    assert cfg.train_cfg.max_epochs == 1 and cfg.train_cfg.val_interval == 5
    assert '_scope_' not in cfg.model
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'Recognizer3D'
    assert type(model.backbone).__name__ == 'SpikeVideoFormer'
    seg = get_config('mmsvf::segmentation/spikevideoformer/'
                     'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py')
    assert seg.default_scope == 'mmseg'
    assert seg.model.type == 'mmsvf.VideoEncoderDecoder'


def test_real_appliers_install_placeholders(monkeypatch):
    """Each applier, run on a clean slate, installs what it promises."""
    for name in ('mmaction.models.localizers.drn',
                 'mmaction.models.localizers.drn.drn', 'mmcv._ext',
                 'mmpose.visualization.simcc_vis'):
        monkeypatch.delitem(sys.modules, name)
    compat._apply_drn_placeholder()
    compat._apply_mmcv_ext_stub()
    compat._apply_torchvision_placeholder()
    drn = sys.modules['mmaction.models.localizers.drn']
    assert drn.__spec__.submodule_search_locations == []
    with pytest.raises(ImportError):
        drn.drn.DRN()
    with pytest.raises(compat.MissingCompiledOpError):
        sys.modules['mmcv._ext'].roi_align_forward(torch.zeros(1))
    with pytest.raises(ImportError):
        sys.modules['mmpose.visualization.simcc_vis'].SimCCVisualizer()


# --------------------------------------------------------------------------
# versions and CPU DDP
# --------------------------------------------------------------------------


def test_check_versions_pinned_stack_is_inside_window():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert compat.check_versions() == {}


def test_check_versions_warns_outside_window(monkeypatch):
    real = importlib.metadata.version

    def fake(name):
        if name == 'mmengine':
            return '0.10.9'
        if name == 'numpy':
            return '2.1.0'
        return real(name)

    monkeypatch.setattr(importlib.metadata, 'version', fake)
    with pytest.warns(UserWarning, match='mmengine 0.10.9') as record:
        outside = compat.check_versions()
    assert outside == {'mmengine': '0.10.9', 'numpy': '2.1.0'}
    assert 'numpy 2.1.0' in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert compat.check_versions(warn=False) == outside


def test_check_versions_reads_mmcv_lite(monkeypatch):
    real = importlib.metadata.version

    def fake(name):
        if name == 'mmcv':
            raise importlib.metadata.PackageNotFoundError(name)
        if name == 'mmcv-lite':
            return '2.2.0'
        return real(name)

    monkeypatch.setattr(importlib.metadata, 'version', fake)
    with pytest.warns(UserWarning, match='mmcv'):
        assert compat.check_versions() == {'mmcv': '2.2.0'}


def test_version_tuple_parsing():
    assert compat._vtuple('2.13.0+cpu') == (2, 13, 0)
    assert compat._vtuple('1.26.4') == (1, 26, 4)
    assert compat._vtuple('2.1.0rc1') == (2, 1, 0)
    assert compat._vtuple('2.14.0.dev20250101') == (2, 14, 0)


def test_cpu_distributed_setup_no_launcher_changes_nothing():
    cfg = Config(
        dict(model=dict(type='X'), env_cfg=dict(cudnn_benchmark=False)))
    before = cfg.to_dict()
    assert compat.cpu_distributed_setup(cfg, 'none') is False
    assert cfg.to_dict() == before
    assert 'model_wrapper_cfg' not in cfg
    assert not torch.distributed.is_initialized()


def test_numpy_checkpoint_values_roundtrip(tmp_path):
    """numpy arrays/scalars (as mmengine logs them) load with weights_only."""
    path = tmp_path / 'np.pth'
    torch.save({'a': np.arange(3, dtype=np.float32), 'b': np.float64(2.5),
                'c': np.int64(7)}, path)
    out = torch.load(path)
    np.testing.assert_array_equal(out['a'], np.arange(3, dtype=np.float32))
    assert out['b'] == 2.5 and out['c'] == 7
