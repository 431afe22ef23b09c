# SpikeVideoFormer-Large (55 M) on Kinetics-400, 32 frames (stride 2) --
# the paper's main K-400 model (79.8 / 94.0 top-1 / top-5 reported,
# paper Table 2; the frame count there is not confirmed).
_base_ = ['./spikevideoformer-small_8xb4-t32-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(arch='large'),  # embed_dims [128, 256, 512, 640]
    cls_head=dict(in_channels=640),
    # 12 test views go through the backbone 3 at a time
    test_cfg=dict(max_testing_views=3))
