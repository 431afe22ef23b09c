# Ablation (paper Table 1): spatial attention, then temporal attention (two
# modules per block).
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(backbone=dict(attn_mode='hierarchical'))
