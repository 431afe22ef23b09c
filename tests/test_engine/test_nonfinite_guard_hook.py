# Copyright (c) mmsvf contributors. All rights reserved.
"""NonFiniteGuardHook: training stops at the first non-finite input, loss
or gradient (before the weights change), naming the iteration, the files and
where the value appeared; inference refuses non-finite inputs and
predictions per file."""
import copy
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import TRANSFORMS, init_default_scope

from mmsvf.engine import NonFiniteError, NonFiniteGuardHook
from mmsvf.utils import register_all_modules
from mmsvf_test_utils import REPO_ROOT, load_script

TOY = (REPO_ROOT / 'configs' / 'recognition' / 'spikevideoformer' /
       'spikevideoformer-tiny_1xb8-t8_toy-motion.py')
FILES = ['a.mp4', 'b.mp4']

pytestmark = pytest.mark.usefixtures('single_torch_thread')


def _model():
    from mmaction.registry import MODELS
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(TOY))
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _batch(nan_sample=None):
    """Two float clips (1 view, 3 x 4 x 32 x 32) with their file names."""
    from mmaction.structures import ActionDataSample
    torch.manual_seed(1)
    inputs = [torch.rand(1, 3, 4, 32, 32) * 255 for _ in FILES]
    if nan_sample is not None:
        inputs[nan_sample][0, 1, 2, 3, 4] = float('nan')
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    for sample, name in zip(samples, FILES):
        sample.set_metainfo(dict(filename=name))
    return dict(inputs=inputs, data_samples=samples)


class FakeRunner(SimpleNamespace):
    pass


def _runner(model, iteration=16):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    return FakeRunner(model=model, optim_wrapper=wrapper, iter=iteration,
                      epoch=0, train_loop=object())


def _train_step(hook, runner, batch, batch_idx=3):
    hook.before_train_iter(runner, batch_idx, batch)
    outputs = runner.model.train_step(batch, runner.optim_wrapper)
    hook.after_train_iter(runner, batch_idx, batch, outputs)
    return outputs


def _start(hook, runner):
    hook.before_run(runner)
    hook.before_train(runner)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()
            if 'running' not in k and 'num_batches' not in k}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def model0():
    return _model()


@pytest.fixture
def model(model0):
    return copy.deepcopy(model0)


def test_good_step_passes_and_updates(model):
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    _start(hook, runner)
    before = _weights(model)
    outputs = _train_step(hook, runner, _batch())
    assert torch.isfinite(outputs['loss'])
    assert not _same(before, _weights(model))
    hook.after_train(runner)
    hook.after_run(runner)
    # the optimizer wrapper and the model are back as they were
    assert 'update_params' not in vars(runner.optim_wrapper)
    assert not any(m._forward_hooks for m in model.modules())


def test_nan_pixel_stops_before_the_step_naming_the_sample(model):
    """The reported fault: one NaN pixel made the loss NaN and, after the
    step, 166 parameters and 102 BN buffers NaN while training went on."""
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    _start(hook, runner)
    before = _weights(model)
    with pytest.raises(NonFiniteError) as info:
        _train_step(hook, runner, _batch(nan_sample=1))
    message = str(info.value)
    assert 'training iteration 17' in message
    assert 'model input' in message and '1 sample(s): b.mp4' in message
    assert 'Files of this batch: a.mp4, b.mp4' in message
    assert 'enabled=False' in message
    # stopped before the optimizer step: the weights are untouched
    assert _same(before, _weights(model))
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_nan_from_a_stage_names_the_stage(model):
    def poison(module, args, output):
        return output * float('nan')

    model.backbone.downsample2.register_forward_hook(poison)
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    _start(hook, runner)
    with pytest.raises(NonFiniteError) as info:
        _train_step(hook, runner, _batch())
    message = str(info.value)
    assert 'non-finite loss (nan)' in message
    assert 'The model input is finite; the value first appears in the ' \
        'output of backbone.downsample2.' in message


def test_nan_gradient_names_parameters_and_where_backward_made_it(model):
    def poison_grad(module, args, output):
        output.register_hook(lambda grad: grad * float('inf'))

    model.backbone.downsample3.register_forward_hook(poison_grad)
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    _start(hook, runner)
    before = _weights(model)
    with pytest.raises(NonFiniteError) as info:
        _train_step(hook, runner, _batch())
    message = str(info.value)
    assert 'non-finite gradients in' in message
    assert 'the loss is finite' in message
    assert 'Backward first produced them in backbone.downsample3 ' in message
    assert 'backbone.downsample1_1.encode_conv' in message  # a parameter
    assert 'training iteration 17' in message and 'a.mp4' in message
    assert _same(before, _weights(model))


