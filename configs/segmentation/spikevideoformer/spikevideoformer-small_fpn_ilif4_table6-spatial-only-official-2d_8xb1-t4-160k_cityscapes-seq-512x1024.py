# Table 6 row 'joint -> spatial-only' (arXiv 2505.10352; 62.1 mIoU vs 73.1),
# the official code's reading: att_mode '2D' (official metaspikformer.py
# MS_Attention_RepConv, Meta-SpikeFormer's SDSA), per-frame dot-product
# attention with membranes still carried across frames.
# mmsvf's Hamming + per-frame reset reading:
# *_table6-spatial-only-hamming-reset_* (docs/segmentation.md, "Ablations").
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

model = dict(backbone=dict(attn_mode='2D'))  # = spatial + dot similarity
