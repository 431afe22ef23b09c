# Copyright (c) mmsvf contributors. All rights reserved.
"""Look at what a config's data pipeline feeds the model.

Builds the dataset of ``<phase>_dataloader`` with its pipeline (random
augmentation included), runs a few samples through it and writes each as an
image grid (one row per draw and view, frames left to right) or as an mp4.
A clip-consistent transform shows as rows whose frames line up (the same
crop, flip and scale on every frame); drawing each sample ``--repeat``
times shows how the random augmentation varies between draws. Segmentation
clips get their ground-truth label maps blended onto the annotated frames,
pose clips their 2-D joints, recognition clips their class.

Examples::

    python tools/misc/browse_dataset.py configs/recognition/\\
spikevideoformer/spikevideoformer-tiny_1xb8-t8_toy-motion.py \\
        --output-dir work_dirs/browse --max-clips 4 --repeat 3
    python tools/misc/browse_dataset.py CONFIG --phase val --format video
"""
import argparse
import os
import os.path as osp
import sys
import uuid

import numpy as np
from mmengine.config import DictAction

#: packed-input layout of each toolbox's clips (see mmsvf.visualization)
SCOPE_LAYOUTS = {'mmaction': 'NCTHW', 'mmseg': 'TCHW', 'mmpose': 'TCHW'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write augmented clips of a config\'s pipeline (mmsvf)')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--output-dir',
        default=None,
        help='where the images / videos go (default: '
        'work_dirs/browse_dataset/<config name>)')
    parser.add_argument(
        '--phase',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader\'s dataset and pipeline (default: train)')
    parser.add_argument(
        '--max-clips', type=int, default=4,
        help='samples to write (default: 4)')
    parser.add_argument(
        '--repeat', type=int, default=2,
        help='draws of each sample through the pipeline (default: 2)')
    parser.add_argument(
        '--format', choices=['grid', 'video'], default='grid',
        help='grid: one PNG per sample; video: one mp4 per sample whose '
        'frame t shows frame t of every draw and view (default: grid)')
    parser.add_argument('--fps', type=float, default=4,
                        help='frame rate of the videos (default: 4)')
    parser.add_argument(
        '--min-size', type=int, default=128,
        help='upscale frames (nearest) to at least this short side')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of the augmentation')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value pairs (e.g. the data '
        'paths)')
    args = parser.parse_args(argv)
    if args.max_clips < 1 or args.repeat < 1:
        parser.error('--max-clips and --repeat must be >= 1')
    return args


def _to_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else \
        np.asarray(x)


def sample_name(info: dict, index: int) -> str:
    """A short, file-name-safe name of sample ``index`` from its data info
    (video file, VSPW video and frame, MMHPSD sequence and frame)."""
    if info.get('filename'):
        stem = osp.splitext(osp.basename(str(info['filename'])))[0]
    elif info.get('video_name'):
        stem = f'{info["video_name"]}_{info.get("frame_index", "")}'
    elif info.get('action'):
        inds = info.get('frame_inds')
        stem = f'{info["action"]}_{inds[0] if inds is not None else ""}'
    elif info.get('img_path'):
        stem = osp.splitext(osp.basename(str(info['img_path'])))[0]
    else:
        return f'{index:04d}'
    safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in stem)
    return f'{index:04d}_{safe.strip("_")}'


def describe(sample, classes) -> str:
    """The text written on a clip: its class, video or pose target."""
    if sample is None:
        return ''
    if 'gt_label' in sample:
        label = int(np.asarray(_to_numpy(sample.gt_label)).reshape(-1)[0])
        name = classes[label] if classes and label < len(classes) else ''
        return f'label {label} {name}'.strip()
    meta = sample.metainfo
    if 'video_name' in meta:
        return f'{meta["video_name"]} gt {meta.get("gt_frames")}'
    if 'action' in meta:
        return str(meta['action'])
    return ''


