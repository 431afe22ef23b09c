# Copyright (c) mmsvf contributors. All rights reserved.
"""Classify one video with a trained recognizer and print the top-5 classes.

Uses mmaction's inference API (``init_recognizer`` /
``inference_recognizer``) with the config's test pipeline.

Example::

    python demo/demo_video.py data/toy_motion/videos/val/grow/grow_0000.mp4 \\
        configs/recognition/spikevideoformer/\\
spikevideoformer-tiny_1xb8-t8_toy-motion.py work_dirs/toy/epoch_12.pth \\
        --label-map data/toy_motion/label_map.txt
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# importing mmsvf first applies the upstream workarounds
import mmsvf  # noqa: F401,E402
from mmsvf.utils import register_all_modules  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Top-5 classes of a video (mmsvf recognizer)')
    parser.add_argument('video', help='video file')
    parser.add_argument('config', help='recognizer config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--label-map',
        help='class names, one per line (line index = label); default: '
        'the label indices')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument('--topk', type=int, default=5, help='classes shown')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value pairs')
    return parser.parse_args(argv)


def top_classes(pred_score, k, names=None):
    """The ``k`` best ``(label, name, score)`` of a score vector.

    Args:
        pred_score (Tensor): ``(num_classes, )`` class scores.
        k (int): How many.
        names (list[str], optional): Class names by label.

    Returns:
        list[tuple[int, str, float]]: best first.
    """
    k = min(k, pred_score.numel())
    values, indices = pred_score.float().topk(k)
    out = []
    for score, label in zip(values.tolist(), indices.tolist()):
        name = names[label] if names is not None and label < len(names) \
            else str(label)
        out.append((label, name, score))
    return out


def main(argv=None):
    args = parse_args(argv)
    from mmaction.apis import inference_recognizer, init_recognizer

    from mmsvf.engine.hooks import read_label_map

    register_all_modules(init_default_scope=False)
    for path, what in ((args.video, 'video'), (args.config, 'config'),
                       (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise SystemExit(f'{what} file {path} not found')
    names = read_label_map(args.label_map) if args.label_map else None

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = init_recognizer(cfg, args.checkpoint, device=args.device)
    num_classes = model.cls_head.num_classes
    if names is not None and len(names) != num_classes:
        raise SystemExit(f'label map {args.label_map} has {len(names)} '
                         f'names but the model has {num_classes} classes')
    result = inference_recognizer(model, args.video)
    print(f'{args.video}: top-{min(args.topk, num_classes)}')
    for label, name, score in top_classes(result.pred_score, args.topk,
                                          names):
        print(f'  {name:<24s} (label {label:>3d})  {score:.4f}')
    return result


if __name__ == '__main__':
    sys.exit(0 if main() is not None else 1)
