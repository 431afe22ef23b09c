# MMHPSD grey-scale frames, T-frame clips (paper Table 3). Test subjects
# 1, 2, 7.
# Layout: see mmsvf/datasets/mmhpsd.py and docs/pose.md.
dataset_type = 'mmsvf.MMHPSDDataset'
data_root = 'data/mmhpsd'
clip_len = 8
frame_interval = 2

train_pipeline = [
    dict(type='mmsvf.LoadMMHPSDClip', color_type='grayscale'),
    # one crop for the whole clip; intrinsics follow it
    dict(
        type='mmsvf.ClipPoseRandomResizedCrop',
        size=(256, 256),
        area_range=(0.7, 1.0),
        aspect_range=(0.9, 1.1)),
    dict(type='mmsvf.PackClipPoseInputs')
]
test_pipeline = [
    dict(type='mmsvf.LoadMMHPSDClip', color_type='grayscale'),
    dict(type='mmsvf.ClipPoseResize', scale=(256, 256)),
    dict(type='mmsvf.PackClipPoseInputs')
]
val_pipeline = test_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        clip_len=clip_len,
        frame_interval=frame_interval,
        clip_stride=1,  # overlapping training clips (predecessor: T // 8)
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        clip_len=clip_len,
        frame_interval=frame_interval,  # non-overlapping test clips
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

# SMPLPoseMetric: MPJPE, PEL-MPJPE, PA-MPJPE, PVE, PCKh@0.5 in mm.
# mmpose's MPJPE (reused as is) reports in the data's unit, metres, with a
# per-group breakdown; prefix 'mmpose' keeps its names apart.
val_evaluator = [
    dict(type='mmsvf.SMPLPoseMetric'),
    dict(type='MPJPE', mode='mpjpe', prefix='mmpose'),
    dict(type='MPJPE', mode='p-mpjpe', prefix='mmpose')
]
test_evaluator = val_evaluator
