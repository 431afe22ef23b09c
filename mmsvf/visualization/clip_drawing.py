# Copyright (c) mmsvf contributors. All rights reserved.
"""Drawing helpers for clips: packed inputs to frames, labels, grids, mp4.

Used by :class:`~mmsvf.engine.hooks.VideoVisualizationHook` (test clips with
their labels), :class:`~mmsvf.visualization.ClipVisualizer` and
``tools/misc/browse_dataset.py`` (augmented training clips). All frames are
``uint8`` RGB arrays ``(T, H, W, 3)``.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

__all__ = [
    'CLIP_LAYOUTS', 'read_label_map', 'clip_views', 'clip_frames', 'upscale',
    'draw_text_lines', 'overlay_seg_map', 'draw_points', 'frames_grid',
    'write_video'
]

#: layouts of one packed sample's ``inputs``:
#: ``NCTHW`` mmaction 3-D recognisers ``(views, C, T, H, W)``,
#: ``NCHW`` mmaction 2-D recognisers ``(views, C, H, W)``,
#: ``TCHW`` mmsvf's segmentation and pose clips ``(T, C, H, W)``
CLIP_LAYOUTS = ('NCTHW', 'NCHW', 'TCHW')


def read_label_map(path: str) -> list:
    """Class names of a label map: one name per line, line index = label.

    Lines of the form ``"<index> <name>"`` or ``"<index>,<name>"`` are also
    accepted when every line has them.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'label map {path} not found')
    with open(path, encoding='utf-8') as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    split = [ln.replace(',', ' ', 1).split(maxsplit=1) for ln in lines]
    if lines and all(len(s) == 2 and s[0].isdigit() for s in split):
        names = {int(i): n for i, n in split}
        return [names.get(i, str(i)) for i in range(max(names) + 1)]
    return lines


def clip_views(inputs, layout: str = 'NCTHW') -> np.ndarray:
    """Every view of one packed sample as RGB-ordered uint8 frames.

    The channel order is kept as it is (convert BGR inputs yourself);
    one-channel (grey) clips are repeated to three channels.

    Args:
        inputs (Tensor | np.ndarray): One sample's ``inputs`` in ``layout``
            (see :data:`CLIP_LAYOUTS`), uint8 or float in 0..255.
        layout (str): ``'NCTHW'``, ``'NCHW'`` or ``'TCHW'``.

    Returns:
        np.ndarray: ``(V, T, H, W, 3)`` uint8 (``V = 1`` for ``TCHW``,
        ``T = 1`` for ``NCHW``).

    Raises:
        ValueError: ``inputs`` does not have the dimensions of ``layout``,
            or has neither 1 nor 3 channels.
    """
    if layout not in CLIP_LAYOUTS:
        raise ValueError(f'layout must be one of {CLIP_LAYOUTS}, got '
                         f'{layout!r}')
    v = torch.as_tensor(inputs).detach().cpu()
    want = {'NCTHW': 5, 'NCHW': 4, 'TCHW': 4}[layout]
    if v.dim() != want:
        raise ValueError(
            f'inputs of layout {layout} must have {want} dimensions '
            f'({_layout_shape(layout)}), got shape {tuple(v.shape)}')
    if layout == 'NCTHW':
        v = v.permute(0, 2, 3, 4, 1)  # (V, T, H, W, C)
    elif layout == 'NCHW':
        v = v.permute(0, 2, 3, 1).unsqueeze(1)
    else:
        v = v.permute(0, 2, 3, 1).unsqueeze(0)
    if v.shape[-1] not in (1, 3):
        raise ValueError(f'expected 1 or 3 channels, got {v.shape[-1]} '
                         f'(inputs of shape {tuple(inputs.shape)}, layout '
                         f'{layout})')
    frames = v.float().clamp(0, 255).round().byte().numpy()
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return np.ascontiguousarray(frames)


def _layout_shape(layout: str) -> str:
    return {
        'NCTHW': '(views, C, T, H, W)',
        'NCHW': '(views, C, H, W)',
        'TCHW': '(T, C, H, W)'
    }[layout]


def clip_frames(video) -> np.ndarray:
    """First view of one packed mmaction input as RGB frames.

    Args:
        video (Tensor): ``(views, C, T, H, W)`` (NCTHW) or
            ``(views, C, H, W)`` (NCHW), uint8 or float in 0..255.

    Returns:
        np.ndarray: ``(T, H, W, 3)`` uint8 (``T = 1`` for NCHW).
    """
    dim = torch.as_tensor(video).dim()
    if dim not in (4, 5):
        raise ValueError('expected inputs of shape (views, C, T, H, W) or '
                         f'(views, C, H, W), got {tuple(video.shape)}')
    return clip_views(video, 'NCTHW' if dim == 5 else 'NCHW')[0]


