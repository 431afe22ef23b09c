# T = 32 frames per clip (the paper's main MMHPSD setting, paper Table 3).
_base_ = ['./spikevideoformer-large_1xb8-t8-20e_mmhpsd-gray-256px.py']

clip_len = 32
train_dataloader = dict(dataset=dict(clip_len=clip_len, clip_stride=4))
val_dataloader = dict(dataset=dict(clip_len=clip_len))
test_dataloader = val_dataloader
