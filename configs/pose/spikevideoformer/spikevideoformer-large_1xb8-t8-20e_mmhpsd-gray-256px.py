# SpikeVideoFormer-Large, MMHPSD grey-scale frames, T = 8, 256x256, batch 8
# on one GPU, predecessor optimisation (HumanPoseTracking_SNN).
# Set the SMPL model path:
#   --cfg-options model.head.smpl_cfg.model_path=/path/to/SMPL_MALE.pkl
# ImageNet pre-training matters (paper Table 6): load it with
#   model.backbone.init_cfg.type=Pretrained ...checkpoint=PATH
_base_ = [
    '../../_base_/models/spikevideoformer-large_smpl.py',
    '../../_base_/datasets/mmhpsd.py',
    '../../_base_/schedules/mmhpsd_adam_20e.py',
    '../../_base_/pose_runtime.py'
]
