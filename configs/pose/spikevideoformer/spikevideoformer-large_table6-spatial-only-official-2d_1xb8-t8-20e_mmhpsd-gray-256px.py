# Table 6 row 'joint -> spatial-only' (arXiv 2505.10352), the official
# code's reading: its att_mode '2D' (official metaspikformer.py
# MS_Attention_RepConv, Meta-SpikeFormer's SDSA), per-frame dot-product
# attention Q(K^T V) * 0.125 with membranes still carried across frames.
# mmsvf's Hamming + per-frame reset reading:
# *_table6-spatial-only-hamming-reset_* (docs/pose.md, "Ablations").
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

model = dict(backbone=dict(attn_mode='2D'))  # = spatial + dot similarity
