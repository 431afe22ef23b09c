# ImageNet-1K pre-training of SpikeVideoFormer-Small, stage B (Meta-SpikeFormer
# V2 main_finetune.py / train scripts): T = 4 (each image repeated 4 times by
# SpikeVideoFormerImage), initialised from stage A's last checkpoint,
# 50 epochs, 8 GPUs x 24 images, lr = blr 2e-5 x 192 / 256, 5 warm-up epochs,
# otherwise stage A's recipe.
#
# Hard distillation (V2: DeiT hard distillation from CaFormer-B36, alpha 0.5):
# mmsvf.DistillRecognizer3D takes a frozen teacher (kept out of the
# checkpoint) whose argmax labels train the second classifier head_kd.
# Off by default (no teacher ships); switch it on with e.g.
#   --cfg-options model.cls_head.with_kd=True \
#     "+model.teacher.timm=caformer_b36.sail_in22k_ft_in1k"
# (timm needs torchvision), +model.teacher.torchscript=TEACHER.pt, or
# +model.teacher.config=CONFIG.py +model.teacher.checkpoint=CKPT.pth
# (docs/pretrained_models.md, "Stage B distillation").
_base_ = ['./spikevideoformer-small_8xb128-t1-200e_in1k.py']

time_steps = 4
model = dict(
    type='mmsvf.DistillRecognizer3D',
    # dict(): none; dict(timm=...) | dict(torchscript=...) | dict(config=...)
    teacher=dict(),
    backbone=dict(time_steps=time_steps),
    cls_head=dict(with_kd=False, kd_alpha=0.5))

train_dataloader = dict(batch_size=24)
val_dataloader = dict(batch_size=24)
test_dataloader = dict(batch_size=24)

max_epochs = 50
warmup_epochs = 5
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=2e-5 * 192 / 256))
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
auto_scale_lr = dict(enable=False, base_batch_size=192)

# stage A's final weights (backbone + classifier); an absent head_kd is
# reported as missing and keeps its own init
load_from = ('work_dirs/spikevideoformer-small_8xb128-t1-200e_in1k/'
             'epoch_200.pth')
