# Copyright (c) mmsvf contributors. All rights reserved.
"""Write a tiny synthetic video-segmentation dataset in the VSPW layout.

Every video shows 2-3 shapes moving (and bouncing off the borders) over a
textured, greyish background that drifts slowly; the masks label every
pixel. The shapes' classes have their own shape and colour family, the
background texture, tint and brightness change from video to video, and one
video in two has a small noisy patch labelled 0 ("others", ignored by
``reduce_zero_label``).

=============  ==========  ===============================================
class (toy)    VSPW label  what
=============  ==========  ===============================================
``wall``       1           textured background (stripes + noise), drifting
``ball``       75          filled circle, reddish
``box``        77          filled square, bluish
``toy``        70          filled triangle, greenish
(others)       0           optional 6x6 noise patch, ignored
=============  ==========  ===============================================

The mask values are the real VSPW ids (class index in VSPW's 124 classes
+ 1), so the toy set is a VSPW subset: a config selects the four classes with
``metainfo=dict(classes=('wall', 'ball', 'box', 'toy'))`` and mmseg's label
map sends them to 0..3.

Layout written under ``--out`` (default ``data/toy_vspw``)::

    data/<video>/origin/00000000.jpg ...   frames (BGR JPEG, quality 95)
    data/<video>/mask/00000000.png ...     P-mode PNG masks
    train.txt, val.txt, test.txt           one video per line (test = val)
    meta.json                              the generator arguments

Usage::

    python tools/data/generate_toy_vspw.py --out data/toy_vspw --seed 0

The output is a function of the arguments only (every video has its own
random stream seeded by ``(seed, split, index)``).
"""
import argparse
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
from PIL import Image

#: toy class name → (VSPW mask id, shape, BGR colour centre)
TOY_CLASSES = {
    'wall': (1, None, None),
    'ball': (75, 'circle', (40, 40, 200)),
    'box': (77, 'square', (200, 60, 40)),
    'toy': (70, 'triangle', (50, 190, 60)),
}
SPLITS = {'train': 0, 'val': 1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a tiny VSPW-layout video segmentation set')
    parser.add_argument('--out', default='data/toy_vspw',
                        help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--num-train', type=int, default=12,
                        help='training videos')
    parser.add_argument('--num-val', type=int, default=3,
                        help='validation videos (also the test split)')
    parser.add_argument('--frames', type=int, default=16,
                        help='frames per video')
    parser.add_argument('--size', type=int, default=64,
                        help='frame height and width (pixels)')
    return parser.parse_args(argv)


def _palette() -> list:
    palette = np.zeros((256, 3), dtype=np.uint8)
    rng = np.random.RandomState(124)
    palette[1:125] = rng.randint(0, 256, size=(124, 3))
    return palette.flatten().tolist()


def _background(rng, size, num_frames):
    """A drifting striped and noisy texture, ``(F, H, W, 3)`` uint8."""
    pad = num_frames * 2 + size
    yy, xx = np.mgrid[0:pad, 0:pad].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 14)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi /
                     period)
    # greyish with a slight tint: the shapes' colour families stay distinct
    base = rng.uniform(70, 170) + rng.uniform(-15, 15, size=3)
    amp = rng.uniform(15, 35)
    noise = rng.normal(0, 12, size=(pad, pad, 3))
    tex = np.clip(base + amp * stripes[..., None] + noise, 0, 255)
    dx, dy = rng.choice([-1, 0, 1], size=2)
    frames = []
    for t in range(num_frames):
        ox = num_frames + dx * t
        oy = num_frames + dy * t
        frames.append(tex[oy:oy + size, ox:ox + size])
    return np.stack(frames).astype(np.uint8)


def _draw(canvas, shape, center, radius, value):
    cx, cy = int(round(center[0])), int(round(center[1]))
    if shape == 'circle':
        cv2.circle(canvas, (cx, cy), radius, value, thickness=-1)
    elif shape == 'square':
        cv2.rectangle(canvas, (cx - radius, cy - radius),
                      (cx + radius, cy + radius), value, thickness=-1)
    else:
        pts = np.array([[cx, cy - radius], [cx - radius, cy + radius],
                        [cx + radius, cy + radius]], dtype=np.int32)
        cv2.fillPoly(canvas, [pts], value)


