# Ablation 'Hamming -> dot product' (SPEC §3.5 b): joint attention with
# spike dot-product similarity.
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(backbone=dict(similarity='dot'))
