# Copyright (c) mmsvf contributors. All rights reserved.
"""CPU distributed setup (:mod:`mmsvf.utils.dist`).

The 2-process gloo run itself is tests/test_tools/test_train_test_tools.py.
"""
import torch
from mmengine.config import Config

from mmsvf.utils.dist import cpu_distributed_setup


def test_no_launcher_changes_nothing():
    cfg = Config(
        dict(model=dict(type='X'), env_cfg=dict(cudnn_benchmark=False)))
    before = cfg.to_dict()
    assert cpu_distributed_setup(cfg, 'none') is False
    assert cfg.to_dict() == before
    assert 'model_wrapper_cfg' not in cfg
    assert not torch.distributed.is_initialized()


def test_launcher_without_cuda_uses_gloo(monkeypatch):
    import torch.distributed as dist
    calls = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(dist, 'is_initialized', lambda: False)
    monkeypatch.setattr(dist, 'init_process_group',
                        lambda backend: calls.append(backend))
    cfg = Config(
        dict(model_wrapper_cfg=dict(find_unused_parameters=True),
             env_cfg=dict(cudnn_benchmark=False,
                          dist_cfg=dict(backend='nccl', timeout=60))))
    assert cpu_distributed_setup(cfg, 'pytorch') is True
    assert calls == ['gloo']
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', find_unused_parameters=True,
        device_ids=None)
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=60)
    assert cfg.env_cfg.cudnn_benchmark is False


def test_launcher_with_cuda_changes_nothing(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(model=dict(type='X')))
    assert cpu_distributed_setup(cfg, 'pytorch') is False
    assert 'model_wrapper_cfg' not in cfg
