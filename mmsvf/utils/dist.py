# Copyright (c) mmsvf contributors. All rights reserved.
"""Distributed training on machines without CUDA (gloo)."""
import os

import torch

__all__ = ['cpu_distributed_setup']


def cpu_distributed_setup(cfg, launcher):
    """Make ``launcher='pytorch'`` (or slurm / mpi) work without CUDA.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` while initialising the
    process group and wraps the model with ``device_ids=[LOCAL_RANK]``; both
    fail on CPU. When CUDA is absent and a launcher is requested, this
    initialises a gloo process group itself (mmengine then skips its own
    initialisation) and asks for ``device_ids=None``. With CUDA present it
    does nothing. Used by ``tools/train.py`` and ``tools/test.py``.

    Args:
        cfg (mmengine.Config): The config to patch in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: whether the workaround was applied.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    import torch.distributed as dist
    if not dist.is_initialized():
        if launcher == 'slurm':
            os.environ.setdefault('RANK', os.environ.get('SLURM_PROCID', '0'))
            os.environ.setdefault('WORLD_SIZE',
                                  os.environ.get('SLURM_NTASKS', '1'))
            os.environ.setdefault('LOCAL_RANK',
                                  os.environ.get('SLURM_LOCALID', '0'))
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    env = dict(cfg.get('env_cfg', None) or {})
    dist_cfg = dict(env.get('dist_cfg', None) or {})
    dist_cfg['backend'] = 'gloo'
    env['dist_cfg'] = dist_cfg
    cfg.env_cfg = env
    return True
