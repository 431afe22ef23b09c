# Per-frame Hamming attention with membranes carried across frames: between
# the full model and the Table 6 'spatial-only' rows (not itself a Table 6
# row; those are *_table6-spatial-only-official-2d_* and
# *_table6-spatial-only-hamming-reset_*, docs/segmentation.md "Ablations").
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

model = dict(backbone=dict(attn_mode='spatial'))
