# SpikeVideoFormer-Large SMPL pose & shape tracker for grey-scale MMHPSD
# clips (arXiv 2505.10352 §4, Table 3; head, losses and loss weights of the
# first author's JimmyZou/HumanPoseTracking_SNN, docs/faithfulness.md).
# Use under default_scope='mmpose' (mmsvf types are named 'mmsvf.X'; their
# nested parts resolve in mmsvf's scope).
#
# The SMPL body model is licence-gated and NOT shipped: download SMPL for
# Python (v1.1.0) from https://smpl.is.tue.mpg.de and point
# `model.head.smpl_cfg.model_path` at SMPL_MALE.pkl (the predecessor used the
# male model), e.g.
#   --cfg-options model.head.smpl_cfg.model_path=/path/SMPL_MALE.pkl
custom_imports = dict(
    imports=['mmsvf.models', 'mmsvf.datasets', 'mmsvf.evaluation'],
    allow_failed_imports=False)

model = dict(
    type='mmsvf.SpikePoseEstimator',
    backbone=dict(
        type='mmsvf.SpikeVideoFormer',
        _scope_='mmsvf',  # nested parts in mmsvf: docs/registry_and_scope.md
        arch='large',  # embed_dims [128, 256, 512, 640]
        depths=(6, 2),
        num_heads=8,
        mlp_ratio=4,
        attn_mode='joint',  # SDHA over all T*H*W tokens
        similarity='hamming',
        reset_each_frame=False,  # membranes carried across frames
        neuron=dict(type='LIF'),
        in_channels=1,  # grey-scale frames
        out_indices=(3, ),
        with_cp=False),
    # per-frame spike rates of the last map, as HumanPoseTracking_SNN pools
    # the spikes of its last spiking layer ('membrane': mean of the map)
    pool='spikes',
    pool_neuron=dict(type='LIF'),
    head=dict(
        type='mmsvf.SMPLRegressionHead',
        in_channels=640,
        num_joints=24,
        num_betas=10,
        # [Inferred] an upright person in the y-down camera frame; set
        # init_transl to the training set's mean translation (docs/pose.md)
        init_global_orient=(3.1416, 0., 0.),
        init_transl=(0., 0., 0.),
        # joints + transl.detach(), as HumanPoseTracking_SNN's SpikePoseNet
        detach_transl=True,
        smpl_cfg=dict(type='SMPLLayer', model_path='data/smpl/SMPL_MALE.pkl'),
        loss_rot=dict(type='GeodesicRotationLoss', loss_weight=10.),
        loss_transl=dict(type='PoseMSELoss', loss_weight=50.),
        loss_beta=dict(type='PoseMSELoss', loss_weight=1.),
        loss_joints3d=dict(type='PoseMSELoss', loss_weight=1.),
        loss_joints2d=dict(type='ProjectedJointsMSELoss', loss_weight=10.)),
    test_cfg=dict(gt_vertices=True),  # skin the GT mesh for PVE
    data_preprocessor=dict(
        type='mmsvf.ClipPoseDataPreprocessor',
        # ImageNet RGB statistics averaged to one grey channel
        mean=[114.5],
        std=[57.6]))
