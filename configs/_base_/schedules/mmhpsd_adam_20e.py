# Predecessor optimisation (HumanPoseTracking_SNN): Adam, lr 0.01 for the
# backbone and 1e-4 for the SMPL regressor, cosine annealing, 20 epochs, batch
# 8, 1 GPU.
max_epochs = 20
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=0.01),
    # 'head' = the SMPL regressor (head.fc_pose / fc_beta / fc_transl)
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=0.01)}))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
# the recipe's batch is 8 on one GPU
auto_scale_lr = dict(enable=False, base_batch_size=8)
