# Ablation 'Joint -> Spatial-only' (paper Table 6): per-frame attention and
# per-frame neuron reset, i.e. the frames are independent images whose
# scores are averaged.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(
    backbone=dict(attn_mode='spatial', reset_each_frame=True),
    cls_head=dict(reset_each_frame=True))
