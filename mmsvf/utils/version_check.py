# Copyright (c) mmsvf contributors. All rights reserved.
"""Warn (never fail) when a dependency is outside the tested versions."""
import warnings
from importlib import metadata

from mmengine.utils import digit_version

__all__ = ['TESTED_VERSIONS', 'in_window', 'check_versions']

#: the window of versions the test suite ran on: name -> (min, max) inclusive,
#: each bound compared on as many parts as it has ('2.14' covers 2.14.x)
TESTED_VERSIONS = {
    'torch': ('2.6', '2.14'),
    'mmengine': ('0.10.7', '0.10.7'),
    'mmcv': ('2.1.0', '2.1.0'),
    'mmaction2': ('1.2.0', '1.2.0'),
    'mmsegmentation': ('1.2.2', '1.2.2'),
    'mmpose': ('1.3.2', '1.3.2'),
    'numpy': ('1.26', '1.26.4'),
}
#: distributions that provide a name of :data:`TESTED_VERSIONS`
_PROVIDERS = {'mmcv': ('mmcv', 'mmcv-lite')}


def in_window(version: str, low: str, high: str) -> bool:
    """Whether ``version`` lies in ``[low, high]``.

    Each bound is compared on its own number of parts, so ``'2.14.1'`` is
    inside ``('2.6', '2.14')``; local tags (``+cpu``) and pre-release tags
    (``rc1``, ``.dev``) of a release count as that release.

    Args:
        version (str): The installed version.
        low (str): Lowest tested version.
        high (str): Highest tested version.

    Returns:
        bool: False also for a version that cannot be parsed.
    """
    try:
        v = digit_version(version)
    except (AssertionError, ValueError):
        return False
    lo, hi = len(low.split('.')), len(high.split('.'))
    return (v[:lo] >= digit_version(low)[:lo]
            and v[:hi] <= digit_version(high)[:hi])


def _installed(name):
    for dist_name in _PROVIDERS.get(name, (name, )):
        try:
            return metadata.version(dist_name)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_versions(warn: bool = True) -> dict:
    """Warn about installed packages outside :data:`TESTED_VERSIONS`.

    Args:
        warn (bool): Issue a UserWarning naming them.

    Returns:
        dict: ``name -> installed version`` for those outside the window
        (packages that are not installed are skipped).
    """
    outside = {}
    for name, (low, high) in TESTED_VERSIONS.items():
        version = _installed(name)
        if version is not None and not in_window(version, low, high):
            outside[name] = version
    if warn and outside:
        warnings.warn(
            'mmsvf was tested with ' + ', '.join(
                f'{k} {TESTED_VERSIONS[k][0]}..{TESTED_VERSIONS[k][1]}'
                for k in outside) + '; found ' + ', '.join(
                    f'{k} {v}' for k, v in outside.items()) +
            '. It may still work; see requirements/.', stacklevel=2)
    return outside
