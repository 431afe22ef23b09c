# Copyright (c) mmsvf contributors. All rights reserved.
"""Stage-B hard distillation: the loss on a hand-computed example, a frozen
teacher kept out of the student, on the toy image-folder config."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from torch import nn

from mmsvf.models import SpikingClsHead, hard_distillation_loss
from mmsvf.utils import register_all_modules
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[3]
TOY = REPO / 'configs/pretrain' / (
    'spikevideoformer-tiny_1xb8-t1_toy-imagefolder.py')


def test_hard_distillation_loss_hand_computed():
    # teacher argmax: classes 0 and 1
    teacher = torch.tensor([[5., 1., 0.], [0., 2., 1.]])
    score_kd = torch.tensor([[math.log(3.), 0., 0.], [0., 0., 0.]])
    # row 0: -log(3 / (3 + 1 + 1)) = log(5/3); row 1: log 3; mean log(5)/2
    expected = math.log(5.) / 2
    assert hard_distillation_loss(score_kd, teacher).item() == \
        pytest.approx(expected, rel=1e-6)


class _Teacher(nn.Module):
    """A tiny image classifier: (B, 3, H, W) → (B, 4) logits."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


@pytest.fixture
def torchscript_teacher(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / 'teacher.pt'
    torch.jit.script(_Teacher()).save(str(path))
    return str(path)


def _toy_model(teacher, with_kd=True):
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(TOY)
    init_default_scope(cfg.default_scope)
    cfg.model.type = 'mmsvf.DistillRecognizer3D'
    cfg.model.teacher = teacher
    cfg.model.cls_head.with_kd = with_kd
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _batch(model, seed=0):
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (1, 3, 1, 32, 32), generator=g).float()
              for _ in range(2)]
    samples = [ActionDataSample().set_gt_label(torch.tensor([i]))
               for i in range(2)]
    return model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), True)


def test_torchscript_teacher_frozen_outside_the_student(torchscript_teacher):
    model = _toy_model(dict(torchscript=torchscript_teacher)).train()
    teacher = model.teacher
    assert teacher is not None and not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
    assert not any(k.startswith('_teacher') or 'fc.weight' == k
                   for k in model.state_dict())
    student_params = {id(p) for p in model.parameters()}
    assert not student_params & {id(p) for p in teacher.parameters()}

    data = _batch(model)
    losses = model(**data, mode='loss')
    # loss_kd = alpha * CE(head_kd, argmax teacher(first frame))
    images = data['inputs'].view(-1, 3, 1, 32, 32)[:, :, 0]
    with torch.no_grad():
        labels = teacher(images).argmax(1)
    feats, _ = model.extract_feat(data['inputs'])
    _, score_kd = model.cls_head.forward_both(feats)
    alpha = model.cls_head.kd_alpha
    torch.testing.assert_close(
        losses['loss_kd'],
        alpha * torch.nn.functional.cross_entropy(score_kd, labels))
    (losses['loss_kd'] + losses['loss_cls']).backward()
    assert model.cls_head.head_kd.bias.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())
    assert not teacher.training  # still eval after the student's train()


def test_config_teacher_gets_the_clips(tmp_path):
    # a registered model config as the teacher (here the toy model itself)
    teacher_cfg = dict(config=str(TOY))
    model = _toy_model(teacher_cfg)
    data = _batch(model, seed=3)
    with torch.no_grad():
        expected = model.teacher(data['inputs'], mode='tensor',
                                 stage='head')
        got = model.teacher_logits(data['inputs'])
    torch.testing.assert_close(got, expected)
    assert got.shape == (2, 4)


def test_without_teacher_the_labels_supervise_head_kd():
    model = _toy_model(dict())
    assert model.teacher is None
    losses = model(**_batch(model), mode='loss')
    assert set(losses) >= {'loss_cls', 'loss_kd'}


def test_teacher_sources_checked(tmp_path):
    from mmsvf.models import build_teacher
    with pytest.raises(ValueError, match='exactly one'):
        build_teacher(dict(torchscript='a.pt', timm='resnet18'))
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        build_teacher(dict(torchscript=str(tmp_path / 'missing.pt')))
    try:
        import timm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match='torchscript'):
            build_teacher(dict(timm='caformer_b36'))
    head = SpikingClsHead(num_classes=4, in_channels=8)
    with pytest.raises(ValueError, match='with_kd'):
        head.loss(torch.randn(2, 8, 1, 2, 2), [],
                  teacher_labels=torch.tensor([0, 1]))


def test_toy_training_checkpoint_holds_the_student_only(
        torchscript_teacher, tmp_path):
    gen = load_script('tools/data/generate_toy_imagefolder.py')
    data_root = tmp_path / 'toy'
    gen.main(['--out', str(data_root), '--num-train', '1', '--num-val', '1',
              '--size', '40'])
    train = load_script('tools/train.py')
    work_dir = tmp_path / 'work'
    runner = train.main([
        str(TOY), '--work-dir', str(work_dir), '--no-validate',
        '--cfg-options', 'model.type=mmsvf.DistillRecognizer3D',
        'model.cls_head.with_kd=True',
        f'+model.teacher.torchscript={torchscript_teacher}',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=4', 'train_cfg.max_epochs=1',
        'default_hooks.checkpoint.interval=1'])
    assert runner.iter == 1
    assert 'loss_kd' in runner.message_hub.log_scalars or any(
        'loss_kd' in k for k in runner.message_hub.log_scalars)
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu')
    keys = set(ckpt['state_dict'])
    assert 'cls_head.head_kd.weight' in keys
    assert not any('teacher' in k or k == 'fc.weight' for k in keys)
