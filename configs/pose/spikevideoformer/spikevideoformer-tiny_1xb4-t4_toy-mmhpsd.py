# Tiny SpikeVideoFormer on the synthetic MMHPSD-layout toy data; trains on
# 2 CPU cores in minutes. Make the data (and its synthetic SMPL-format body
# model, toy_smpl.npz) first:
#   python tools/data/generate_toy_mmhpsd.py --out data/toy_mmhpsd
#   python tools/train.py configs/pose/spikevideoformer/\
#       spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py
_base_ = [
    '../../_base_/models/spikevideoformer-large_smpl.py',
    '../../_base_/datasets/mmhpsd.py',
    '../../_base_/pose_runtime.py'
]

data_root = 'data/toy_mmhpsd'
clip_len, frame_interval, size = 4, 1, 64

model = dict(
    backbone=dict(
        arch=None,
        embed_dims=[16, 32, 64, 64],
        depths=(1, 1),
        num_heads=2,
        # batch-statistics BN as in the paper recipe. Not norm_eval=True:
        # BN with its initial fixed statistics is the identity, the first
        # stage's spikes are too sparse to make the later LIF neurons fire,
        # and the pooled features are the same for every clip (the model can
        # only learn the training-set mean; docs/pose.md)
        norm_eval=False),
    head=dict(
        in_channels=64,
        init_transl=(0., 0., 3.5),  # the toy figures stand 3.2-3.8 m away
        smpl_cfg=dict(model_path=f'{data_root}/toy_smpl.npz')),
    data_preprocessor=dict(mean=[30.], std=[50.]))

train_pipeline = [
    dict(type='mmsvf.LoadMMHPSDClip', color_type='grayscale'),
    dict(
        type='mmsvf.ClipPoseRandomResizedCrop',
        size=(size, size),
        area_range=(0.8, 1.0),
        aspect_range=(0.9, 1.1)),
    dict(type='mmsvf.PackClipPoseInputs')
]
test_pipeline = [
    dict(type='mmsvf.LoadMMHPSDClip', color_type='grayscale'),
    dict(type='mmsvf.ClipPoseResize', scale=(size, size)),
    dict(type='mmsvf.PackClipPoseInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        clip_len=clip_len,
        frame_interval=frame_interval,
        clip_stride=2,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        clip_len=clip_len,
        frame_interval=frame_interval,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 12
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# the toy trains every part at one lr (the MMHPSD recipe's 1e-4 regressor lr
# would barely move in a few hundred steps)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-3),
    clip_grad=dict(max_norm=10., norm_type=2))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-4,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(interval=4, max_keep_ckpts=1))
log_processor = dict(window_size=5)
# CPU thread count chosen from measured step times (idle vs shared machine,
# mmsvf/engine/hooks/adaptive_threads_hook.py)
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='mmsvf.AdaptiveThreadsHook'),
    dict(type='mmsvf.NonFiniteGuardHook')
]
