# Ablation 'Hamming -> dot product' (paper Table 6): joint
# attention with spike dot-product similarity.
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

model = dict(backbone=dict(similarity='dot'))