def test_disabled_hook_lets_the_nan_through(model):
    hook = NonFiniteGuardHook(enabled=False)
    runner = _runner(model)
    _start(hook, runner)
    outputs = _train_step(hook, runner, _batch(nan_sample=0))
    assert not torch.isfinite(outputs['loss'])  # the unguarded fault


def test_non_finite_weights_refused_before_training(model):
    with torch.no_grad():
        model.cls_head.head.weight[0, 0] = float('inf')
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    hook.before_run(runner)
    with pytest.raises(NonFiniteError, match='cls_head.head.weight'):
        hook.before_train(runner)


def _test_step(hook, runner, batch):
    hook.before_test_iter(runner, 0, batch)
    outputs = runner.model.test_step(batch)
    hook.after_test_iter(runner, 0, batch, outputs)
    return outputs


def test_inference_refuses_a_nan_clip_naming_its_file(model):
    model.eval()
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    hook.before_run(runner)
    outputs = _test_step(hook, runner, _batch())
    assert len(outputs) == 2
    with pytest.raises(NonFiniteError) as info:
        _test_step(hook, runner, _batch(nan_sample=0))
    message = str(info.value)
    assert '1 sample(s) of test batch 1' in message
    assert 'a.mp4 (non-finite input' in message
    assert 'b.mp4' not in message


def test_inference_refuses_a_non_finite_prediction(model):
    model.eval()
    hook = NonFiniteGuardHook()
    runner = _runner(model)
    hook.before_run(runner)
    batch = _batch()
    outputs = model.test_step(batch)
    score = outputs[1].pred_score.clone()
    score[2] = float('nan')
    outputs[1].pred_score = score
    hook.before_val_iter(runner, 4, batch)
    hook._input_bad = None  # no forward ran: only the outputs are checked
    with pytest.raises(NonFiniteError,
                       match=r'validation batch 5 .*b.mp4 \(non-finite '
                       r'prediction\)'):
        hook.after_val_iter(runner, 4, batch, outputs)


@TRANSFORMS.register_module(name='_PoisonOnePixel', force=True)
class PoisonOnePixel:
    """Test transform: float frames, one NaN pixel in ``target``'s clip."""

    def __init__(self, target):
        self.target = target

    def __call__(self, results):
        imgs = [np.asarray(i, dtype=np.float32) for i in results['imgs']]
        if results['filename'].endswith(self.target):
            imgs[0][1, 2, 0] = np.nan
        results['imgs'] = imgs
        return results


def test_config_runner_stops_on_the_poisoned_video(tmp_path):
    """The toy config as is (its custom_hooks hold the guard) on generated
    videos, one of which carries a NaN pixel: the Runner stops in the first
    iteration and the error names that video."""
    from mmengine.runner import Runner
    gen = load_script('tools/data/generate_toy_videos.py')
    root = tmp_path / 'toy'
    gen.generate(gen.parse_args(['--out', str(root), '--num-train', '1',
                                 '--num-val', '1', '--size', '32',
                                 '--classes', 'move_left', 'move_right']))
    cfg = Config.fromfile(str(TOY))
    assert any(h.type == 'mmsvf.NonFiniteGuardHook'
               for h in cfg.custom_hooks)
    target = (root / 'train.txt').read_text().split()[0]
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline.insert(3, dict(type='_PoisonOnePixel', target=target))
    pipeline[4].scale = (32, 32)  # Resize
    cfg.train_cfg.max_epochs = 1
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(
        ann_file=str(root / 'train.txt'),
        data_prefix=dict(video=str(root / 'videos')))
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type == 'mmsvf.NonFiniteGuardHook']
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'guard_{uuid.uuid4().hex}'
    cfg.visualizer = dict(type=cfg.visualizer.type,
                          name=f'vis_{uuid.uuid4().hex}',
                          vis_backends=[dict(type='LocalVisBackend')])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteError) as info:
        runner.train()
    message = str(info.value)
    assert 'training iteration 1 (epoch 1, batch 1)' in message
    assert f'1 sample(s): {root / "videos" / target}' in message
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_every_config_has_the_guard_on():
    configs = [p for p in sorted((REPO_ROOT / 'configs').rglob('*.py'))
               if '_base_' not in p.parts]
    assert len(configs) >= 30
    for path in configs:
        hooks = Config.fromfile(str(path)).get('custom_hooks', [])
        assert any(h['type'] == 'mmsvf.NonFiniteGuardHook'
                   and h.get('enabled', True) for h in hooks), path.name
