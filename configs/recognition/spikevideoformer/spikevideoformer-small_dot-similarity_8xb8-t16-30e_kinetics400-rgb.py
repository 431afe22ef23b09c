# Ablation 'Hamming -> dot product' (paper Table 6): joint attention with
# spike dot-product similarity.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(backbone=dict(similarity='dot'))
