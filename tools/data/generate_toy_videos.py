# Copyright (c) mmsvf contributors. All rights reserved.
"""Write the toy-motion video dataset (real mp4 files, Kinetics list format).

Every clip shows one object moving over a static random background; the
class is the motion. The object's kind tells the motion family (a disc or
square translates, a spiral rotates, a disc or ring zooms) but one
frame never tells the direction: the object's size, colour, position and
starting angle, the background and the pixel noise are drawn at random for
every clip, and the two classes of each pair are exact time reversals.

========  ===========  ==================================================
label     name         motion (at 64 px, per frame)
========  ===========  ==================================================
0         move_left    translates left, 2.5-3.5 px
1         move_right   translates right
2         move_up      translates up
3         move_down    translates down
4         rotate_cw    rotates clockwise on screen, 15-20 degrees
5         rotate_ccw   rotates counter-clockwise
6         grow         zooms in ("approaching"), 8-10 %
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
stream seeded by ``(seed, split, class index in CLASSES, clip index)``).
By default the six classes of :data:`DEFAULT_CLASSES` are written (labels in
that order); ``--classes`` picks others, in whole time-reversal pairs.
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
#: the classes written by default: the turning spiral is left out because the
#: tiny CPU model does not learn its direction within the 10-minute budget
DEFAULT_CLASSES = ('move_left', 'move_right', 'move_up', 'move_down', 'grow',
                   'shrink')
SPLITS = {'train': 0, 'val': 1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy-motion video dataset')
    parser.add_argument('--out', default='data/toy_motion',
                        help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--classes', nargs='+', default=list(DEFAULT_CLASSES),
                        choices=CLASSES, metavar='NAME',
                        help='classes to write, whole time-reversal pairs, '
                        f'in this order (labels 0, 1, ...); any of {CLASSES}'
                        f'; default: {" ".join(DEFAULT_CLASSES)}')
    parser.add_argument('--num-train', type=int, default=72,
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
    parser.add_argument('--check-decoder', choices=['pyav', 'decord', 'none'],
                        default='pyav',
                        help='decode the first written clip with this '
                        "mmaction decoder (the config's video_backend; "
                        'default pyav, which reads every size)')
    parser.add_argument('--overwrite', action='store_true',
                        help='rewrite clips that already exist')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------
def random_background(rng, size):
    """A static, low-contrast random colour texture ``(size, size, 3)``."""
    cell = rng.uniform(6.0, 12.0) * size / 64
    cells = int(np.ceil(size / cell)) + 2
    coarse = rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32)
    tex = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    tex = (tex - tex.min()) / (np.ptp(tex) + 1e-6)
    low = rng.uniform(0.35, 0.55)
    return (low + rng.uniform(0.05, 0.12) * tex).astype(np.float32)


def random_sprite(label, size, rng):
    """The moving object: an alpha mask ``(size, size)`` centred in the frame.

    Each motion family has its own kind of object (translations: a disc or a
    square, rotations: a spiral, zooms: a disc or a ring); its size, aspect
    and colour are random. The two classes of a pair draw the same object.
    """
    unit = size / 64.0
    c = size / 2.0
    family = CLASSES[label].split('_')[0]
    ss = 8  # draw supersampled for smooth edges
    big = np.zeros((size * ss, size * ss), np.uint8)
    cc = (int(c * ss), int(c * ss))
    if family == 'move':
        r = rng.uniform(6.0, 9.0) * unit
        if rng.uniform() < 0.5:
            cv2.circle(big, cc, int(r * ss), 255, -1)
        else:
            h = int(r * ss)
            cv2.rectangle(big, (cc[0] - h, cc[1] - h), (cc[0] + h, cc[1] + h),
                          255, -1)
    elif family == 'rotate':
        # an Archimedean spiral: turning it moves its arm radially (the
        # barber-pole effect), so the direction shows up in local motion
        turns = rng.uniform(1.1, 1.4)
        radius = rng.uniform(17.0, 22.0) * unit
        theta = np.linspace(0.0, 2 * np.pi * turns, 200)
        r = radius * theta / theta[-1]
        pts = np.stack([c + r * np.cos(theta), c + r * np.sin(theta)], 1)
        cv2.polylines(big, [np.round(pts * ss).astype(np.int32)], False, 255,
                      thickness=int(rng.uniform(3.0, 4.5) * unit * ss),
                      lineType=cv2.LINE_AA)
    else:
        r = rng.uniform(8.0, 11.0) * unit
        cv2.circle(big, cc, int(r * ss), 255, -1)
        if rng.uniform() < 0.5:
            cv2.circle(big, cc, int(r * 0.55 * ss), 0, -1)
    mask = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return mask.astype(np.float32) / 255.0


def motion_params(label, frames, size, rng):
    """Per-frame ``(dx, dy, angle, scale)`` of the object's warp.

    ``dx, dy`` in pixels (x right, y down), ``angle`` in degrees
    counter-clockwise as OpenCV counts it (so a *decreasing* angle turns the
    object clockwise on screen), ``scale`` the zoom factor. The motion is
    centred on the middle frame, and the two classes of a pair use the same
    random draws with time reversed.

    Returns:
        np.ndarray: ``(frames, 4)``.
    """
    unit = size / 64.0
    t = np.arange(frames, dtype=np.float64) - (frames - 1) / 2.0
    speed = rng.uniform(2.5, 3.5) * unit
    omega = rng.uniform(15.0, 20.0)
    zoom = rng.uniform(0.08, 0.1)
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
    """Render one clip: a random object moving over a static background.

    The object's kind depends on the motion family (see
    :func:`random_sprite`), so one frame shows *which* family a clip belongs
    to but never the direction: left/right, up/down, clockwise/counter-
    clockwise and grow/shrink are exact time reversals of each other.

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
    background = random_background(rng, size)
    sprite = random_sprite(label, size, rng)
    # a bright or a dark object, always well off the background
    colour = rng.uniform(0.0, 0.15, 3) if rng.uniform() < 0.5 else \
        rng.uniform(0.85, 1.0, 3)
    # where the object is at the middle frame
    margin = 0.4 if CLASSES[label].startswith('move') else 0.38
    cx, cy = rng.uniform(margin * size, (1 - margin) * size, 2)
    params = motion_params(label, frames, size, rng)
    pixel_noise = rng.normal(0, noise, (frames, size, size, 3)).astype(
        np.float32)
    if label % 2:  # the backward member of a pair: reversed noise as well
        pixel_noise = pixel_noise[::-1]
    centre = size / 2.0
    colour = colour.astype(np.float32)
    out = np.empty((frames, size, size, 3), np.uint8)
    for i, (dx, dy, angle, scale) in enumerate(params):
        m = cv2.getRotationMatrix2D((centre, centre), angle, scale)
        m[0, 2] += dx + cx - centre
        m[1, 2] += dy + cy - centre
        alpha = cv2.warpAffine(sprite, m, (size, size),
                               flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)[..., None]
        frame = background * (1 - alpha) + colour * alpha + pixel_noise[i]
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


