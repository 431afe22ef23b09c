# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/analyze_logs.py on the json logs MMEngine really writes.

A two-parameter model trains for a few iterations (epoch-based and
iteration-based loops, validation included) so that the logs have exactly
the format of a real run's ``<work_dir>/<timestamp>/vis_data/*.json``.
"""
import json
import shutil
import uuid

import cv2
import pytest
import torch
from torch import nn

from mmsvf_test_utils import load_script

tool = load_script('tools/analysis/analyze_logs.py', 'mmsvf_analyze_logs')


def _train(work_dir, by_epoch):
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Line(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, inputs, labels=None, mode='tensor'):
            out = self.fc(inputs).squeeze(1)
            if mode == 'loss':
                return dict(loss_mse=((out - labels)**2).mean())
            return list(out)

    class Score(BaseMetric):

        def process(self, data_batch, data_samples):
            self.results.append(len(data_samples))

        def compute_metrics(self, results):
            return dict(top1=0.25 * len(self.results))

    torch.manual_seed(0)
    data = [dict(inputs=torch.randn(2), labels=torch.tensor(1.0))
            for _ in range(8)]
    loader = dict(dataset=data, batch_size=2,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    # an InfiniteSampler for the iteration loop: mmengine sleeps 2 s at
    # every end of a finite one
    train_loader = loader if by_epoch else dict(
        loader, sampler=dict(type='InfiniteSampler', shuffle=False))
    train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1) \
        if by_epoch else dict(by_epoch=False, max_iters=12, val_interval=6)
    runner = Runner(
        model=Line(), work_dir=str(work_dir), train_dataloader=train_loader,
        val_dataloader=loader, val_evaluator=[Score(prefix='acc')],
        train_cfg=train_cfg, val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=2),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=10_000)),
        log_processor=dict(by_epoch=by_epoch),
        visualizer=dict(type='Visualizer', name=uuid.uuid4().hex,
                        vis_backends=[dict(type='LocalVisBackend')]),
        experiment_name=uuid.uuid4().hex)
    runner.train()
    return work_dir


@pytest.fixture(scope='module')
def epoch_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp('epoch'), by_epoch=True)


def test_curves_of_an_epoch_based_run(epoch_run):
    path = tool.find_json_log(str(epoch_run))
    assert path.endswith('vis_data/scalars.json')
    log = tool.load_json_log(path)
    assert log['by_epoch']
    xs, ys, label = tool.curve(log, 'loss')
    assert label == 'iter' and xs == [2, 4, 6, 8, 10, 12]
    assert ys[-1] < ys[0]  # it trains
    xs, ys, label = tool.curve(log, 'acc/top1')
    # validation after every epoch, on the epoch axis
    assert label == 'epoch' and xs == [1, 2, 3] and ys == [1.0] * 3
    train_keys, val_keys = tool.available_keys(log)
    assert {'loss', 'loss_mse', 'lr', 'time'} <= set(train_keys)
    assert val_keys == ['acc/top1']
    with pytest.raises(KeyError, match=r"'nope'.*acc/top1"):
        tool.curve(log, 'nope')


def test_plot_curve_writes_a_png(epoch_run, tmp_path, capsys):
    out = tmp_path / 'plots' / 'curves.png'
    assert tool.main(['plot_curve', str(epoch_run), '--keys', 'loss',
                      'acc/top1', '--title', 'toy', '--out',
                      str(out)]) == 0
    image = cv2.imread(str(out))
    # two stacked panels of 7 x 2.6 inches at 120 dpi
    assert image is not None and image.shape[:2] == (624, 840)
    assert 'loss, acc/top1' in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"'missing'.*training keys"):
        tool.main(['plot_curve', str(epoch_run), '--keys', 'missing',
                   '--out', str(tmp_path / 'x.png')])
    with pytest.raises(SystemExit, match='--legend has 2 names for 1'):
        tool.main(['plot_curve', str(epoch_run), '--legend', 'a', 'b',
                   '--out', str(tmp_path / 'x.png')])


def test_iteration_based_run_and_two_logs(epoch_run, tmp_path, capsys):
    iter_run = _train(tmp_path / 'iters', by_epoch=False)
    log = tool.load_json_log(tool.find_json_log(str(iter_run)))
    assert not log['by_epoch']
    xs, _, label = tool.curve(log, 'acc/top1')
    assert label == 'iter' and xs == [6, 12]
    out = tmp_path / 'both.png'
    assert tool.main(['plot_curve', str(epoch_run), str(iter_run), '--keys',
                      'loss', '--legend', 'epochs', 'iters', '--out',
                      str(out)]) == 0
    assert out.is_file()
    assert tool.main(['cal_train_time', str(epoch_run), str(iter_run)]) == 0
    text = capsys.readouterr().out
    assert text.count('average iter time') == 2
    assert 'slowest epoch' in text  # only for the epoch-based run
    assert text.count('slowest epoch') == 1


def test_work_dir_picks_the_newest_training_run(epoch_run, tmp_path):
    """A later tools/test.py run (no training lines) in the same work dir
    is skipped; a missing or empty path says what it looked for."""
    work = tmp_path / 'work'
    train_log = work / '20240101_000000' / 'vis_data' / 'scalars.json'
    train_log.parent.mkdir(parents=True)
    shutil.copy(tool.find_json_log(str(epoch_run)), train_log)
    test_log = work / '20240102_000000' / 'vis_data' / 'scalars.json'
    test_log.parent.mkdir(parents=True)
    test_log.write_text(json.dumps({'acc/top1': 0.5, 'step': 0}) + '\n')
    assert tool.find_json_log(str(work)) == str(train_log)
    with pytest.raises(FileNotFoundError, match='no run with training'):
        tool.find_json_log(str(test_log.parent.parent))
    with pytest.raises(SystemExit, match='no such json log'):
        tool.main(['cal_train_time', str(tmp_path / 'nowhere')])
    broken = tmp_path / 'broken.json'
    broken.write_text('{"iter": 1}\nnot json\n')
    with pytest.raises(SystemExit, match=r'broken.json:2: not a json line'):
        tool.main(['cal_train_time', str(broken)])
