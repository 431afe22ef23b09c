# Copyright (c) mmsvf contributors. All rights reserved.
"""Write a tiny synthetic image-classification set in ImageFolder layout.

A stand-in for ImageNet in tests and CPU smoke runs of the pre-training
configs (``configs/pretrain/*toy-imagefolder*``). Each image is a random
texture of one of four kinds; colours, frequency, phase, orientation jitter
and noise are drawn per image, so only the kind of pattern tells the classes
apart.

=====  ============  =========================================
label  name          pattern
=====  ============  =========================================
0      checker       checkerboard
1      rings         concentric rings around a random centre
2      stripes_h     horizontal sinusoidal stripes
3      stripes_v     vertical sinusoidal stripes
=====  ============  =========================================

Labels follow the sorted folder names, so the list files and a folder scan
(``mmsvf.ImageFolderDataset`` without ``ann_file``) number classes alike.

Layout written under ``--out`` (default ``data/toy_imagefolder``)::

    train/<class>/<class>_<index>.png
    val/<class>/<class>_<index>.png
    train.txt, val.txt      lines "<class>/<file>.png <label>" (relative to
                            train/ or val/; the ann_file form of ImageNet)
    classes.txt             one class name per line (line index = label)
    meta.json               the generator arguments

Usage::

    python tools/data/generate_toy_imagefolder.py --out data/toy_imagefolder

The output depends only on the arguments: every image has its own random
stream seeded by ``(seed, split, class, index)``, and PNG is lossless.
"""
import argparse
import json
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('checker', 'rings', 'stripes_h', 'stripes_v')  # sorted
SPLITS = {'train': 0, 'val': 1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate a tiny ImageFolder-format image dataset')
    parser.add_argument('--out', default='data/toy_imagefolder',
                        help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--num-train', type=int, default=16,
                        help='training images per class')
    parser.add_argument('--num-val', type=int, default=8,
                        help='validation images per class')
    parser.add_argument('--size', type=int, default=48,
                        help='image side in pixels')
    return parser.parse_args(argv)


def make_image(label, size, rng):
    """One ``size×size×3`` uint8 BGR image of class ``label``.

    Args:
        label (int): Class index into :data:`CLASSES`.
        size (int): Side length.
        rng (numpy.random.Generator): Random stream of this image.

    Returns:
        numpy.ndarray: The image (BGR, as cv2 writes it).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    freq = rng.uniform(2.5, 5.0)
    phase = rng.uniform(0, 2 * np.pi)
    tilt = rng.uniform(-0.15, 0.15)  # small orientation jitter
    name = CLASSES[label]
    if name == 'stripes_h':
        field = np.sin(2 * np.pi * freq * (yy + tilt * xx) + phase)
    elif name == 'stripes_v':
        field = np.sin(2 * np.pi * freq * (xx + tilt * yy) + phase)
    elif name == 'checker':
        field = np.sin(2 * np.pi * freq * xx + phase) * np.sin(
            2 * np.pi * freq * yy + phase)
    elif name == 'rings':
        cx, cy = rng.uniform(0.25, 0.75, size=2)
        field = np.sin(2 * np.pi * freq * np.hypot(xx - cx, yy - cy) * 1.5 +
                       phase)
    else:  # pragma: no cover - CLASSES is fixed
        raise ValueError(label)
    mask = (field > 0).astype(np.float32)[..., None]
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    img = mask * c0 + (1 - mask) * c1
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(out, seed=0, num_train=16, num_val=8, size=48):
    """Write the dataset; returns ``{split: [(relative path, label)]}``.

    Args:
        out (str): Output folder.
        seed (int): Random seed.
        num_train (int): Training images per class.
        num_val (int): Validation images per class.
        size (int): Image side.

    Returns:
        dict: The written items per split.
    """
    if size < 8:
        raise ValueError(f'--size must be >= 8, got {size}')
    items = {}
    for split, count in (('train', num_train), ('val', num_val)):
        items[split] = []
        for label, name in enumerate(CLASSES):
            folder = osp.join(out, split, name)
            os.makedirs(folder, exist_ok=True)
            for index in range(count):
                rng = np.random.default_rng(
                    [seed, SPLITS[split], label, index])
                rel = f'{name}/{name}_{index:05d}.png'
                path = osp.join(out, split, rel)
                if not cv2.imwrite(path, make_image(label, size, rng)):
                    raise OSError(f'could not write {path}')
                items[split].append((rel, label))
        with open(osp.join(out, f'{split}.txt'), 'w') as f:
            f.writelines(f'{rel} {label}\n' for rel, label in items[split])
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.writelines(f'{name}\n' for name in CLASSES)
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(dict(seed=seed, num_train=num_train, num_val=num_val,
                       size=size, classes=list(CLASSES)), f, indent=2)
    return items


def main(argv=None):
    args = parse_args(argv)
    items = generate(args.out, args.seed, args.num_train, args.num_val,
                     args.size)
    print(f'wrote {len(items["train"])} train / {len(items["val"])} val '
          f'images of {len(CLASSES)} classes to {args.out}')


if __name__ == '__main__':
    main()
