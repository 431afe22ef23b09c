# SpikeVideoFormer-Small on Kinetics-400: 16 frames (stride 4) at 224x224,
# 8 GPUs x 8 clips, AdamW + linear warm-up + cosine, 30 epochs.
# Test: 4 clips x 3 crops, class probabilities averaged.
# AMP: `tools/train.py CONFIG --amp`.
_base_ = [
    '../../_base_/models/spikevideoformer_small.py',
    'mmaction::_base_/default_runtime.py'
]

# dataset settings
# VideoDataset whose decoding errors name the file (mmsvf/datasets)
dataset_type = 'mmsvf.CheckedVideoDataset'
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
ann_file_test = 'data/kinetics400/kinetics400_val_list_videos.txt'

clip_len, frame_interval = 16, 4
# the head's classes; the datasets refuse labels outside [0, num_classes)
num_classes = 400
model = dict(cls_head=dict(num_classes=num_classes))

# Video decoder: 'decord' (mmaction's DecordInit/DecordDecode, seeks to the
# sampled frames) or 'pyav' (PyAVInit/PyAVDecode, decodes from the start;
# also reads frame sizes Decord 0.6.0 rejects). Both give the same frames on
# the Kinetics sample clips. Set it here or in a derived config that rebuilds
# the pipelines; `--cfg-options video_backend=...` cannot reach pipelines
# that are already built (docs/recognition.md#video-decoding).
video_backend = 'decord'
video_init = dict(
    type=dict(decord='DecordInit', pyav='PyAVInit')[video_backend],
    io_backend='disk')
video_decode = dict(
    type=dict(decord='DecordDecode', pyav='PyAVDecode')[video_backend])

train_pipeline = [
    video_init,
    dict(
        type='mmsvf.CheckedSampleFrames',  # short videos raise
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1),
    video_decode,
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
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
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(
        type='PackActionInputs',
        meta_keys=('img_shape', 'img_key', 'video_id', 'timestamp',
                   'filename'))
]
test_pipeline = [
    video_init,
    dict(
        type='mmsvf.CheckedSampleFrames',  # short videos raise
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=4,
        test_mode=True),
    video_decode,
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(
        type='PackActionInputs',
        meta_keys=('img_shape', 'img_key', 'video_id', 'timestamp',
                   'filename'))
]

train_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        num_classes=num_classes,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        num_classes=num_classes,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        num_classes=num_classes,
        data_prefix=dict(video=data_root_val),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric', metric_list=('top_k_accuracy', ))
test_evaluator = val_evaluator

# schedule: 30 epochs, 2.5 warm-up epochs, cosine to 1e-6 (per iteration)
max_epochs, warmup_epochs = 30, 2.5
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=3)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-6,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]

# runtime: log every 20 iterations (loss, lr, time, ETA), a progress bar over
# the test loop, the 3 latest checkpoints + the best one
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='auto'),
    visualization=dict(type='mmsvf.VideoVisualizationHook', enable=False))
# NonFiniteGuardHook: stop at the first NaN / Inf input, loss or gradient
custom_hooks = [
    dict(type='mmsvf.ProgressBarHook', test=True, val=False),
    dict(type='mmsvf.NonFiniteGuardHook')
]

# TensorBoard: add dict(type='TensorboardVisBackend') below (or train the
# ..._kinetics400-rgb_tensorboard.py variant); logs go to
# <work_dir>/<timestamp>/vis_data, `tensorboard --logdir work_dirs`.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

# effective batch 8 GPUs x 8 clips; `--auto-scale-lr` rescales the lr
auto_scale_lr = dict(enable=False, base_batch_size=64)
