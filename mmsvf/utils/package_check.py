# Copyright (c) mmsvf contributors. All rights reserved.
"""Tell when a folder named ``mmsvf`` shadows the mmsvf package.

A clone of this repository is itself a folder named ``mmsvf`` (holding
``mmsvf/mmsvf/__init__.py``). With the clone's *parent* folder on
``sys.path`` (``PYTHONPATH=.`` or ``python -c``/``-m`` started there), ``import
mmsvf`` finds the clone folder first and, as it has no ``__init__.py``, makes
it a namespace package: ``mmsvf/__init__.py`` never runs, so the upstream
workarounds of :mod:`mmsvf.compat` are never applied, while submodules may
still be found in the installed package. The failure then surfaces far away,
e.g. ``No module named 'mmaction.models.localizers.drn'``.

:func:`check_mmsvf_package` turns that into one clear error. It uses the
standard library only: it runs before anything else of mmsvf.
"""
import os.path as osp
import sys

__all__ = ['shadowing_message', 'check_mmsvf_package']


def shadowing_message(module) -> str:
    """The error for an ``mmsvf`` module that is a namespace package, or ''.

    Args:
        module (module): ``sys.modules['mmsvf']``.

    Returns:
        str: Empty when ``module`` is the real package.
    """
    if getattr(module, '__file__', None) is not None:
        return ''
    folders = [str(p) for p in getattr(module, '__path__', [])]
    clones = [f for f in folders
              if osp.isfile(osp.join(f, 'mmsvf', '__init__.py'))]
    text = (f'"import mmsvf" found the folder(s) {", ".join(folders)}, which '
            'hold no __init__.py, instead of the mmsvf package: Python made '
            'them a namespace package, so mmsvf/__init__.py (and its upstream '
            'workarounds) never ran.')
    if clones:
        text += (f' {clones[0]} is a clone of the repository (the package is '
                 f'its mmsvf/ subfolder); its parent folder '
                 f'{osp.dirname(clones[0])} is on sys.path (PYTHONPATH, or '
                 'the current directory). Run the tools from inside the clone '
                 f'(cd {clones[0]}), or put the clone itself on PYTHONPATH '
                 f'(PYTHONPATH={clones[0]}), or rename the clone folder.')
    else:
        text += (' Remove their parent folder from PYTHONPATH (or run from '
                 'elsewhere), or rename them.')
    return text


def check_mmsvf_package() -> None:
    """Raise ``SystemExit`` if the imported ``mmsvf`` is a shadowing folder.

    Raises:
        SystemExit: With :func:`shadowing_message`.
    """
    module = sys.modules.get('mmsvf')
    message = shadowing_message(module) if module is not None else ''
    if message:
        raise SystemExit(message)
