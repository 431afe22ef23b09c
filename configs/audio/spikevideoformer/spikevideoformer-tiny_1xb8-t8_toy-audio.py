# Tiny SpikeVideoFormer on the toy-audio wav files (tools/data/
# generate_toy_audio.py): rising vs falling chirps, accelerating vs
# decelerating click trains. mmaction2's audio path (AudioDataset,
# PackActionInputs 'audios', RecognizerAudio) with mmsvf's wav -> log-mel
# transforms; the spectrogram is cut into T = 8 time windows (32 mel bands x
# 16 frames of 8 ms each) that the backbone reads as the frames of a clip.
# CPU minutes: `python tools/train.py <this config> --work-dir ...`.
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(
    imports=['mmsvf.models', 'mmsvf.datasets', 'mmsvf.engine'],
    allow_failed_imports=False)

num_classes = 4
num_frames, window, n_mels = 8, 16, 32
model = dict(
    type='RecognizerAudio',
    backbone=dict(
        type='mmsvf.SpikeVideoFormer',
        _scope_='mmsvf',
        embed_dims=[16, 32, 64, 64], depths=(1, 1), num_heads=2,
        in_channels=1,  # one spectrogram channel
        attn_mode='joint',  # SDHA over all T*H*W tokens
        similarity='hamming',
        neuron=dict(type='IntegerLIF', max_level=4),
        out_indices=(3, )),
    cls_head=dict(
        type='mmsvf.SpikingClsHead',
        in_channels=64,
        num_classes=num_classes,
        label_smooth_eps=0.0,
        neuron=dict(type='IntegerLIF', max_level=4),
        average_clips='prob'),
    # features are standardised per clip by LoadWavLogMel
    data_preprocessor=dict(type='ActionDataPreprocessor',
                           format_shape='NCTHW'))

dataset_type = 'AudioDataset'
data_root = 'data/toy_audio'
pipeline = [
    dict(type='mmsvf.LoadWavLogMel', sample_rate=16000, n_fft=512,
         hop_length=128, n_mels=n_mels),
    dict(type='mmsvf.SpectrogramToFrames', num_frames=num_frames,
         window=window),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/train.txt',
        num_classes=num_classes,
        data_prefix=dict(audio=data_root),
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/val.txt',
        num_classes=num_classes,
        data_prefix=dict(audio=data_root),
        pipeline=pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccMetric', metric_list=('top_k_accuracy', ))
test_evaluator = val_evaluator

max_epochs = 15
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# the toy-motion recipe (see its config for why these values)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=None)
warmup_epochs = 2
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-5, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True)
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, ignore_last=False),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=1))
custom_hooks = [dict(type='mmsvf.NonFiniteGuardHook')]
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
randomness = dict(seed=0, deterministic=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
