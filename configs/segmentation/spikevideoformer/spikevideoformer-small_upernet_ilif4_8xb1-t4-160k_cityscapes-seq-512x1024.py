# UPerNet decoder (mmseg UPerHead, no neck) instead of Semantic-FPN on the
# same backbone, data and schedule.
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    neck=None,
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[32, 64, 128, 360],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=128,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
