# Table 6 row 'joint -> spatial-only' (arXiv 2505.10352; 62.1 mIoU vs 73.1),
# mmsvf's reading: per-frame Hamming attention and every membrane restarted
# at every frame, in the backbone and the spiking decoder: the frames are
# independent images. The official code's reading (per-frame dot product):
# *_table6-spatial-only-official-2d_* (docs/segmentation.md, "Ablations").
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

ilif4_reset = dict(type='IntegerLIF', max_level=4, reset_each_step=True)
model = dict(
    backbone=dict(attn_mode='spatial', reset_each_frame=True),
    neck=dict(neuron=ilif4_reset),
    decode_head=dict(neuron=ilif4_reset))