def upscale(frames: np.ndarray, min_size: int) -> np.ndarray:
    """Nearest-neighbour upscale by the integer factor that brings the short
    side to at least ``min_size`` (pixels stay sharp squares).

    Args:
        frames (np.ndarray): ``(T, H, W, 3)``.
        min_size (int): Target short side.

    Returns:
        np.ndarray: ``(T, H * s, W * s, 3)``, ``s >= 1``.
    """
    h, w = frames.shape[1:3]
    scale = max(1, int(np.ceil(min_size / min(h, w))))
    if scale == 1:
        return np.ascontiguousarray(frames)
    return np.ascontiguousarray(
        np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2))


def draw_text_lines(frames: np.ndarray, lines: Sequence[str],
                    font_scale: float = 0.5) -> np.ndarray:
    """Write ``lines`` (white with a black outline) at the top left of every
    frame.

    Args:
        frames (np.ndarray): ``(T, H, W, 3)`` uint8.
        lines (Sequence[str]): Text lines, top to bottom.
        font_scale (float): OpenCV font scale. Defaults to 0.5.

    Returns:
        np.ndarray: A drawn copy of ``frames``.
    """
    out = np.array(frames, copy=True)
    step = int(round(36 * font_scale))
    for frame in out:
        for k, text in enumerate(lines):
            y = step * (k + 1)
            cv2.putText(frame, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX,
                        font_scale, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(frame, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX,
                        font_scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _palette(num: int) -> np.ndarray:
    # fixed colours, so that a class keeps its colour from clip to clip
    rng = np.random.default_rng(1234)
    return rng.integers(40, 256, (num, 3)).astype(np.uint8)


def overlay_seg_map(frame: np.ndarray, seg_map: np.ndarray,
                    palette: Optional[Sequence] = None, alpha: float = 0.5,
                    ignore_index: Optional[int] = 255) -> np.ndarray:
    """Blend a label map onto a frame (one colour per label).

    Args:
        frame (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        seg_map (np.ndarray): ``(H, W)`` integer labels.
        palette (Sequence, optional): RGB colour per label (a dataset's
            ``palette`` metainfo); fixed random colours by default, and for
            labels beyond the palette.
        alpha (float): Weight of the colours. Defaults to 0.5.
        ignore_index (int, optional): Label left uncoloured. Defaults to 255.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8.
    """
    seg_map = np.asarray(seg_map)
    if seg_map.shape != frame.shape[:2]:
        raise ValueError(f'label map of shape {seg_map.shape} does not '
                         f'match the frame {frame.shape[:2]}')
    colours = _palette(256)
    if palette is not None and len(palette):
        given = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
        colours[:len(given)] = given
    labels = seg_map.astype(np.int64)
    mix = (1 - alpha) * frame.astype(np.float32) + \
        alpha * colours[np.clip(labels, 0, 255)]
    out = np.where((labels == ignore_index)[..., None], frame,
                   mix.round().astype(np.uint8))
    return out.astype(np.uint8)


def draw_points(frame: np.ndarray, points: np.ndarray,
                colour=(255, 64, 64), radius: int = 2) -> np.ndarray:
    """Draw ``(J, 2)`` pixel positions ``(x, y)`` as filled circles."""
    out = np.ascontiguousarray(frame.copy())
    for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(out, (int(round(x)), int(round(y))), radius, colour,
                       -1, cv2.LINE_AA)
    return out


def frames_grid(rows: Sequence[np.ndarray], pad: int = 2,
                pad_value: int = 255) -> np.ndarray:
    """Lay clips out as one image: one row per clip, frames left to right.

    Frames smaller than the largest one are placed at the top left of their
    cell (a pipeline without a fixed output size gives such clips).

    Args:
        rows (Sequence[np.ndarray]): Clips ``(T_i, H_i, W_i, 3)`` uint8.
        pad (int): Pixels between frames and rows. Defaults to 2.
        pad_value (int): Grey level of the padding. Defaults to 255.

    Returns:
        np.ndarray: ``(rows * (H + pad) - pad, max_T * (W + pad) - pad, 3)``
        with ``H, W`` the largest frame height and width.
    """
    if not rows:
        raise ValueError('frames_grid needs at least one clip')
    for i, clip in enumerate(rows):
        if clip.ndim != 4 or clip.shape[-1] != 3 or not len(clip):
            raise ValueError(f'clip {i} must be (T, H, W, 3) with T >= 1, '
                             f'got shape {clip.shape}')
    h = max(r.shape[1] for r in rows)
    w = max(r.shape[2] for r in rows)
    cols = max(len(r) for r in rows)
    grid = np.full(
        (len(rows) * (h + pad) - pad, cols * (w + pad) - pad, 3), pad_value,
        np.uint8)
    for i, clip in enumerate(rows):
        fh, fw = clip.shape[1:3]
        for j, frame in enumerate(clip):
            y, x = i * (h + pad), j * (w + pad)
            grid[y:y + fh, x:x + fw] = frame
    return grid


def write_video(path: str, frames: np.ndarray, fps: float = 4) -> None:
    """Write ``(T, H, W, 3)`` uint8 RGB frames to an mp4 file (mp4v)."""
    h, w = frames.shape[1:3]
    folder = osp.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'cannot open {path} for writing (mp4v)')
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
