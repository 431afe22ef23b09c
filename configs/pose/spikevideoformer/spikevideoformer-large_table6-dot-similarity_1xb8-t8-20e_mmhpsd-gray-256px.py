# Table 6 row 'Hamming -> dot product' (arXiv 2505.10352): joint attention
# over all T*H*W tokens with spike dot-product similarity, the official
# code's att_mode '3D_dot' (Q(K^T V) * 0.125, attention-output LIF V_th 0.5).
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

model = dict(backbone=dict(similarity='dot'))  # joint + dot: '3D_dot'
