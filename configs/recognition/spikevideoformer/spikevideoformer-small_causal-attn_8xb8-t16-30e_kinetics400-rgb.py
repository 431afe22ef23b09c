# Causal space-time attention: the queries of frame t see the keys and values
# of frames <= t (cumulative K^T V). Same parameters and keys as the joint
# model (a joint checkpoint loads); runs online, frame by frame, with constant
# memory (SpikeVideoFormer.forward_step, demo/demo_stream.py).
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

model = dict(backbone=dict(attn_mode='causal'))
