# SpikeVideoFormer-Small video segmentor (arXiv 2505.10352 §4 video semantic
# segmentation): a spike-driven Semantic-FPN decoder in Meta-SpikeFormer V2's
# design (segmentation code: necks/fpn.py FPN_SNN, decode_heads/fpn_head.py
# FPNHead_SNN; a neuron before every conv, a final decode_lif, no ReLU) on the
# four backbone stages (strides 2, 4, 8, 16; channels 32, 64, 128, 360),
# neck out / head channels 128, dropout 0.1.
# mmsvf.VideoEncoderDecoder runs the backbone once per clip (B, T, C, H, W);
# the spiking neck and head take the time-first maps [T, B, C, h, w] of the
# whole clip (their neurons integrate over the frames, from rest in every
# clip) and classify the annotated frames. The plain mmseg FPN + FPNHead
# (BN + ReLU) is the ablation config *_plain-fpn-decoder_*.
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
        type='mmsvf.SpikingFPN',
        in_channels=[32, 64, 128, 360],
        out_channels=128,
        num_outs=4,
        neuron=dict(type='LIF')),
    decode_head=dict(
        type='mmsvf.SpikingFPNHead',
        in_channels=[128, 128, 128, 128],
        in_index=[0, 1, 2, 3],
        feature_strides=[2, 4, 8, 16],
        channels=128,
        dropout_ratio=0.1,
        num_classes=19,
        neuron=dict(type='LIF'),
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
