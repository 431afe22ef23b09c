# Copyright (c) mmsvf contributors. All rights reserved.
"""Estimate SMPL joints per frame and draw the projected skeleton.

Example::

    python demo/demo_pose.py VIDEO \\
        configs/pose/spikevideoformer/\\
spikevideoformer-tiny_1xb4-t4_toy-mmhpsd.py \\
        CHECKPOINT --out-file pose.mp4 --save-joints joints.npz

The joints (camera frame, metres) are projected with ``--intrinsics fx fy
cx cy`` (pixels of the input video; default MMHPSD's camera scaled to the
frame size).
"""
import argparse
import os.path as osp

import mmsvf  # noqa: F401  (applies the upstream workarounds)
from mmsvf.utils import add_cfg_options_arg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='SMPL pose per frame with the skeleton drawn')
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('config', help='pose estimator config')
    parser.add_argument('checkpoint', help="checkpoint, or 'none'")
    parser.add_argument('--out-file', help='annotated video (or folder)')
    parser.add_argument('--save-joints', help='write the results (.npz)')
    parser.add_argument('--intrinsics', type=float, nargs=4,
                        metavar=('FX', 'FY', 'CX', 'CY'))
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--non-strict', action='store_true')
    parser.add_argument('--no-progress', action='store_true')
    add_cfg_options_arg(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    from mmsvf.apis import PoseInferencer
    for path, what in ((args.video, 'video'), (args.config, 'config')):
        if not osp.exists(path):
            raise SystemExit(f'{what} {path} not found')
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if ckpt is not None and not osp.isfile(ckpt):
        raise SystemExit(f'checkpoint file {ckpt} not found')
    infer = PoseInferencer(args.config, ckpt, args.device,
                           intrinsics=args.intrinsics,
                           cfg_options=args.cfg_options,
                           strict=not args.non_strict)
    res = infer(args.video, out_file=args.out_file,
                show_progress=False if args.no_progress else None)
    depth = res['transl'][:, 2]
    print(f'{res["num_frames"]} frames; {res["joints"].shape[1]} joints; '
          f'root depth {depth.min():.2f}..{depth.max():.2f} m')
    if args.save_joints:
        np.savez(args.save_joints, joints=res['joints'],
                 keypoints_2d=res['keypoints_2d'], betas=res['betas'],
                 transl=res['transl'], intrinsics=np.array(
                     res['intrinsics']))
        print(f'results: {args.save_joints}')
    if args.out_file:
        print(f'skeleton overlay: {res["out_file"]}')
    return res


if __name__ == '__main__':
    main()
