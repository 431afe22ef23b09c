# The main Small config with TensorBoard logging as well as local files
# (`tensorboard --logdir work_dirs`).
_base_ = ['./spikevideoformer-small_8xb8-t16-30e_kinetics400-rgb.py']

vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend')
]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
