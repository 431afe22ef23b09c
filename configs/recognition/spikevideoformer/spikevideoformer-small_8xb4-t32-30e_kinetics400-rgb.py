# SpikeVideoFormer-Small, 32 frames (stride 2) per clip, 8 GPUs x 4 clips
# (lr halved for the effective batch 32).
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

clip_len, frame_interval = 32, 2
# the base config's pipelines with every frame sampler set to this clip
train_pipeline, val_pipeline, test_pipeline = [[
    dict(step, clip_len=clip_len, frame_interval=frame_interval)
    if step['type'] == 'mmsvf.CheckedSampleFrames' else step
    for step in pipeline
] for pipeline in (_base_.train_pipeline, _base_.val_pipeline,
                   _base_.test_pipeline)]

train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=32)