#: what each ``--check-decoder`` choice runs (mmaction's transforms)
DECODERS = {'pyav': ('PyAVInit', 'PyAVDecode'),
            'decord': ('DecordInit', 'DecordDecode')}


def check_decoder(path, frames, backend='pyav'):
    """Check that mmaction's ``backend`` decoder reads all frames of
    ``path``.

    The toy config decodes with PyAV (``video_backend`` there), which reads
    every size tried; Decord 0.6.0 cannot read some frame widths of these
    files (48 and 72 px fail with ``DECORDArrayCopyFromTo: The size must
    exactly match``; 32, 40, 56, 64, 80, 96, 112 and 128 work), so the
    generator checks its first clip with the decoder the config will use.
    """
    from mmaction.datasets import transforms
    init, decode = DECODERS[backend]
    steps = [
        getattr(transforms, init)(),
        transforms.SampleFrames(clip_len=frames, frame_interval=1,
                                num_clips=1, test_mode=True),
        getattr(transforms, decode)()
    ]

    out = dict(filename=path, label=0, start_index=0, modality='RGB')
    try:
        for step in steps:
            out = step(out)
    except Exception as err:
        raise RuntimeError(
            f'{backend} cannot decode the generated clip {path} '
            f'({type(err).__name__}: {err}); choose another --size, e.g. 64,'
            f' or decode with the other backend (video_backend in the '
            f'config, --check-decoder here)') from err
    n = out['total_frames']
    if n != frames or len(out['imgs']) != frames:
        raise RuntimeError(f'{backend} decodes {n} of {frames} frames of '
                           f'{path}')


