# Tiny stage-A pre-training on the synthetic ImageFolder set
# (python tools/data/generate_toy_imagefolder.py --out data/toy_imagefolder):
# the ImageNet recipe of spikevideoformer-small_8xb128-t1-200e_in1k.py (LAMB,
# warm-up + cosine, RandAugment, random erasing, label smoothing) at 32x32 on
# CPU, without AMP. The backbone matches the toy recognition config
# (configs/recognition/spikevideoformer/spikevideoformer-tiny_1xb8-t8_toy-
# motion.py), whose backbone it can initialise:
#   --cfg-options "model.backbone.init_cfg.type=Pretrained" \
#     "model.backbone.init_cfg.checkpoint=WORK_DIR/epoch_12.pth" \
#     "model.backbone.init_cfg.prefix=backbone."
_base_ = ['./spikevideoformer-small_8xb128-t1-200e_in1k.py']

num_classes = 4
model = dict(
    backbone=dict(embed_dims=[16, 32, 64, 64], depths=(1, 1), num_heads=2),
    cls_head=dict(in_channels=64, num_classes=num_classes))

data_root = 'data/toy_imagefolder'
img_mean = [123.675, 116.28, 103.53]
img_std = [58.395, 57.12, 57.375]
train_pipeline = [
    dict(type='ImageDecode'),
    dict(type='BuildPseudoClip', clip_len=1),
    dict(type='RandomResizedCrop', area_range=(0.35, 1.0)),
    dict(type='Resize', scale=(32, 32), keep_ratio=False,
         interpolation='bicubic'),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='mmsvf.RandAugment', policy='rand-m9-mstd0.5-inc1'),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand',
         fill_color=img_mean, fill_std=img_std),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='ImageDecode'),
    dict(type='BuildPseudoClip', clip_len=1),
    dict(type='Resize', scale=(32, 32), keep_ratio=False,
         interpolation='bicubic'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        num_classes=num_classes,
        data_prefix=dict(img='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        num_classes=num_classes,
        data_prefix=dict(img='val'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

max_epochs = 12
warmup_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=4)
optim_wrapper = dict(
    type='OptimWrapper',
    _delete_=True,
    optimizer=dict(
        type='mmsvf.Lamb',
        lr=5e-3,
        weight_decay=0.05,
        max_grad_norm=1.0,
        trust_clip=True),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(
    checkpoint=dict(interval=4, max_keep_ckpts=1),
    logger=dict(interval=4))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
