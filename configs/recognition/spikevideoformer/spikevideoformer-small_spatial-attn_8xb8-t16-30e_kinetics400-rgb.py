# Ablation: per-frame (spatial) attention; neurons still carry their
# membranes across frames.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(backbone=dict(attn_mode='spatial'))
