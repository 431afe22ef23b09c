# Ablation: joint attention, but every neuron restarts at each frame (no
# temporal spiking).
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(reset_each_frame=True),
    cls_head=dict(reset_each_frame=True))
