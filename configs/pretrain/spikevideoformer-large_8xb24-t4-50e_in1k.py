# ImageNet-1K pre-training of SpikeVideoFormer-Large, stage B: T = 4 from
# stage A (spikevideoformer-large_8xb128-t1-200e_in1k.py), the recipe of
# spikevideoformer-small_8xb24-t4-50e_in1k.py.
_base_ = ['./spikevideoformer-small_8xb24-t4-50e_in1k.py']

model = dict(
    backbone=dict(arch='large'),  # embed_dims [128, 256, 512, 640]
    cls_head=dict(in_channels=640))
load_from = ('work_dirs/spikevideoformer-large_8xb128-t1-200e_in1k/'
             'epoch_200.pth')
