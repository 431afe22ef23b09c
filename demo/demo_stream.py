# Copyright (c) mmsvf contributors. All rights reserved.
"""Classify a video stream frame by frame with a causal recognizer.

Reads a video file (PyAV) or a camera (OpenCV, give the camera index as
VIDEO) one frame at a time, runs ``SpikeVideoFormer.forward_step`` and the
head's running mean (``attn_mode='causal'`` or ``'spatial'``: the scores
after frame t are the recognizer's on frames 0..t, with a state whose size
does not grow), and prints the per-frame top-k and latency. ``--out-file``
writes the annotated video.

Example::

    python demo/demo_stream.py data/toy_motion/videos/val/grow/grow_0000.mp4 \\
        configs/recognition/spikevideoformer/\\
spikevideoformer-tiny_causal-attn_1xb8-t8_toy-motion.py \\
        work_dirs/causal/epoch_20.pth \\
        --label-map data/toy_motion/label_map.txt --out-file stream.mp4

``CHECKPOINT`` may be ``none`` (random weights: for timing only).
``--report 8 512`` prints the latency and memory (resident set, and its
peak) at those frames.
"""
import argparse
import collections
import os.path as osp
import resource
import statistics
import sys
import time

import mmsvf  # noqa: F401  (applies the upstream workarounds)
from mmsvf.utils import add_cfg_options_arg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Frame-by-frame recognition of a video or camera')
    parser.add_argument('video', help='video file, or a camera index (0)')
    parser.add_argument('config', help='recognizer config (causal/spatial)')
    parser.add_argument('checkpoint', help="checkpoint, or 'none'")
    parser.add_argument('--label-map', help='class names, one per line')
    parser.add_argument('--topk', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-file', help='write the annotated video')
    parser.add_argument('--max-frames', type=int, default=None,
                        help='stop after this many frames')
    parser.add_argument('--every', type=int, default=1,
                        help='print one frame in this many')
    parser.add_argument('--report', type=int, nargs='*', default=[],
                        help='frames (1-based) whose latency and memory to '
                        'report')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (one frame is little work: '
                        '1 is often fastest on a busy machine)')
    parser.add_argument('--non-strict', action='store_true',
                        help='load the checkpoint tensors that fit')
    add_cfg_options_arg(parser)
    return parser.parse_args(argv)


def camera_frames(index):
    """RGB frames of camera ``index`` (OpenCV) until it stops."""
    import cv2
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise SystemExit(f'cannot open camera {index} with OpenCV')
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def rss_mib():
    """Current resident set size (MiB), from /proc (0 where absent)."""
    try:
        with open('/proc/self/statm') as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def peak_rss_mib():
    """Peak resident set size of the process so far (MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != 'darwin' else peak / 2**20


def main(argv=None):
    args = parse_args(argv)
    import torch

    from mmsvf.apis import StreamingRecognizer, VideoSink, iter_frames
    from mmsvf.apis.drawing import draw_text_lines
    from mmsvf.apis.video_io import video_fps
    if args.threads:
        torch.set_num_threads(args.threads)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} not found')
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if ckpt is not None and not osp.isfile(ckpt):
        raise SystemExit(f'checkpoint file {ckpt} not found')
    try:
        rec = StreamingRecognizer(args.config, ckpt, args.device,
                                  args.label_map,
                                  args.cfg_options,
                                  strict=not args.non_strict)
        mode = rec.model.backbone.attn_mode
        if mode not in ('causal', 'spatial'):
            raise ValueError(f"the config's backbone has attn_mode="
                             f"'{mode}', which needs the whole clip; use a "
                             "causal config (attn_mode='causal')")
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise SystemExit(str(err)) from err
    if args.video.isdigit():
        frames, fps = camera_frames(int(args.video)), 25.0
    else:
        if not osp.isfile(args.video):
            raise SystemExit(f'video file {args.video} not found')
        frames, fps = iter_frames(args.video), video_fps(args.video)
    sink = VideoSink(args.out_file, fps) if args.out_file else None
    report, rows = set(args.report), []
    recent = collections.deque(maxlen=8)  # latencies of the last frames
    n = 0
    try:
        for frame in frames:
            if args.max_frames is not None and n >= args.max_frames:
                break
            start = time.perf_counter()
            out = rec.step(frame, args.topk)
            ms = (time.perf_counter() - start) * 1e3
            recent.append(ms)
            n += 1
            top = ', '.join(f'{name} {s:.3f}' for _, name, s in out['topk'])
            if n % args.every == 0 or n == 1:
                print(f'frame {n:5d}  {ms:7.1f} ms  {top}', flush=True)
            if n in report:
                rows.append((n, ms, statistics.median(recent), rss_mib(),
                             peak_rss_mib(), rec.state_nbytes()))
            if sink is not None:
                lines = [f'frame {n}  {ms:.0f} ms'] + [
                    f'{name}: {s:.2f}' for _, name, s in out['topk']]
                sink.write(draw_text_lines(frame, lines))
    finally:
        if sink is not None:
            sink.close()
    if n == 0:
        raise SystemExit(f'{args.video}: no frames')
    print(f'{n} frames, torch threads {torch.get_num_threads()}')
    for f, ms, med, rss, peak, state in rows:
        print(f'report frame {f}: latency {ms:.1f} ms (median of the last '
              f'{min(f, 8)} frames {med:.1f} ms), RSS {rss:.1f} MiB, peak '
              f'RSS {peak:.1f} MiB, state {state / 2**20:.2f} MiB')
    if sink is not None:
        print(f'annotated video: {args.out_file}')
    return n


if __name__ == '__main__':
    main()
