# Tiny SpikeVideoFormer on the toy-motion videos (tools/data/
# generate_toy_videos.py): 6 motion classes in 3 time-reversal pairs, which
# one frame cannot tell apart.
# Trains on 2 CPU cores in minutes (`bash tools/run_toy.sh WORK_DIR`).
_base_ = [
    '../../_base_/models/spikevideoformer_small.py',
    'mmaction::_base_/default_runtime.py'
]

# the head's classes; the datasets refuse labels outside [0, num_classes)
num_classes = 6
model = dict(
    backbone=dict(
        embed_dims=[16, 32, 64, 64], depths=(1, 1), num_heads=2,
        # integer spikes (I-LIF, as in SpikeYOLO, ECCV 2024; the paper uses
        # it for Cityscapes) train several times faster than binary
        # LIF spikes at these tiny widths
        neuron=dict(type='IntegerLIF', max_level=4)),
    cls_head=dict(
        in_channels=64, num_classes=num_classes, label_smooth_eps=0.0,
        neuron=dict(type='IntegerLIF', max_level=4),
        average_clips='prob'))

# VideoDataset whose decoding errors name the file (mmsvf/datasets)
dataset_type = 'mmsvf.CheckedVideoDataset'
data_root = 'data/toy_motion'
clip_len, frame_interval = 8, 2

# Video decoder: 'pyav' (mmaction's PyAVInit/PyAVDecode) decodes every frame
# size the toy generator writes; 'decord' (DecordInit/DecordDecode) fails on
# some widths (48 and 72 px). On the toy clips both give identical frames
# (docs/recognition.md#video-decoding).
video_backend = 'pyav'
video_init = dict(
    type=dict(decord='DecordInit', pyav='PyAVInit')[video_backend])
video_decode = dict(
    type=dict(decord='DecordDecode', pyav='PyAVDecode')[video_backend])

# No Flip: a mirrored clip would change the class (left <-> right, cw <-> ccw)
train_pipeline = [
    video_init,
    dict(
        type='mmsvf.CheckedSampleFrames',  # short videos raise
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1),
    video_decode,
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    video_init,
    dict(
        type='mmsvf.CheckedSampleFrames',  # short videos raise
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1,
        test_mode=True),
    video_decode,
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(
        type='PackActionInputs',
        meta_keys=('img_shape', 'img_key', 'video_id', 'timestamp',
                   'filename'))
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/train.txt',
        num_classes=num_classes,
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/val.txt',
        num_classes=num_classes,
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric', metric_list=('top_k_accuracy', ))
test_evaluator = val_evaluator

max_epochs = 20
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# lr 2e-3 after a 2-epoch warm-up: at 4e-3 after 1 epoch, one seed in three
# (and one CPU's rounding of another) put the head neuron to sleep within
# the first epochs (its pooled input falls below 0, where the integer
# neuron passes no gradient) and stayed at chance; see docs/recognition.md
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    # no clipping: the surrogate gradients of the first layers spike to
    # 1e3-1e4 now and then, and clipping the global norm then freezes the
    # rest of the network (AdamW already bounds every step)
    clip_grad=None)
warmup_epochs = 2
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.05,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, ignore_last=False),
    checkpoint=dict(
        type='CheckpointHook', interval=5, max_keep_ckpts=1,
        save_best='auto'),
    visualization=dict(type='mmsvf.VideoVisualizationHook', enable=False))
custom_hooks = [
    dict(type='mmsvf.ProgressBarHook', test=True, val=False),
    # CPU thread count chosen from measured step times (idle vs shared
    # machine, see mmsvf/engine/hooks/adaptive_threads_hook.py)
    dict(type='mmsvf.AdaptiveThreadsHook'),
    # stop at the first NaN / Inf input, loss or gradient
    dict(type='mmsvf.NonFiniteGuardHook'),
]
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)

# TensorBoard as well: vis_backends = [dict(type='LocalVisBackend'),
#                                      dict(type='TensorboardVisBackend')]
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

randomness = dict(seed=0, deterministic=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
