# SpikeVideoFormer-Small, 8 frames (stride 8) per clip.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

clip_len, frame_interval = 8, 8
# the base config's pipelines with every frame sampler set to this clip
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=clip_len, frame_interval=frame_interval)
    if step['type'] == 'mmsvf.CheckedSampleFrames' else step
    for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
