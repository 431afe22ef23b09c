# SpikeVideoFormer-Small + spiking Semantic-FPN on VSPW (124 classes): LIF
# neurons in the backbone and the decoder, Hamming attention over all T*H*W
# tokens, clips of T = 4 frames ending at each annotated frame, 480x480
# crops, 8 GPUs x 1 clip, AdamW 160k iterations. Reported: 37.9 mIoU
# (arXiv 2505.10352 §4, VSPW table). Evaluates mIoU and mVC8 / mVC16. Start
# from ImageNet weights (model.backbone.init_cfg).
# AMP fp16 (AmpOptimWrapper, GPU only; see the schedule base for CPU).
_base_ = [
    '../../_base_/models/spikevideoformer-small_fpn.py',
    '../../_base_/datasets/vspw_t4_480x480.py',
    'mmseg::_base_/default_runtime.py',
    '../../_base_/schedules/seg_adamw_160k.py'
]
crop_size = (480, 480)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=124))
# VSPW frame names repeat across videos: overlays are named
# "<mode>_<video>_<frame>"
default_hooks = dict(
    visualization=dict(type='mmsvf.VideoSegVisualizationHook', interval=1))
# stop at the first NaN / Inf input, loss or gradient (enabled=False: off)
custom_hooks = [dict(type='mmsvf.NonFiniteGuardHook')]
