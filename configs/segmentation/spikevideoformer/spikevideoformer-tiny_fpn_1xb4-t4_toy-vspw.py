# Tiny SpikeVideoFormer + Semantic-FPN on the synthetic toy VSPW set
# (tools/data/generate_toy_vspw.py): a CPU-sized end-to-end run of the video
# segmentation pipeline (VSPW dataset class with clip-consistent transforms,
# VideoEncoderDecoder, IoUMetric + VideoConsistencyMetric).
#   python tools/data/generate_toy_vspw.py --out data/toy_vspw --seed 0
#   python tools/train.py \
#       configs/segmentation/spikevideoformer/spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py  # noqa: E501
# 64x64 frames are processed at 32x32 (predictions are resized back, so the
# metrics are computed at 64x64); 4 classes of the VSPW label space.
_base_ = [
    '../../_base_/models/spikevideoformer-small_fpn.py',
    'mmseg::_base_/default_runtime.py'
]

dataset_type = 'mmsvf.VSPWDataset'
data_root = 'data/toy_vspw'
classes = ('wall', 'ball', 'box', 'toy')
palette = [[120, 120, 120], [220, 40, 40], [40, 60, 220], [60, 190, 50]]
clip_len = 4
scale = (32, 32)

model = dict(
    data_preprocessor=dict(size=scale),
    backbone=dict(
        _delete_=True,
        type='SpikeVideoFormer',
        _scope_='mmsvf',
        embed_dims=[16, 32, 64, 64],
        depths=(1, 1),
        num_heads=2,
        mlp_ratio=4,
        neuron=dict(type='LIF'),
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=32),
    decode_head=dict(
        in_channels=[32, 32, 32, 32],
        channels=32,
        num_classes=len(classes)))

train_pipeline = [
    dict(type='mmsvf.LoadClipFromFiles'),
    dict(type='mmsvf.LoadClipAnnotations'),
    dict(type='mmsvf.ClipResize', scale=scale, keep_ratio=False),
    dict(type='mmsvf.ClipRandomFlip', prob=0.5),
    dict(type='mmsvf.PackClipSegInputs')
]
test_pipeline = [
    dict(type='mmsvf.LoadClipFromFiles'),
    dict(type='mmsvf.ClipResize', scale=scale, keep_ratio=False),
    dict(type='mmsvf.LoadClipAnnotations'),
    dict(type='mmsvf.PackClipSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        metainfo=dict(classes=classes, palette=palette),
        clip_len=clip_len,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val.txt',
        metainfo=dict(classes=classes, palette=palette),
        clip_len=clip_len,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='mmsvf.VideoConsistencyMetric', windows=(8, 16))
]
test_evaluator = val_evaluator

max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.005),
    paramwise_cfg=dict(custom_keys={
        'neck': dict(lr_mult=2.),
        'decode_head': dict(lr_mult=2.)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=30),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=30,
         end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='mmsvf.VideoSegVisualizationHook', interval=1))
# CPU thread count chosen from measured step times (idle vs shared machine,
# mmsvf/engine/hooks/adaptive_threads_hook.py); stop at the first NaN / Inf
custom_hooks = [
    dict(type='mmsvf.AdaptiveThreadsHook'),
    dict(type='mmsvf.NonFiniteGuardHook')
]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
