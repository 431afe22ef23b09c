#!/usr/bin/env python
# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf: SpikeVideoFormer for OpenMMLab.

Install with ``make install`` (see README "Installation"). ``install_requires``
holds version ranges (``requirements/runtime.txt`` and ``mminstall.txt``);
the tested exact versions are in ``requirements/constraints.txt``. Not in
``install_requires``: mmcv (``requirements/mminstall-mmcv.txt``, mmcv-lite
unless a full mmcv is installed; extra ``mmcv-lite``) and mmaction2 / mmpose
(``requirements/mminstall-nodeps.txt``, installed with ``--no-deps`` because
their declared dependencies break the stack).
"""
import os
import os.path as osp
import platform
import re
import shutil
import sys
import warnings

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def readme():
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join(HERE, 'mmsvf', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(*names):
    """Requirement lines of ``requirements/<name>.txt`` (comments dropped)."""
    reqs = []
    for name in names:
        with open(osp.join(HERE, 'requirements', name + '.txt')) as f:
            for line in f:
                line = line.split('#')[0].strip()
                if line and not line.startswith('-'):
                    reqs.append(line)
    return reqs


def requirements_by_name(name):
    """``{distribution name: requirement line}`` of one requirements file."""
    return {
        re.match(r'[\w.-]+', req).group().lower(): req
        for req in parse_requirements(name)
    }


def add_mim_extension():
    """Ship configs/, tools/, demo/ and model-index.yml as ``mmsvf/.mim``.

    Symlinks for editable installs, copies for wheels/sdists (as mmyolo), so
    ``_base_ = 'mmsvf::...'`` works after any install (mmsvf.compat's
    config_package and installed_path) and
    ``mim search/train mmsvf`` after a regular one.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink' if platform.system() != 'Windows' else 'copy'
    elif any(a in sys.argv for a in ('sdist', 'bdist_wheel', 'build',
                                    'install')) or 'egg_info' in sys.argv:
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'mmsvf', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'demo', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        else:
            try:
                if osp.isdir(src):
                    shutil.copytree(src, dst)
                else:
                    shutil.copyfile(src, dst)
            except OSError as err:  # pragma: no cover
                warnings.warn(f'cannot copy {src} into .mim: {err}')


if __name__ == '__main__':
    add_mim_extension()
    optional = requirements_by_name('optional')
    setup(
        name='mmsvf',
        version=get_version(),
        description='SpikeVideoFormer: spike-driven video Transformers for '
        'OpenMMLab (mmaction2, mmsegmentation, mmpose)',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='spiking neural networks, video transformer, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
        include_package_data=True,
        package_data={'mmsvf': ['.mim/**/*', '.mim/*']},
        # 3.11: the tested CPython; PyAV 18 (runtime.txt) and the pinned
        # contourpy / shapely need it (torch 2.13 and numba 0.61 need 3.10)
        python_requires='>=3.11',
        license='Apache-2.0',
        license_files=['LICENSE'],
        classifiers=[
            'Programming Language :: Python :: 3',
            'Programming Language :: Python :: 3.11',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        install_requires=parse_requirements('runtime', 'mminstall'),
        extras_require={
            'mmcv-lite': parse_requirements('mminstall-mmcv'),
            'numba': [optional['numba']],
            'tensorboard': [optional['tensorboard']],
            'optional': parse_requirements('optional'),
            'mim': parse_requirements('mim'),
            'tests': parse_requirements('tests'),
        },
        zip_safe=False)