def make_video(rng, size, num_frames):
    """One video: frames ``(F, H, W, 3)`` BGR and VSPW-id masks ``(F, H, W)``.

    Args:
        rng (np.random.Generator): the video's random stream.
        size (int): frame height and width.
        num_frames (int): frames.

    Returns:
        tuple[np.ndarray, np.ndarray]: frames (uint8) and masks (uint8).
    """
    frames = _background(rng, size, num_frames)
    masks = np.full((num_frames, size, size), TOY_CLASSES['wall'][0],
                    dtype=np.uint8)
    names = [n for n in TOY_CLASSES if TOY_CLASSES[n][1]]
    objects = []
    for _ in range(rng.integers(2, 4)):
        name = names[rng.integers(len(names))]
        radius = int(rng.integers(size // 8, size // 5 + 1))
        pos = rng.uniform(radius, size - radius, size=2)
        vel = rng.uniform(-2.5, 2.5, size=2)
        colour = np.clip(
            np.array(TOY_CLASSES[name][2]) + rng.normal(0, 20, 3), 0, 255)
        objects.append([name, radius, pos, vel, colour])
    patch = None
    if rng.random() < 0.5:
        py, px = rng.integers(0, size - 6, size=2)
        patch = (py, px, rng.integers(0, 256, size=(6, 6, 3)))
    for t in range(num_frames):
        img = frames[t].copy()
        for name, radius, pos, vel, colour in objects:
            mask_id, shape, _ = TOY_CLASSES[name]
            _draw(masks[t], shape, pos, radius, int(mask_id))
            layer = np.zeros_like(img)
            _draw(layer, shape, pos, radius, (1, 1, 1))
            shade = colour + rng.normal(0, 8, size=img.shape)
            img = np.where(layer > 0, np.clip(shade, 0, 255), img)
            # move and bounce
            pos += vel
            for d in range(2):
                if pos[d] < radius or pos[d] > size - radius:
                    vel[d] = -vel[d]
                    pos[d] = np.clip(pos[d], radius, size - radius)
        if patch is not None:
            py, px, noise = patch
            img[py:py + 6, px:px + 6] = noise
            masks[t, py:py + 6, px:px + 6] = 0
        frames[t] = img.astype(np.uint8)
    return frames, masks


def main(argv=None):
    args = parse_args(argv)
    if args.size < 16 or args.frames < 1:
        sys.exit('--size must be >= 16 and --frames >= 1')
    palette = _palette()
    counts = {'train': args.num_train, 'val': args.num_val}
    for split, split_id in SPLITS.items():
        names = []
        for index in range(counts[split]):
            name = f'toy_{split}_{index:03d}'
            rng = np.random.default_rng([args.seed, split_id, index])
            frames, masks = make_video(rng, args.size, args.frames)
            img_dir = osp.join(args.out, 'data', name, 'origin')
            mask_dir = osp.join(args.out, 'data', name, 'mask')
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(mask_dir, exist_ok=True)
            for t in range(args.frames):
                cv2.imwrite(
                    osp.join(img_dir, f'{t:08d}.jpg'), frames[t],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
                # an 'L' image; putpalette turns it into 'P'
                mask = Image.fromarray(masks[t])
                mask.putpalette(palette)
                mask.save(osp.join(mask_dir, f'{t:08d}.png'))
            names.append(name)
        lines = '\n'.join(names) + '\n'
        with open(osp.join(args.out, f'{split}.txt'), 'w') as f:
            f.write(lines)
        if split == 'val':
            with open(osp.join(args.out, 'test.txt'), 'w') as f:
                f.write(lines)
    with open(osp.join(args.out, 'meta.json'), 'w') as f:
        json.dump(dict(vars(args), classes=list(TOY_CLASSES)), f, indent=2)
    print(f'wrote {args.num_train} train and {args.num_val} val videos of '
          f'{args.frames} frames ({args.size}x{args.size}) to {args.out}')


if __name__ == '__main__':
    main()
