# ImageNet-1K pre-training of SpikeVideoFormer-Large (55 M), stage A: T = 1,
# the recipe of spikevideoformer-small_8xb128-t1-200e_in1k.py.
_base_ = ['./spikevideoformer-small_8xb128-t1-200e_in1k.py']

model = dict(
    backbone=dict(arch='large'),  # embed_dims [128, 256, 512, 640]
    cls_head=dict(in_channels=640))
