# Copyright (c) mmsvf contributors. All rights reserved.
"""Strict parsing of ``<path> <label>`` annotation lists.

mmaction2 1.2.0's ``VideoDataset`` reads ``path label`` lines without any
check: a label outside ``[0, num_classes)`` is only found in training (as
``IndexError: Target 9 is out of bounds``, with no file or line) and is
silently counted as a wrong prediction at test time; a line without a label
gets label -1 (also counted as wrong); a non-integer label or an extra field
stops with a bare ``ValueError`` and an empty list with ``need at least one
array to concatenate``. The helpers here make every one of these an
:class:`AnnotationError` naming the file, the line number and what was
expected, when the dataset loads.
"""
from typing import List, Optional, Sequence

__all__ = ['AnnotationError', 'check_num_classes', 'parse_labels',
           'attach_filename']


class AnnotationError(ValueError):
    """An annotation list (or the dataset arguments that describe it) is
    malformed; the message names the file and the line."""


def check_num_classes(num_classes: Optional[int], owner: str) -> None:
    """Raise unless ``num_classes`` is None or a positive integer."""
    if num_classes is None:
        return
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) \
            or num_classes < 1:
        raise AnnotationError(
            f'{owner}: num_classes must be a positive integer (the '
            f"model head's number of classes), got {num_classes!r}")


def _expected(num_classes: Optional[int], line_format: str) -> str:
    labels = (f'an integer label in [0, {num_classes - 1}] '
              f"(num_classes={num_classes}, the dataset's argument, which "
              "must equal the model head's num_classes)"
              if num_classes is not None else 'an integer label >= 0')
    return f'expected "{line_format}" with {labels}'


def parse_labels(fields: Sequence[str], num_classes: Optional[int],
                 where: str, line: str, line_format: str) -> List[int]:
    """Integer labels of one annotation line, checked against the range.

    Args:
        fields (Sequence[str]): The label fields of the line.
        num_classes (int | None): Labels must be in ``[0, num_classes)``;
            None checks ``>= 0`` only.
        where (str): ``'<file>:<line number>'`` for the message.
        line (str): The whole line, quoted in the message.
        line_format (str): The expected format, e.g. ``'<video> <label>'``.

    Returns:
        list[int]: The labels.

    Raises:
        AnnotationError: A label is missing, not an integer or out of range.
    """
    expected = _expected(num_classes, line_format)
    if not fields:
        raise AnnotationError(f'{where}: no label; {expected}, got {line!r}')
    labels = []
    for field in fields:
        try:
            label = int(field)
        except ValueError:
            raise AnnotationError(
                f'{where}: label {field!r} is not an integer; {expected}, '
                f'got {line!r}') from None
        if label < 0 or (num_classes is not None and label >= num_classes):
            raise AnnotationError(
                f'{where}: label {label} is out of range; {expected}, '
                f'got {line!r}')
        labels.append(label)
    return labels


def attach_filename(results, filename: str):
    """Put ``filename`` into the packed data sample's metainfo.

    mmaction's ``PackActionInputs`` keeps the file name only when the
    pipeline lists it in ``meta_keys`` (our training pipelines do not); with
    it, an error about a training batch (e.g. from
    :class:`~mmsvf.engine.NonFiniteGuardHook`) can name the files.
    """
    sample = results.get('data_samples') if isinstance(results, dict) \
        else None
    if sample is not None and hasattr(sample, 'set_metainfo') and \
            'filename' not in sample.metainfo:
        sample.set_metainfo(dict(filename=filename))
    return results
