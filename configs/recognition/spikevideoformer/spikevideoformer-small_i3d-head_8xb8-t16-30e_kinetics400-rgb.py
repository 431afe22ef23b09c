# The main Small config with mmaction's (non-spiking) I3DHead instead of the
# spiking head: FeatureSelector hands the last stage's NCTHW map to the head,
# which average-pools it over T, h, w.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(
    neck=dict(type='mmsvf.FeatureSelector', index=-1),
    cls_head=dict(
        _delete_=True,
        type='I3DHead',
        in_channels=360,
        num_classes=400,
        spatial_type='avg',
        dropout_ratio=0.5,
        label_smooth_eps=0.1,
        average_clips='prob'))
