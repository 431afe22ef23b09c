# SpikeVideoFormer-Small video segmentor (Meta-SpikeFormer seg.): Semantic-FPN
# (mmseg FPN neck + FPNHead, out/head channels 128, dropout 0.1) on the four
# backbone stages (strides 2, 4, 8, 16; channels 32, 64, 128, 360).
# mmsvf.VideoEncoderDecoder runs the backbone once per clip (B, T, C, H, W),
# folds T into the batch for neck and head and decodes the annotated frames.
# Use under default_scope='mmseg'.
custom_imports = dict(
    imports=['mmsvf.models', 'mmsvf.datasets', 'mmsvf.evaluation',
             'mmsvf.engine'],
    allow_failed_imports=False)

# SyncBN needs a distributed GPU run; plain BN works everywhere.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='mmsvf.VideoSegDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=None,  # set to the crop size by the dataset configs
    test_cfg=dict(size_divisor=16))  # the backbone needs H, W % 16 == 0
model = dict(
    type='mmsvf.VideoEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='SpikeVideoFormer',
        _scope_='mmsvf',  # nested parts in mmsvf: docs/registry_and_scope.md
        arch='small',  # embed_dims [64, 128, 256, 360]
        depths=(6, 2),
        num_heads=8,
        mlp_ratio=4,
        attn_mode='joint',  # SDHA over all T*H*W tokens of the clip
        similarity='hamming',
        reset_each_frame=False,  # membranes carried across frames
        neuron=dict(type='LIF'),
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=None),  # ImageNet weights: init_cfg=dict(type='Pretrained',
    #                      checkpoint=..., prefix='backbone.')
    neck=dict(
        type='FPN',
        in_channels=[32, 64, 128, 360],
        out_channels=128,
        num_outs=4),
    decode_head=dict(
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
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
