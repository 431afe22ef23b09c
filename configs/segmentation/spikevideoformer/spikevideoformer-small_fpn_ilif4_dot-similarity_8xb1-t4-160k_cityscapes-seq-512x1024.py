# Ablation 'Hamming -> dot product' (paper Table 6: 65.9 mIoU vs 73.1):
# joint attention with spike dot-product similarity.
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

model = dict(backbone=dict(similarity='dot'))
