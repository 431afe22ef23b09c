# Meta-SpikeFormer / SDT-V3 segmentation recipe: AdamW lr 1e-3,
# weight decay 0.005, neck/head lr x2, linear warm-up 1500 iters then poly
# (power 1.0), 160k iterations (8 GPUs x 1 clip = batch 8 in the configs).
# AMP fp16 as in the recipe (AmpOptimWrapper needs a GPU; on CPU add
# `--cfg-options optim_wrapper.type=OptimWrapper`).
_base_ = ['mmseg::_base_/schedules/schedule_160k.py']

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.005),
    paramwise_cfg=dict(custom_keys={
        'neck': dict(lr_mult=2.),
        'decode_head': dict(lr_mult=2.),
        'auxiliary_head': dict(lr_mult=2.)
    }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        by_epoch=False,
        begin=1500,
        end=160000)
]
# one overlay per evaluated frame when `tools/test.py --show-dir` turns the
# hook on (it draws nothing otherwise)
default_hooks = dict(visualization=dict(type='SegVisualizationHook',
                                        interval=1))
