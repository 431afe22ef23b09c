# Spatial-only control on the toy-motion videos: per-frame attention and
# per-frame neuron reset (backbone and head), so every frame is classified as
# an independent image and the frame scores are averaged. The toy classes
# differ only in motion, so this model should stay far below the temporal one.
_base_ = ['./spikevideoformer-tiny_1xb8-t8_toy-motion.py']

model = dict(
    backbone=dict(attn_mode='spatial', reset_each_frame=True),
    cls_head=dict(reset_each_frame=True))
