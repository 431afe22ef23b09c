# Copyright (c) mmsvf contributors. All rights reserved.
"""mmaction's ``VideoDataset`` with checked annotation lists and decoding
errors that name the file."""
import logging
import os.path as osp

from mmaction.datasets import VideoDataset
from mmengine.fileio import list_from_file
from mmengine.logging import print_log

from mmsvf.registry import DATASETS
from .annotation_checks import (
    AnnotationError,
    attach_filename,
    check_num_classes,
    parse_labels,
)

__all__ = ['CheckedVideoDataset', 'VideoDecodeError', 'AnnotationError']


class VideoDecodeError(RuntimeError):
    """A video of a dataset could not be read or decoded."""


@DATASETS.register_module()
class CheckedVideoDataset(VideoDataset):
    """``VideoDataset`` with a checked annotation list, whose unreadable
    videos give an error naming the file.

    Annotation list (checked when the dataset loads): one
    ``<video> <label>`` line per video (``<video> <label> <label> ...`` with
    ``multi_class=True``), fields separated by ``delimiter`` (the default
    ``' '`` accepts any run of whitespace); blank lines are skipped. A line
    without a label, with an extra field, with a non-integer label or with a
    label outside ``[0, num_classes)``, and a list without any video, raise
    :class:`AnnotationError` naming the file and the line. Give
    ``num_classes`` (our configs set it from the variable that sets the
    head's ``num_classes``) so that out-of-range labels are found here
    rather than as an ``IndexError`` in the loss or, at test time, as silently
    wrong predictions; without it only ``label >= 0`` is checked.

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
            (``ann_file``, ``pipeline``, ``data_prefix``, ``num_classes``,
            ``multi_class``, ``delimiter``, ``test_mode``, ...).

    Each packed sample's metainfo holds ``filename`` (even where the
    pipeline's ``PackActionInputs`` does not list it), so that errors about
    a training batch can name its videos.
    """

    def __init__(self, *args, on_error: str = 'raise',
                 check_exists: bool = False, **kwargs) -> None:
        if on_error not in ('raise', 'skip'):
            raise ValueError(
                f"on_error must be 'raise' or 'skip', got {on_error!r}")
        check_num_classes(kwargs.get('num_classes'), type(self).__name__)
        if kwargs.get('multi_class') and kwargs.get('num_classes') is None:
            raise ValueError(f'{type(self).__name__}: multi_class=True '
                             'needs num_classes')
        self.on_error = on_error
        self.check_exists = check_exists
        super().__init__(*args, **kwargs)

    def _split(self, text):
        if self.delimiter in (' ', None):
            return text.split()
        return [f.strip() for f in text.split(self.delimiter)]

    def load_data_list(self):
        """Load and check the annotation list (and check the files exist if
        asked).

        Returns:
            list[dict]: ``dict(filename=..., label=...)`` per video, as
            mmaction's ``VideoDataset`` gives.

        Raises:
            FileNotFoundError: the annotation file (or, with
                ``check_exists``, a listed video) does not exist.
            AnnotationError: a malformed line or an empty list.
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {self.ann_file} '
                'not found')
        line_format = '<video> <label> [<label> ...]' if self.multi_class \
            else '<video> <label>'
        prefix = self.data_prefix.get('video')
        data_list = []
        for lineno, line in enumerate(list_from_file(self.ann_file), 1):
            text = line.strip()
            if not text:
                continue
            fields = self._split(text)
            where = f'{self.ann_file}:{lineno}'
            if not self.multi_class and len(fields) > 2:
                raise AnnotationError(
                    f'{where}: {len(fields)} fields separated by '
                    f'{self.delimiter!r}; expected 2, "{line_format}", '
                    f'got {text!r}')
            labels = parse_labels(fields[1:], self.num_classes, where, text,
                                  line_format)
            filename = fields[0]
            if prefix is not None:
                filename = osp.join(prefix, filename)
            data_list.append(
                dict(filename=filename,
                     label=labels if self.multi_class else labels[0]))
        if not data_list:
            raise AnnotationError(
                f'annotation file {self.ann_file} lists no video (expected '
                f'one "{line_format}" line per video)')
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
            return attach_filename(self.pipeline(data_info),
                                   data_info['filename'])
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
