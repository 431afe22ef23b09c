# SpikeVideoFormer-Small video recognizer (paper §3): mmaction's
# Recognizer3D + ActionDataPreprocessor (NCTHW) + mmsvf backbone and spiking
# classification head. Use under default_scope='mmaction'.
custom_imports = dict(
    imports=['mmsvf.models', 'mmsvf.datasets', 'mmsvf.engine'],
    allow_failed_imports=False)

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='mmsvf.SpikeVideoFormer',
        _scope_='mmsvf',  # nested parts in mmsvf: docs/registry_and_scope.md
        arch='small',  # embed_dims [64, 128, 256, 360]
        depths=(6, 2),
        num_heads=8,
        mlp_ratio=4,
        attn_mode='joint',  # SDHA over all T*H*W tokens
        similarity='hamming',
        reset_each_frame=False,  # membranes carried across frames
        neuron=dict(type='LIF'),
        out_indices=(3, ),
        with_cp=False),
    cls_head=dict(
        type='mmsvf.SpikingClsHead',
        in_channels=360,
        num_classes=400,
        with_kd=False,
        label_smooth_eps=0.1,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'))
