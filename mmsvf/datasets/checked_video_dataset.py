# Copyright (c) mmsvf contributors. All rights reserved.
"""mmaction's ``VideoDataset`` with decoding errors that name the file."""
import logging
import os.path as osp

from mmaction.datasets import VideoDataset
from mmengine.logging import print_log

from mmsvf.registry import DATASETS

__all__ = ['CheckedVideoDataset', 'VideoDecodeError']


class VideoDecodeError(RuntimeError):
    """A video of a dataset could not be read or decoded."""


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` whose unreadable videos give an error naming the file.

    With mmaction2 1.2.0 a truncated or garbage video makes Decord raise
    ``RuntimeError: Error reading N bytes`` or a ``DECORDError`` from its
    decoder thread, and PyAV ``InvalidDataError: ... '<none>'``; none of
    them says which file; OpenCV silently returns damaged frames or fails with
    ``IndexError: "frame_id" must be between 0 and -1``. This dataset runs the
    same pipeline but turns any exception raised while loading sample ``i``
    into a :class:`VideoDecodeError` that names the file, the annotation
    file and the sample index, and keeps the original error as its cause.

    Skip policy (``on_error='skip'``, training only): the broken sample is
    logged as a warning naming the file and MMEngine's ``BaseDataset``
    replaces it by another random sample (at most ``max_refetch`` times).
    In test mode errors are always raised, so no metric is silently computed
    on fewer or different videos.

    Args:
        on_error (str): ``'raise'`` (default) or ``'skip'``.
        check_exists (bool): Check at load time that every listed video
            exists, and raise one error listing the missing ones (first 10).
            Defaults to False.
        **kwargs: Arguments of :class:`mmaction.datasets.VideoDataset`
            (``ann_file``, ``pipeline``, ``data_prefix``, ``test_mode``, ...).
    """

    def __init__(self, *args, on_error: str = 'raise',
                 check_exists: bool = False, **kwargs) -> None:
        if on_error not in ('raise', 'skip'):
            raise ValueError(
                f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.check_exists = check_exists
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        """Load the annotation list (and check the files exist if asked)."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {self.ann_file} '
                'not found')
        data_list = super().load_data_list()
        if self.check_exists:
            missing = [d['filename'] for d in data_list
                       if not osp.isfile(d['filename'])]
            if missing:
                raise FileNotFoundError(
                    f'{len(missing)} of {len(data_list)} videos listed in '
                    f'{self.ann_file} do not exist, e.g. ' +
                    ', '.join(missing[:10]))
        return data_list

    def prepare_data(self, idx):
        """Run the pipeline on sample ``idx``; errors name the video file."""
        data_info = self.get_data_info(idx)
        try:
            return self.pipeline(data_info)
        except Exception as err:
            filename = data_info.get('filename', f'<sample {idx}>')
            message = (f'cannot load video {filename} (sample {idx} of '
                       f'{self.ann_file}): {type(err).__name__}: '
                       f'{str(err).strip()[:300]}')
            if self.on_error == 'skip' and not self.test_mode:
                print_log(f'{message}; skipped, another sample is used',
                          logger='current', level=logging.WARNING)
                return None
            raise VideoDecodeError(message) from err
