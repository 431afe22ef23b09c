# Copyright (c) mmsvf contributors. All rights reserved.
"""Write the toy-motion video dataset (real mp4 files, Kinetics list format).

Every clip shows a random colour texture (smooth blobs plus sparse dots, a
"random-dot kinematogram") that moves as a whole; the class is the motion, so
one frame does not tell the classes apart: the texture, its colours, contrast
and grain, the starting angle and the pixel noise are drawn at random for
every clip.

========  ===========  ==================================================
label     name         motion (at 64 px, per frame)
========  ===========  ==================================================
0         move_left    translates left, 1.5-2.5 px
1         move_right   translates right
2         move_up      translates up
3         move_down    translates down
4         rotate_cw    rotates clockwise on screen, 4-7 degrees
5         rotate_ccw   rotates counter-clockwise
6         grow         zooms in ("approaching"), 4-6 %
7         shrink       zooms out ("receding")
========  ===========  ==================================================

Classes ``2k`` and ``2k + 1`` are time-reversed pairs: drawn from the same
random stream they give exactly the same frames in reverse order
(:func:`render_clip`), so any model that ignores frame order is at chance
within each pair.

Layout written under ``--out`` (default ``data/toy_motion``)::

    videos/{train,val}/<name>/<name>_<index>.mp4
    train.txt, val.txt      lines "<split>/<name>/<file>.mp4 <label>"
    label_map.txt           one class name per line (line index = label)
    meta.json               the generator arguments

Usage::

    python tools/data/generate_toy_videos.py --out data/toy_motion --seed 0

The output is a function of the arguments only (each clip has its own random
stream seeded by ``(seed, split, label, index)``).
"""
import argparse
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np

CLASSES = ('move_left', 'move_right', 'move_up', 'move_down', 'rotate_cw',
           'rotate_ccw', 'grow', 'shrink')
SPLITS = {'train': 0, 'val': 1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy-motion video dataset')
    parser.add_argument('--out', default='data/toy_motion',
                        help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--num-train', type=int, default=48,
                        help='training clips per class')
    parser.add_argument('--num-val', type=int, default=24,
                        help='validation clips per class')
    parser.add_argument('--frames', type=int, default=16,
                        help='frames per clip')
    parser.add_argument('--size', type=int, default=64,
                        help='frame height = width in pixels')
    parser.add_argument('--fps', type=int, default=8, help='frame rate')
    parser.add_argument('--noise', type=float, default=0.04,
                        help='std of the per-frame pixel noise (0..1 scale)')
    parser.add_argument('--writer', choices=['cv2', 'pyav'], default='cv2',
                        help='cv2: OpenCV VideoWriter (mp4v); pyav: PyAV '
                        'mpeg4 encoder')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite clips that already exist')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------
def random_texture(rng, size, cell):
    """A random colour texture ``(size, size, 3)`` in ``[0, 1]``.

    Smooth colour blobs of about ``cell`` pixels plus sparse dots of one
    random colour, rescaled to a random contrast range.
    """
    cells = int(np.ceil(size / max(cell, 1.0))) + 2
    coarse = rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32)
    tex = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    dots = (rng.uniform(0, 1, (size, size)) < 0.03).astype(np.float32)
    dots = cv2.GaussianBlur(dots, (3, 3), 0.7) * 3
    colour = rng.uniform(0, 1, 3).astype(np.float32)
    tex = 0.6 * tex + dots[..., None] * (colour - 0.5)
    low, high = rng.uniform(0.1, 0.35), rng.uniform(0.65, 0.9)
    tex = (tex - tex.min()) / (np.ptp(tex) + 1e-6)
    return (low + (high - low) * tex).astype(np.float32)


def motion_params(label, frames, size, rng):
    """Per-frame ``(dx, dy, angle, scale)`` of the texture warp.

    ``dx, dy`` in pixels (x right, y down), ``angle`` in degrees
    counter-clockwise as OpenCV counts it (so a *decreasing* angle turns the
    texture clockwise on screen), ``scale`` the zoom factor. The motion is
    centred on the middle frame, and the two classes of a pair use the same
    random draws with time reversed.

    Returns:
        np.ndarray: ``(frames, 4)``.
    """
    unit = size / 64.0
    t = np.arange(frames, dtype=np.float64) - (frames - 1) / 2.0
    speed = rng.uniform(1.5, 2.5) * unit
    omega = rng.uniform(4.0, 7.0)
    zoom = rng.uniform(0.04, 0.06)
    angle0 = rng.uniform(0, 360)
    name = CLASSES[label]
    # the first class of each pair moves "forward", its partner backward
    sign = 1.0 if label % 2 == 0 else -1.0
    dx, dy = np.zeros(frames), np.zeros(frames)
    angle, scale = np.full(frames, angle0), np.ones(frames)
    if name in ('move_left', 'move_right'):
        dx = -sign * speed * t
    elif name in ('move_up', 'move_down'):
        dy = -sign * speed * t
    elif name in ('rotate_cw', 'rotate_ccw'):
        angle = angle0 - sign * omega * t
    else:
        scale = (1.0 + zoom)**(sign * t)
    return np.stack([dx, dy, angle, scale], axis=1)


