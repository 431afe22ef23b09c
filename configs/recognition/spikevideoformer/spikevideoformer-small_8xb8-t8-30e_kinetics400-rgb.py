# SpikeVideoFormer-Small, 8 frames (stride 8) per clip.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

clip_len, frame_interval = 8, 8
# the decoder chosen in the base config (video_backend there)
video_init, video_decode = _base_.video_init, _base_.video_decode
sample = dict(type='mmsvf.CheckedSampleFrames', clip_len=clip_len,
              frame_interval=frame_interval)  # short videos raise
train_pipeline = [
    video_init,
    dict(**sample, num_clips=1),
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
    dict(**sample, num_clips=1, test_mode=True),
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
    dict(**sample, num_clips=4, test_mode=True),
    video_decode,
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(
        type='PackActionInputs',
        meta_keys=('img_shape', 'img_key', 'video_id', 'timestamp',
                   'filename'))
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