def _write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename,
    so that a reader (a training started beside this run) never sees a
    half-written list."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


#: arguments that change the pixels of a clip (the others only decide
#: which clips are listed)
RENDER_ARGS = ('seed', 'frames', 'size', 'fps', 'noise', 'writer')


def _rendered_differently(args):
    """True when ``args.out`` holds clips rendered with other arguments.

    Existing clips are reused only when the ``meta.json`` beside them names
    the same rendering arguments; otherwise (another ``--seed``, size ...)
    every clip is rendered again, so that the output stays a function of the
    arguments.
    """
    meta_path = osp.join(args.out, 'meta.json')
    if not osp.exists(meta_path):
        return osp.isdir(osp.join(args.out, 'videos'))  # unknown origin
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return True
    changed = [k for k in RENDER_ARGS if meta.get(k) != getattr(args, k)]
    if changed:
        print(f'{meta_path}: the clips there were rendered with other '
              f'{", ".join(changed)}; rendering them again')
    return bool(changed)


def generate(args):
    """Write the dataset described by ``args`` (see :func:`parse_args`)."""
    if args.frames < 2:
        raise ValueError(f'--frames must be >= 2, got {args.frames}')
    if args.size < 32:
        raise ValueError(f'--size must be >= 32, got {args.size}')
    names = list(args.classes)
    if len(set(names)) != len(names):
        raise ValueError(f'--classes lists a class twice: {names}')
    for name in names:
        partner = CLASSES[CLASSES.index(name) ^ 1]
        if partner not in names:
            raise ValueError(f'--classes has {name!r} without its time '
                             f'reversal {partner!r}; give whole pairs')
    checked = False
    os.makedirs(args.out, exist_ok=True)
    overwrite = args.overwrite or _rendered_differently(args)
    counts = {'train': args.num_train, 'val': args.num_val}
    for split, per_class in counts.items():
        lines = []
        for label, name in enumerate(names):
            index = CLASSES.index(name)
            folder = osp.join(args.out, 'videos', split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                rel = f'{split}/{name}/{name}_{i:04d}.mp4'
                path = osp.join(args.out, 'videos', rel)
                lines.append(f'{rel} {label}')
                if osp.exists(path) and not overwrite:
                    continue
                rng = np.random.default_rng(
                    [args.seed, SPLITS[split], index, i])
                clip = render_clip(index, args.frames, args.size, args.noise,
                                   rng)
                write_video(path, clip, args.fps, args.writer)
                if not checked and args.check_decoder != 'none':
                    check_decoder(path, args.frames, args.check_decoder)
                    checked = True
        _write_atomic(osp.join(args.out, f'{split}.txt'),
                      '\n'.join(lines) + '\n')
        print(f'{split}: {len(lines)} clips -> '
              f'{osp.join(args.out, split + ".txt")}')
    _write_atomic(osp.join(args.out, 'label_map.txt'),
                  '\n'.join(names) + '\n')
    _write_atomic(osp.join(args.out, 'meta.json'),
                  json.dumps(vars(args), indent=2))


def main(argv=None):
    args = parse_args(argv)
    generate(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