def draw_annotations(frames: np.ndarray, sample, palette) -> np.ndarray:
    """Blend segmentation ground truth onto its frames, draw 2-D joints.

    Args:
        frames (np.ndarray): ``(T, H, W, 3)`` one view's frames.
        sample: The packed data sample (``SegDataSample`` with
            ``gt_sem_seg`` and ``gt_frames`` metainfo, ``PoseDataSample``
            with ``gt_instances.keypoints (T, J, 2)``, or anything else).
        palette (Sequence | None): The dataset's colours.
    """
    from mmsvf.visualization import draw_points, overlay_seg_map
    frames = frames.copy()
    if sample is None:
        return frames
    if 'gt_sem_seg' in sample:
        maps = _to_numpy(sample.gt_sem_seg.data)  # (K, H, W)
        gt_frames = sample.metainfo.get('gt_frames', [len(frames) - 1])
        for t, seg in zip(gt_frames, maps):
            frames[t] = overlay_seg_map(frames[t], seg, palette)
    if 'gt_instances' in sample and 'keypoints' in sample.gt_instances:
        points = _to_numpy(sample.gt_instances.keypoints)
        if points.ndim == 3 and len(points) == len(frames):
            frames = np.stack(
                [draw_points(f, p) for f, p in zip(frames, points)])
    return frames


def packed_views(packed: dict, layout: str, bgr: bool) -> np.ndarray:
    """``(V, T, H, W, 3)`` RGB frames of one packed sample."""
    from mmsvf.visualization import clip_views
    inputs = packed['inputs']
    if layout == 'NCTHW' and inputs.dim() == 4:
        layout = 'NCHW'  # 2-D recognisers (and the T = 1 image configs)
    views = clip_views(inputs, layout)
    return views[..., ::-1].copy() if bgr else views


def browse(args) -> list:
    """Write the clips; returns the written paths."""
    from mmengine.registry import DATASETS, init_default_scope
    from mmengine.runner import set_random_seed

    import mmsvf  # noqa: F401  (upstream workarounds, mmsvf:: bases)
    from mmsvf.utils import config_stem, load_tool_config
    from mmsvf.visualization import ClipVisualizer

    cfg = load_tool_config(args.config, args.cfg_options)
    scope = cfg.get('default_scope', 'mmsvf')
    init_default_scope(scope)
    loader = cfg.get(f'{args.phase}_dataloader')
    if not loader or 'dataset' not in loader:
        raise SystemExit(f'{args.config} has no {args.phase}_dataloader '
                         'with a dataset')
    set_random_seed(args.seed)
    dataset = DATASETS.build(loader['dataset'])
    if len(dataset) == 0:
        raise SystemExit(f'the {args.phase} dataset of {args.config} is '
                         'empty')
    layout = SCOPE_LAYOUTS.get(scope, 'NCTHW')
    # mmseg's pipelines load frames in OpenCV's BGR order; the model's
    # preprocessor says so
    bgr = bool(cfg.get('model', {}).get('data_preprocessor',
                                        {}).get('bgr_to_rgb', False))
    meta = getattr(dataset, 'metainfo', {}) or {}
    classes, palette = meta.get('classes'), meta.get('palette')
    out_dir = args.output_dir or osp.join('work_dirs', 'browse_dataset',
                                          config_stem(args.config))
    os.makedirs(out_dir, exist_ok=True)
    visualizer = ClipVisualizer(
        name=f'browse_dataset_{uuid.uuid4().hex}', min_size=args.min_size)
    written = []
    for index in range(min(args.max_clips, len(dataset))):
        rows, texts = [], []
        for draw in range(args.repeat):
            packed = dataset[index]
            sample = packed.get('data_samples')
            views = packed_views(packed, layout, bgr)
            for v, frames in enumerate(views):
                rows.append(draw_annotations(frames, sample, palette))
                line = f'draw {draw + 1}' + (f' view {v + 1}'
                                             if len(views) > 1 else '')
                texts.append([describe(sample, classes), line]
                             if draw == 0 and v == 0 else [line])
        ext = 'mp4' if args.format == 'video' else 'png'
        name = sample_name(dataset.get_data_info(index), index)
        path = osp.join(out_dir, f'{name}.{ext}')
        visualizer.add_clips(osp.basename(path), rows, texts, out_file=path,
                             fps=args.fps)
        written.append(path)
        print(f'{path}: {len(rows)} rows of {max(len(r) for r in rows)} '
              f'frames {rows[0].shape[1]}x{rows[0].shape[2]}')
    return written


def main(argv=None):
    browse(parse_args(argv))
    return 0


if __name__ == '__main__':
    sys.exit(main())
