# Binary spikes (D = 1): spikingjelly-style LIF neurons (tau 2, hard reset)
# instead of Integer-LIF D = 4, in the backbone and
# the spiking decoder. For the I-LIF quantiser with D = 1 use
# neuron=dict(type='IntegerLIF', max_level=1).
_base_ = ['./spikevideoformer-small_fpn_ilif4_8xb1-t4-160k_cityscapes-seq-512x1024.py']  # noqa: E501

lif = dict(_delete_=True, type='LIF')
model = dict(
    backbone=dict(neuron=lif),
    neck=dict(neuron=lif),
    decode_head=dict(neuron=lif))
