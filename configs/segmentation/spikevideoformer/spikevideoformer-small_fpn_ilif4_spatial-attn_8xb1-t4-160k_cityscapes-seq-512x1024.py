# Ablation 'joint -> spatial-only' (paper Table 6: 62.1 mIoU vs 73.1):
# per-frame attention (membranes still carried across frames; add
# reset_each_frame=True for fully independent frames).
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

model = dict(backbone=dict(attn_mode='spatial'))
