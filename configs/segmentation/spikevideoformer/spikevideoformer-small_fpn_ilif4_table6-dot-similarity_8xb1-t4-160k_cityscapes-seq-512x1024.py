# Table 6 row 'Hamming -> dot product' (arXiv 2505.10352; 65.9 mIoU vs 73.1):
# joint attention over all T*H*W tokens with spike dot-product similarity,
# the official code's att_mode '3D_dot'.
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

model = dict(backbone=dict(similarity='dot'))
