# Table 6 row 'joint -> spatial-only' (arXiv 2505.10352), mmsvf's reading:
# per-frame Hamming attention and every membrane restarted at every frame
# (the backbone's and the pooling neuron's): the frames are independent
# images. The official code's spatial mode is per-frame dot-product
# attention instead: *_table6-spatial-only-official-2d_* (docs/pose.md,
# "Ablations").
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

model = dict(
    backbone=dict(attn_mode='spatial', reset_each_frame=True),
    pool_neuron=dict(type='LIF', reset_each_step=True))
