# Ablation 'joint -> spatial-only' (paper Table 6): per-frame attention
# and membranes restarted at every frame (frames treated as independent
# images).
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

model = dict(backbone=dict(attn_mode='spatial', reset_each_frame=True))
