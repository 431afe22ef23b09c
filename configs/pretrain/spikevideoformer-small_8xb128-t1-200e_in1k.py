# ImageNet-1K pre-training of SpikeVideoFormer-Small, stage A (Meta-SpikeFormer
# main_finetune.py): T = 1, 224x224, 200 epochs, 8 GPUs x 128 images, LAMB, lr
# = 6e-4 x 1024 / 256 = 2.4e-3, weight decay 0.05 (none on BN and biases), 10
# warm-up epochs then cosine to 1e-6, RandAugment rand-m9-mstd0.5-inc1, random
# erasing 0.25 (pixel mode), label smoothing 0.1, AMP. Stage B (T = 4) starts
# from this run's last checkpoint: spikevideoformer-small_8xb24-t4-50e_in1k.py.
#
# Images are one-frame clips through mmaction2 (mmpretrain cannot be imported
# on the pinned stack: it needs torchvision; docs/pretrained_models.md).
# The backbone's weights initialise every mmsvf video model unchanged:
#   backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=CKPT,
#                               prefix='backbone.'))
_base_ = [
    '../_base_/models/spikevideoformer_small.py',
    'mmaction::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['mmsvf.models', 'mmsvf.datasets', 'mmsvf.engine'],
    allow_failed_imports=False)

time_steps = 1
# the head's classes; the datasets refuse labels outside [0, num_classes)
num_classes = 1000
model = dict(
    backbone=dict(type='mmsvf.SpikeVideoFormerImage', time_steps=time_steps),
    cls_head=dict(
        num_classes=num_classes,
        label_smooth_eps=0.1,
        # distillation head of Meta-SpikeFormer's T = 4 stage (off here)
        with_kd=False))

# ---------------------------------------------------------------- data
# ImageFolder layout: data/imagenet/{train,val}/<wnid>/<image>.JPEG (val
# sorted into class folders). With mmpretrain-style lists instead, set
# ann_file='data/imagenet/meta/train.txt' (lines "n01440764/xxx.JPEG 0"; paths
# relative to data_prefix.img), which also skips the folder scan at start.
dataset_type = 'mmsvf.ImageFolderDataset'
data_root = 'data/imagenet'
img_mean = [123.675, 116.28, 103.53]
img_std = [58.395, 57.12, 57.375]

train_pipeline = [
    dict(type='ImageDecode'),  # filename -> imgs = [RGB image]
    dict(type='BuildPseudoClip', clip_len=1),  # a one-frame clip
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(
        type='Resize',
        scale=(224, 224),
        keep_ratio=False,
        interpolation='bicubic'),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='mmsvf.RandAugment', policy='rand-m9-mstd0.5-inc1',
         interpolation='bicubic'),
    # timm's pixel-mode erasing: per-pixel N(mean, std) noise
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        fill_color=img_mean,
        fill_std=img_std),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='ImageDecode'),
    dict(type='BuildPseudoClip', clip_len=1),
    # crop_pct 0.875: short side 256, centre 224
    dict(type='Resize', scale=(-1, 256), interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='',
        num_classes=num_classes,
        data_prefix=dict(img='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='',
        num_classes=num_classes,
        data_prefix=dict(img='val'),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric', metric_list=('top_k_accuracy', ))
test_evaluator = val_evaluator

# ------------------------------------------------------------ schedule
max_epochs = 200
warmup_epochs = 10
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
    val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# timm LAMB; lr = blr 6e-4 x (8 x 128) / 256
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='mmsvf.Lamb',
        lr=6e-4 * 1024 / 256,
        betas=(0.9, 0.999),
        eps=1e-6,
        weight_decay=0.05,
        max_grad_norm=1.0,
        trust_clip=True),
    # no weight decay on 1-D parameters (BN weights/biases, conv biases)
    paramwise_cfg=dict(flat_decay_mult=0.0))
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
# lr above is for 1024 images per step; `tools/train.py --auto-scale-lr`
# rescales it linearly for another total batch
auto_scale_lr = dict(enable=False, base_batch_size=1024)

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='auto'),
    logger=dict(type='LoggerHook', interval=100, ignore_last=False))
randomness = dict(seed=0, deterministic=False)
# stop at the first NaN / Inf input or loss (gradients are left to AMP's
# loss scaler); enabled=False turns it off
custom_hooks = [dict(type='mmsvf.NonFiniteGuardHook')]
