# Copyright (c) mmsvf contributors. All rights reserved.
"""mmpose's ``simcc_vis`` imports torchvision, which is not installed.

Broken: a Runner with ``default_scope='mmpose'`` (or ``import
mmpose.visualization``) fails with ``No module named 'torchvision'``:
``mmpose/visualization/simcc_vis.py`` imports torchvision at module level,
mmpose's only use of it (mmpose 1.3.2). No CPU torchvision exists for the
pinned torch 2.13.0+cpu.

Detected: mmpose is installed, torchvision cannot be found and
``simcc_vis`` is not loaded yet.

Patch: a placeholder for that one module whose ``SimCCVisualizer`` raises a
clear ImportError when built.
"""
import importlib.util
import sys

from ._modules import package_dir, placeholder_module

__all__ = ['NAME', 'needed', 'apply']

NAME = 'mmpose-torchvision-placeholder'
MODULE = 'mmpose.visualization.simcc_vis'


def needed():
    """True when mmpose is installed and torchvision cannot be imported."""
    if package_dir('mmpose') is None:
        return False
    if MODULE in sys.modules:
        return False
    return importlib.util.find_spec('torchvision') is None


class SimCCVisualizer:
    """Placeholder: SimCC heatmap drawing needs torchvision."""

    def __init__(self, *args, **kwargs):
        raise ImportError('SimCCVisualizer needs torchvision, which is '
                          'not installed.')


def apply():
    """Register the placeholder ``mmpose.visualization.simcc_vis``."""
    sys.modules[MODULE] = placeholder_module(
        MODULE, 'mmsvf placeholder', {'SimCCVisualizer': SimCCVisualizer})
