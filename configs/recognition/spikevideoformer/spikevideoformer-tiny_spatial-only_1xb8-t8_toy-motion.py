# Spatial-only control on the toy-motion videos: per-frame attention and
# per-frame neuron reset (backbone and head), so every frame is classified as
# an independent image and the frame scores are averaged. The toy classes come
# in time-reversal pairs, so this model is at chance within each pair (at most
# 50 % top-1 overall), far below the temporal one.
_base_ = ['./spikevideoformer-tiny_1xb8-t8_toy-motion.py']

model = dict(
    backbone=dict(attn_mode='spatial', reset_each_frame=True),
    cls_head=dict(reset_each_frame=True))
