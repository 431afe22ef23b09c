# Spatial-only control of the toy-audio config: attention within each time
# window only and every neuron reset at every window, so nothing is carried
# from one window to the next (the network sees 8 independent images).
_base_ = ['./spikevideoformer-tiny_1xb8-t8_toy-audio.py']
model = dict(
    backbone=dict(attn_mode='spatial', reset_each_frame=True),
    cls_head=dict(reset_each_frame=True))
