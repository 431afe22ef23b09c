# T = 32 frames per clip, the paper's main MMHPSD setting (arXiv 2505.10352
# Table 3), with the first author's T = 32 recipe (JimmyZou/
# HumanPoseTracking_SNN model_snn/run_train.sh: --num_frames 32, --epochs 25,
# CosineAnnealingLR with --lr_decay_step 26 as T_max, stepped per epoch, so
# the learning rate does not reach 0 at the last epoch; Adam, lr 0.01 /
# regressor 1e-4, batch 8).
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

clip_len = 32
train_dataloader = dict(dataset=dict(clip_len=clip_len, clip_stride=4))
val_dataloader = dict(dataset=dict(clip_len=clip_len))
test_dataloader = val_dataloader

max_epochs = 25
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=26,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
