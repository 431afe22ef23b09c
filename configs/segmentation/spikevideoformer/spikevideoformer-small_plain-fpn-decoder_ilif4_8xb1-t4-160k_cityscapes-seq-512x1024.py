# Ablation 'plain decoder': the paper's Cityscapes model (Integer-LIF D = 4
# backbone) decoded by mmseg's non-spiking Semantic-FPN (FPN + FPNHead, BN +
# ReLU, per frame with T folded into the batch) instead of the spiking V2
# decoder. Not spike-driven: the 11 decoder convs read real-valued maps, so
# tools/analysis/energy.py --check-spike-driven lists them.
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    neck=dict(
        _delete_=True,
        type='FPN',
        in_channels=[32, 64, 128, 360],
        out_channels=128,
        num_outs=4),
    decode_head=dict(
        _delete_=True,
        type='FPNHead',
        in_channels=[128, 128, 128, 128],
        in_index=[0, 1, 2, 3],
        feature_strides=[2, 4, 8, 16],
        channels=128,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
