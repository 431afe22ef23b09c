# VSPW (480p release), clips of T=4 consecutive frames ending at each
# annotated frame (clamped at the video start); 124 classes, 0 = others
# ignored (reduce_zero_label). Train: random rescale of (853, 480) by
# 0.5-2.0, 480x480 crop, flip and photometric jitter, identical on every frame
# of a clip. Test: every annotated frame of every video, whole clip at 480p;
# metrics: mIoU and the video consistency mVC8 / mVC16.
dataset_type = 'mmsvf.VSPWDataset'
data_root = 'data/VSPW_480p/'
clip_len = 4
frame_interval = 1
crop_size = (480, 480)
train_pipeline = [
    dict(type='mmsvf.LoadClipFromFiles'),
    dict(type='mmsvf.LoadClipAnnotations'),
    dict(
        type='mmsvf.ClipRandomResize',
        scale=(853, 480),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='mmsvf.ClipRandomCrop', crop_size=crop_size,
         cat_max_ratio=0.75),
    dict(type='mmsvf.ClipRandomFlip', prob=0.5),
    dict(type='mmsvf.ClipConsistent',
         transform=dict(type='PhotoMetricDistortion')),
    dict(type='mmsvf.PackClipSegInputs')
]
test_pipeline = [
    dict(type='mmsvf.LoadClipFromFiles'),
    dict(type='mmsvf.ClipResize', scale=(853, 480), keep_ratio=True),
    dict(type='mmsvf.LoadClipAnnotations'),
    dict(type='mmsvf.PackClipSegInputs')
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        data_prefix=dict(img_path='data', seg_map_path='data'),
        clip_len=clip_len,
        frame_interval=frame_interval,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val.txt',
        data_prefix=dict(img_path='data', seg_map_path='data'),
        clip_len=clip_len,
        frame_interval=frame_interval,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='mmsvf.VideoConsistencyMetric', windows=(8, 16))
]
test_evaluator = val_evaluator
