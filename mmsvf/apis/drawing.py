# Copyright (c) mmsvf contributors. All rights reserved.
"""Drawing on RGB frames: class labels, segmentation masks, skeletons.

Minimal OpenCV drawing for the inferencers (``mmsvf.visualization`` has no
clip drawing on this branch). Every function takes an RGB ``uint8
(H, W, 3)`` frame and returns a new one.
"""
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ['get_palette', 'draw_text_lines', 'overlay_mask',
           'draw_skeleton']

PaletteLike = Union[str, Sequence[Sequence[int]], np.ndarray]


def get_palette(palette: PaletteLike, num_classes: int) -> np.ndarray:
    """A ``(num_classes, 3)`` uint8 RGB palette.

    Args:
        palette (str | array-like): ``'vspw'`` (mmsvf ``VSPWDataset``),
            ``'cityscapes'`` (mmseg ``CityscapesDataset``), ``'random'``
            (fixed seed) or explicit ``[[r, g, b], ...]`` colours.
        num_classes (int): colours needed; a shorter named palette is
            completed with fixed random colours.
    """
    if isinstance(palette, str):
        name = palette.lower()
        if name == 'vspw':
            from mmsvf.datasets.video_seg_dataset import VSPWDataset
            colours = VSPWDataset.METAINFO['palette']
        elif name == 'cityscapes':
            from mmseg.datasets import CityscapesDataset
            colours = CityscapesDataset.METAINFO['palette']
        elif name == 'random':
            colours = []
        else:
            raise ValueError(f"palette {palette!r}: expected 'vspw', "
                             "'cityscapes', 'random' or a list of colours")
        colours = np.asarray(colours, np.uint8).reshape(-1, 3)
        if len(colours) < num_classes:
            rng = np.random.RandomState(42)
            extra = rng.randint(0, 256, (num_classes - len(colours), 3))
            colours = np.concatenate([colours, extra.astype(np.uint8)])
        return colours[:num_classes]
    colours = np.asarray(palette)
    if colours.ndim != 2 or colours.shape[1] != 3 or \
            len(colours) < num_classes:
        raise ValueError(f'palette: expected at least {num_classes} RGB '
                         f'colours (N, 3), got shape {colours.shape}')
    return colours[:num_classes].astype(np.uint8)


def draw_text_lines(frame: np.ndarray, lines: Sequence[str],
                    origin=(8, 8), scale: Optional[float] = None,
                    colour=(255, 255, 255), background=(0, 0, 0)):
    """Text lines in the top-left corner on a dark box (readable on any
    frame)."""
    import cv2
    out = frame.copy()
    h, w = out.shape[:2]
    if scale is None:
        scale = max(0.3, min(h, w) / 480.0)
    thick = max(1, int(round(scale * 1.5)))
    x, y = origin
    for line in lines:
        (tw, th), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX,
                                         scale, thick)
        cv2.rectangle(out, (x - 2, y - 2), (x + tw + 2, y + th + base + 2),
                      background, -1)
        cv2.putText(out, line, (x, y + th), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, colour, thick, cv2.LINE_AA)
        y += th + base + 6
    return out


def overlay_mask(frame: np.ndarray, mask: np.ndarray, palette: np.ndarray,
                 alpha: float = 0.5, ignore_index: int = 255) -> np.ndarray:
    """Blend a class-index mask ``(H, W)`` over ``frame`` with ``palette``
    colours (``ignore_index`` pixels are left as they are)."""
    if mask.shape != frame.shape[:2]:
        raise ValueError(f'mask shape {mask.shape} does not match the frame '
                         f'{frame.shape[:2]}')
    valid = (mask != ignore_index) & (mask < len(palette)) & (mask >= 0)
    colour = palette[np.where(valid, mask, 0)]
    out = frame.astype(np.float32)
    blend = (1 - alpha) * out + alpha * colour.astype(np.float32)
    out[valid] = blend[valid]
    return out.round().clip(0, 255).astype(np.uint8)


def draw_skeleton(frame: np.ndarray, joints: np.ndarray,
                  parents: Sequence[int], colour=(0, 255, 0),
                  joint_colour=(255, 0, 0), radius: Optional[int] = None):
    """Bones (joint → parent lines) and joints ``(J, 2)`` in pixels."""
    import cv2
    out = frame.copy()
    if radius is None:
        radius = max(1, min(out.shape[:2]) // 100)
    pts = np.asarray(joints, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) != len(parents):
        raise ValueError(f'joints must be ({len(parents)}, 2) pixels, got '
                         f'shape {pts.shape}')
    ok = np.isfinite(pts).all(1)
    ipts = np.where(ok[:, None], pts, 0).round().astype(int)
    for j, p in enumerate(parents):
        if p >= 0 and ok[j] and ok[p]:
            cv2.line(out, tuple(ipts[j]), tuple(ipts[p]), colour,
                     max(1, radius // 2 + 1), cv2.LINE_AA)
    for j in range(len(pts)):
        if ok[j]:
            cv2.circle(out, tuple(ipts[j]), radius, joint_colour, -1,
                       cv2.LINE_AA)
    return out
