# Copyright (c) mmsvf contributors. All rights reserved.
"""Reading and writing videos frame by frame for the inferencers."""
import os
import os.path as osp
import sys
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['iter_frames', 'read_frames', 'VideoSink', 'progress',
           'PROGRESS_SECONDS']

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
#: videos longer than this (at their frame rate) get a progress bar
PROGRESS_SECONDS = 3.0

Frames = Union[str, np.ndarray, Sequence[np.ndarray]]


def _check_frame(frame, index, source):
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3
            and frame.shape[2] == 3 and frame.dtype == np.uint8):
        got = (f'{frame.dtype} array of shape {frame.shape}'
               if isinstance(frame, np.ndarray) else type(frame).__name__)
        raise ValueError(f'{source}: frame {index} must be an RGB uint8 '
                         f'array (H, W, 3); got {got}')
    return frame


def iter_frames(source: Frames) -> Iterator[np.ndarray]:
    """Frames of ``source`` one by one, RGB ``uint8 (H, W, 3)``.

    Args:
        source (str | ndarray | Sequence[ndarray]): a video file (decoded
            with PyAV), a folder of image frames (sorted by name), a
            ``(T, H, W, 3)`` array or a sequence of frames.
    """
    if isinstance(source, str) and osp.isdir(source):
        import mmcv
        names = sorted(n for n in os.listdir(source)
                       if n.lower().endswith(IMAGE_EXTS))
        if not names:
            raise ValueError(f'folder {source} holds no image frames '
                             f'({", ".join(IMAGE_EXTS)})')
        for name in names:
            yield mmcv.imread(osp.join(source, name), channel_order='rgb')
        return
    if isinstance(source, str):
        if not osp.isfile(source):
            raise FileNotFoundError(f'video file {source} not found')
        import av
        try:
            container = av.open(source)
        except Exception as err:  # noqa: BLE001 - reported with the file
            raise ValueError(f'cannot open video {source}: {err}') from err
        try:
            if not container.streams.video:
                raise ValueError(f'{source} has no video stream')
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format='rgb24')
        finally:
            container.close()
        return
    name = 'frames'
    if isinstance(source, np.ndarray) and source.ndim != 4:
        raise ValueError(f'{name}: expected a (T, H, W, 3) array, got shape '
                         f'{source.shape}')
    for i, frame in enumerate(source):
        yield _check_frame(frame, i, name)


def video_fps(source: Frames, default: float = 25.0) -> float:
    """The frame rate of a video file (``default`` for arrays)."""
    if not isinstance(source, str) or osp.isdir(source):
        return default
    import av
    with av.open(source) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else default


def read_frames(source: Frames) -> Tuple[List[np.ndarray], float]:
    """All frames of ``source`` and its frame rate.

    Returns:
        tuple: a list of RGB ``uint8 (H, W, 3)`` frames and the fps (25 for
        arrays).
    """
    frames = list(iter_frames(source))
    if not frames:
        raise ValueError(f'{source if isinstance(source, str) else "frames"}'
                         ': no frames')
    return frames, video_fps(source)


class progress:
    """A progress bar (mmengine's) shown when the work is long.

    Args:
        total (int): steps.
        show (bool | None): None = only when ``total`` frames last longer
            than :data:`PROGRESS_SECONDS` at ``fps``.
        fps (float): frame rate the steps are counted in.
    """

    def __init__(self, total, show=None, fps=25.0, file=None):
        if show is None:
            show = total > PROGRESS_SECONDS * fps
        self.bar = None
        if show:
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total, file=file or sys.stderr)

    def update(self, n=1):
        if self.bar is not None:
            for _ in range(n):
                self.bar.update()

    def close(self):
        if self.bar is not None:
            self.bar.file.write('\n')
            self.bar.file.flush()


class VideoSink:
    """Write RGB frames to a video file (OpenCV, ``mp4v``) or to a folder
    of PNG frames when ``path`` has no video extension.

    Args:
        path (str): ``*.mp4`` / ``*.avi`` / ``*.mkv`` or a directory.
        fps (float): frame rate.
    """

    VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.mov')

    def __init__(self, path: str, fps: float = 25.0):
        self.path, self.fps = path, float(fps)
        self.writer, self.count = None, 0
        self.is_video = osp.splitext(path)[1].lower() in self.VIDEO_EXTS
        parent = osp.dirname(osp.abspath(path)) if self.is_video else path
        os.makedirs(parent, exist_ok=True)

    def write(self, frame: np.ndarray):
        import cv2
        frame = _check_frame(frame, self.count, self.path)
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if not self.is_video:
            cv2.imwrite(osp.join(self.path, f'{self.count:06d}.png'), bgr)
        else:
            if self.writer is None:
                h, w = frame.shape[:2]
                codec = 'XVID' if self.path.lower().endswith('.avi') \
                    else 'mp4v'
                self.writer = cv2.VideoWriter(
                    self.path, cv2.VideoWriter_fourcc(*codec), self.fps,
                    (w, h))
                if not self.writer.isOpened():
                    raise OSError(f'OpenCV cannot write the video '
                                  f'{self.path}')
            self.writer.write(bgr)
        self.count += 1

    def close(self):
        if self.writer is not None:
            self.writer.release()
            self.writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_frames(frames: Sequence[np.ndarray], path: Optional[str],
                 fps: float = 25.0) -> Optional[str]:
    """Write ``frames`` to ``path`` (see :class:`VideoSink`); None: skip."""
    if path is None:
        return None
    with VideoSink(path, fps) as sink:
        for frame in frames:
            sink.write(frame)
    return path
