# Cityscapes video sequences (leftImg8bit_sequence + gtFine), clips of T=4
# consecutive frames ending at the annotated 20th frame of each snippet.
# Train: random rescale of (1024, 512) by 0.5-2.0, 512x1024 crop, flip and
# photometric jitter, identical on every frame of a clip. Test: whole clips
# resized to 1024x512 (the paper does not give it; 512x1024 inferred); mIoU is
# computed at the original 2048x1024 (logits are resized back).
dataset_type = 'mmsvf.CityscapesSeqDataset'
data_root = 'data/cityscapes/'
clip_len = 4
frame_interval = 1
crop_size = (512, 1024)
train_pipeline = [
    dict(type='mmsvf.LoadClipFromFiles'),
    dict(type='mmsvf.LoadClipAnnotations'),
    dict(
        type='mmsvf.ClipRandomResize',
        scale=(1024, 512),
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
    dict(type='mmsvf.ClipResize', scale=(1024, 512), keep_ratio=True),
    # annotations after the resize: the metric compares at the original size
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
        data_prefix=dict(
            img_path='leftImg8bit_sequence/train',
            seg_map_path='gtFine/train'),
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
        data_prefix=dict(
            img_path='leftImg8bit_sequence/val', seg_map_path='gtFine/val'),
        clip_len=clip_len,
        frame_interval=frame_interval,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
