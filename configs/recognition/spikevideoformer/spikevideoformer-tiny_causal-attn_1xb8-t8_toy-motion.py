# Causal model on the toy-motion videos: joint attention restricted to the
# frames up to the query's (attn_mode='causal'), trained with the recipe of
# the temporal model. It can run frame by frame
# (SpikeVideoFormer.forward_step, demo/demo_stream.py) and decide early.
_base_ = ['./spikevideoformer-tiny_1xb8-t8_toy-motion.py']

model = dict(backbone=dict(attn_mode='causal'))
