# SpikeVideoFormer-Large, 16 frames (stride 4).
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(arch='large'),  # embed_dims [128, 256, 512, 640]
    cls_head=dict(in_channels=640),
    # 12 test views go through the backbone 6 at a time
    test_cfg=dict(max_testing_views=6))
