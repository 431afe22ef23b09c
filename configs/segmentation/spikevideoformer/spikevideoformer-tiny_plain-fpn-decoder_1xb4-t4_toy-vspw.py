# The toy VSPW recipe (spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py) with
# mmseg's non-spiking Semantic-FPN decoder (FPN + FPNHead, BN + ReLU, per
# frame) instead of the spiking one: the toy counterpart of the
# *_plain-fpn-decoder_* ablation (docs/segmentation.md).
_base_ = ['./spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    neck=dict(
        _delete_=True,
        type='FPN',
        in_channels=[8, 16, 32, 64],
        out_channels=32,
        num_outs=4),
    decode_head=dict(
        _delete_=True,
        type='FPNHead',
        in_channels=[32, 32, 32, 32],
        in_index=[0, 1, 2, 3],
        feature_strides=[2, 4, 8, 16],
        channels=32,
        dropout_ratio=0.1,
        num_classes=4,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
