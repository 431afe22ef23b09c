# Copyright (c) mmsvf contributors. All rights reserved.
"""Segment every frame of a video and write it with the masks overlaid.

Example::

    python demo/demo_segmentation.py VIDEO \\
        configs/segmentation/spikevideoformer/\\
spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py CHECKPOINT \\
        --out-file seg.mp4 --palette vspw

``VIDEO`` is a video file or a folder of frames (sorted image files).
``--palette`` is ``vspw``, ``cityscapes`` or omitted (the config's).
"""
import argparse
import os.path as osp

import mmsvf  # noqa: F401  (applies the upstream workarounds)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Video semantic segmentation with masks overlaid')
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('config', help='segmentor config')
    parser.add_argument('checkpoint', help="checkpoint, or 'none'")
    parser.add_argument('--out-file', help='annotated video (or folder)')
    parser.add_argument('--palette', help="'vspw', 'cityscapes'")
    parser.add_argument('--alpha', type=float, default=0.5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--non-strict', action='store_true')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def video_arg(path):
    if not osp.exists(path):
        raise SystemExit(f'video {path} not found')
    return path


def checkpoint_arg(path):
    if path.lower() == 'none':
        return None
    if not osp.isfile(path):
        raise SystemExit(f'checkpoint file {path} not found')
    return path


def main(argv=None):
    args = parse_args(argv)
    from mmsvf.apis import SegmentationInferencer
    video = video_arg(args.video)
    infer = SegmentationInferencer(args.config, checkpoint_arg(
        args.checkpoint), args.device, palette=args.palette,
        strict=not args.non_strict)
    res = infer(video, out_file=args.out_file, alpha=args.alpha,
                show_progress=False if args.no_progress else None)
    masks = res['masks']
    names = res['classes'] or [str(i) for i in range(len(res['palette']))]
    counts = [(int((masks == k).sum()), names[k] if k < len(names) else k)
              for k in range(len(res['palette']))]
    total = masks.size
    print(f'{res["num_frames"]} frames segmented; class shares:')
    for count, name in sorted(counts, reverse=True):
        if count:
            print(f'  {name:<24} {100.0 * count / total:6.2f} %')
    if args.out_file:
        print(f'overlay: {res["out_file"]}')
    return res


if __name__ == '__main__':
    main()
