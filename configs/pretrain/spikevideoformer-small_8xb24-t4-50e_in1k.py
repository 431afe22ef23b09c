# ImageNet-1K pre-training of SpikeVideoFormer-Small, stage B
# (Meta-SpikeFormer main_finetune.py):
# T = 4 (each image repeated 4 times by SpikeVideoFormerImage), initialised
# from stage A's last checkpoint, 50 epochs, 8 GPUs x 24 images,
# lr = blr 2e-5 x 192 / 256, 5 warm-up epochs, otherwise stage A's recipe.
#
# Distillation head: Meta-SpikeFormer trains a second classifier `head_kd`
# against a CaFormer-B36 teacher. mmsvf wires no teacher; with
# `with_kd=True` the head_kd layer exists (so converted V2 KD checkpoints load
# fully) and learns from the labels (SpikingClsHead docstring).
_base_ = ['./spikevideoformer-small_8xb128-t1-200e_in1k.py']

time_steps = 4
model = dict(
    backbone=dict(time_steps=time_steps),
    cls_head=dict(with_kd=False))

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
