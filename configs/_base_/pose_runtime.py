# Runtime of the pose configs: mmpose's scope (its registries build the
# runner parts; mmsvf types are named 'mmsvf.X'), checkpoints selected by
# smpl/PA-MPJPE. (Not inherited from mmpose's default_runtime.py, whose
# `train_cfg = dict(by_epoch=True)` cannot merge with a typed train loop.)
default_scope = 'mmpose'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='smpl/PA-MPJPE',
        rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# NonFiniteGuardHook: stop at the first NaN / Inf input, loss or gradient
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='mmsvf.NonFiniteGuardHook')
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
backend_args = dict(backend='local')
randomness = dict(seed=0)