def render_clip(label, frames, size, noise, rng):
    """Render one clip.

    Args:
        label (int): Class index into :data:`CLASSES`.
        frames (int): Number of frames.
        size (int): Frame height and width.
        noise (float): Std of the per-frame Gaussian pixel noise.
        rng (np.random.Generator): Random stream of this clip.

    Returns:
        np.ndarray: ``(frames, size, size, 3)`` uint8 RGB. For labels
        ``2k`` and ``2k + 1`` and equal random streams the clips are
        time-reversed copies of each other.
    """
    canvas = int(np.ceil(size * 2.5))
    texture = random_texture(rng, canvas, rng.uniform(4.0, 8.0) * size / 64)
    params = motion_params(label, frames, size, rng)
    pixel_noise = rng.normal(0, noise, (frames, size, size, 3)).astype(
        np.float32)
    if label % 2:  # the backward member of a pair: reversed noise as well
        pixel_noise = pixel_noise[::-1]
    centre = canvas / 2.0
    out = np.empty((frames, size, size, 3), np.uint8)
    for i, (dx, dy, angle, scale) in enumerate(params):
        m = cv2.getRotationMatrix2D((centre, centre), angle, scale)
        m[0, 2] += dx - (centre - size / 2.0)
        m[1, 2] += dy - (centre - size / 2.0)
        frame = cv2.warpAffine(texture, m, (size, size),
                               flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT_101)
        frame = frame + pixel_noise[i]
        out[i] = np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------------------
# writing and checking
# ---------------------------------------------------------------------------
def write_video(path, frames_rgb, fps, writer='cv2'):
    """Write ``(T, H, W, 3)`` uint8 RGB frames to an mp4 file."""
    t, h, w = frames_rgb.shape[:3]
    tmp = path + '.part.mp4'
    if writer == 'cv2':
        out = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                              (w, h))
        if not out.isOpened():
            raise RuntimeError(f'cv2.VideoWriter (mp4v) cannot open {tmp}; '
                               'try --writer pyav')
        for frame in frames_rgb:
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        out.release()
    else:
        import av
        with av.open(tmp, mode='w') as container:
            stream = container.add_stream('mpeg4', rate=fps)
            stream.width, stream.height = w, h
            stream.pix_fmt = 'yuv420p'
            stream.options = {'qscale': '2'}
            for frame in frames_rgb:
                packet = stream.encode(
                    av.VideoFrame.from_ndarray(frame, format='rgb24'))
                container.mux(packet)
            container.mux(stream.encode(None))
    os.replace(tmp, path)
    n = count_frames(path)
    if n != t:
        raise RuntimeError(f'{path}: wrote {t} frames but {n} decode back')


def count_frames(path):
    cap = cv2.VideoCapture(path)
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def check_decord(path, frames):
    """Check that Decord (mmaction's default reader) decodes ``path``.

    Decord 0.6.0 cannot read some frame widths of these files (48 px fails
    with ``DECORDArrayCopyFromTo: The size must exactly match``; 32, 64, 80,
    96, 112 and 128 work), so the generator checks its first clip.
    """
    try:
        import decord
    except ImportError:  # pragma: no cover - decord is a dependency
        return
    try:
        n = decord.VideoReader(path).get_batch(list(range(frames))).shape[0]
    except Exception as err:
        raise RuntimeError(
            f'decord cannot decode the generated clip {path} '
            f'({type(err).__name__}); choose another --size, e.g. 64') \
            from err
    if n != frames:
        raise RuntimeError(f'decord decodes {n} of {frames} frames of '
                           f'{path}')


def generate(args):
    """Write the dataset described by ``args`` (see :func:`parse_args`)."""
    if args.frames < 2:
        raise ValueError(f'--frames must be >= 2, got {args.frames}')
    if args.size < 32:
        raise ValueError(f'--size must be >= 32, got {args.size}')
    checked = False
    os.makedirs(args.out, exist_ok=True)
    counts = {'train': args.num_train, 'val': args.num_val}
    for split, per_class in counts.items():
        lines = []
        for label, name in enumerate(CLASSES):
            folder = osp.join(args.out, 'videos', split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                rel = f'{split}/{name}/{name}_{i:04d}.mp4'
                path = osp.join(args.out, 'videos', rel)
                lines.append(f'{rel} {label}')
                if osp.exists(path) and not args.overwrite:
                    continue
                rng = np.random.default_rng(
                    [args.seed, SPLITS[split], label, i])
                clip = render_clip(label, args.frames, args.size, args.noise,
                                   rng)
                write_video(path, clip, args.fps, args.writer)
                if not checked:
                    check_decord(path, args.frames)
                    checked = True
        with open(osp.join(args.out, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        print(f'{split}: {len(lines)} clips -> '
              f'{osp.join(args.out, split + ".txt")}')
    with open(osp.join(args.out, 'label_map.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    with open(osp.join(args.out, 'meta.json'), 'w') as f:
        json.dump(dict(vars(args), classes=list(CLASSES)), f, indent=2)


def main(argv=None):
    args = parse_args(argv)
    generate(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
