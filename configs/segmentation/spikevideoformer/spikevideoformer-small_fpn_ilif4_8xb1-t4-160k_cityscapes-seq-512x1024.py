# SpikeVideoFormer-Small + spiking Semantic-FPN on Cityscapes video sequences,
# the paper's Cityscapes setting (arXiv 2505.10352 §4, Cityscapes table):
# Integer-LIF neurons with D = 4 in the backbone and the decoder, binary
# (LIF) Q/K/V and attention-output neurons so that SDHA is the paper's
# binary Hamming attention (§3.3; docs/segmentation.md, "Integer neurons and
# the attention"), Hamming attention over all T*H*W tokens, clips of T = 4
# frames ending at the annotated frame, 512x1024 crops, 8 GPUs x 1 clip,
# AdamW 160k iterations. Reported: 73.1 mIoU (17.8 M params, energy
# 65.3 mJ). Start from ImageNet weights (random init reported at 61.3 mIoU,
# Table 6): set model.backbone.init_cfg=dict(type='Pretrained',
# checkpoint=...). AMP fp16 (AmpOptimWrapper, GPU only; see the schedule
# base for CPU).
_base_ = [
    '../../_base_/models/spikevideoformer-small_fpn.py',
    '../../_base_/datasets/cityscapes-seq_t4_512x1024.py',
    'mmseg::_base_/default_runtime.py',
    '../../_base_/schedules/seg_adamw_160k.py'
]
crop_size = (512, 1024)
ilif4 = dict(type='IntegerLIF', max_level=4)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(neuron=ilif4, attn_neuron=dict(type='LIF')),
    neck=dict(neuron=ilif4),
    decode_head=dict(num_classes=19, neuron=ilif4))
# stop at the first NaN / Inf input, loss or gradient (enabled=False: off)
custom_hooks = [dict(type='mmsvf.NonFiniteGuardHook')]
