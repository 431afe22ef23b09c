# Copyright (c) mmsvf contributors. All rights reserved.
"""Classify one video with a trained recognizer and print the top-5 classes.

Uses mmaction's inference API (``init_recognizer`` /
``inference_recognizer``) with the config's test pipeline. The checkpoint must
fit the model (``--non-strict``: load what fits); a video the pipeline cannot
read is an error naming the file and the failing step.

Example::

    python demo/demo_video.py data/toy_motion/videos/val/grow/grow_0000.mp4 \\
        configs/recognition/spikevideoformer/\\
spikevideoformer-tiny_1xb8-t8_toy-motion.py work_dirs/toy/epoch_12.pth \\
        --label-map data/toy_motion/label_map.txt
"""
import argparse
import os.path as osp
import sys

# importing mmsvf first applies the upstream workarounds
import mmsvf  # noqa: E402

if getattr(mmsvf, '__file__', None) is None:  # a folder shadows the package
    raise SystemExit(
        f'"import mmsvf" found the folder(s) {", ".join(mmsvf.__path__)}, '
        'which hold no __init__.py, instead of the mmsvf package. A clone of '
        'the repository named mmsvf whose parent folder is on sys.path? Run '
        'from inside the clone, or put the clone itself on PYTHONPATH.')

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmsvf.utils import (  # noqa: E402
    add_cfg_options_arg,
    merge_cfg_options,
    register_all_modules,
)


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
        '--non-strict',
        action='store_true',
        help='load the checkpoint tensors that fit the model, skip others')
    add_cfg_options_arg(parser)
    return parser.parse_args(argv)


def load_clip(cfg, video):
    """Run the config's test pipeline on ``video``, step by step.

    Returns:
        dict: The packed sample (``inputs``, ``data_samples``).

    Raises:
        SystemExit: A step failed (a corrupt or unsupported file), naming the
            video, the step and the decoder's message.
    """
    from mmengine.dataset import Compose
    pipeline = Compose(cfg.test_pipeline)
    data = dict(filename=video, label=-1, start_index=0, modality='RGB')
    for step in pipeline.transforms:
        try:
            data = step(data)
        except Exception as err:  # noqa: BLE001 - reported with the file
            raise SystemExit(
                f'cannot read video {video}: the test pipeline step '
                f'{type(step).__name__} failed ({type(err).__name__}: '
                f'{str(err).strip()[:300]}). Expected a complete video file '
                'its decoder can read; is it corrupt or truncated?') from err
        if data is None:
            raise SystemExit(f'video {video}: the test pipeline step '
                             f'{type(step).__name__} dropped it')
    return data


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
    from mmengine.dataset import Compose

    from mmsvf.engine.hooks import read_label_map
    from mmsvf.utils import CheckpointLoadError, load_checked

    register_all_modules(init_default_scope=False)
    for path, what in ((args.video, 'video'), (args.config, 'config'),
                       (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise SystemExit(f'{what} file {path} not found')
    names = read_label_map(args.label_map) if args.label_map else None

    cfg = merge_cfg_options(Config.fromfile(args.config), args.cfg_options,
                            args.config)
    model = init_recognizer(cfg, None, device=args.device)
    try:
        load_checked(model, args.checkpoint, strict=not args.non_strict,
                     switch='pass --non-strict')
    except CheckpointLoadError as err:
        raise SystemExit(str(err)) from err
    num_classes = model.cls_head.num_classes
    if names is not None and len(names) != num_classes:
        raise SystemExit(f'label map {args.label_map} has {len(names)} '
                         f'names but the model has {num_classes} classes')
    # decoded here so that a corrupt file is reported with its name; the
    # model gets the packed clip through an empty pipeline
    clip = load_clip(cfg, args.video)
    result = inference_recognizer(model, clip, test_pipeline=Compose([]))
    scores = result.pred_score
    if not bool(torch.isfinite(scores).all()):
        # a NaN score would still come out of topk as "the" label
        raise SystemExit(
            f'{args.video}: the model gave non-finite class scores '
            f'({int((~torch.isfinite(scores)).sum())} of {scores.numel()}); '
            f'no label is reported. Check the checkpoint {args.checkpoint} '
            'for NaN/Inf weights and the input for corrupt frames.')
    print(f'{args.video}: top-{min(args.topk, num_classes)}')
    for label, name, score in top_classes(result.pred_score, args.topk,
                                          names):
        print(f'  {name:<24s} (label {label:>3d})  {score:.4f}')
    return result


if __name__ == '__main__':
    sys.exit(0 if main() is not None else 1)
