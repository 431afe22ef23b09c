# Copyright (c) mmsvf contributors. All rights reserved.
"""The packaging contract: setup.py, requirements/, LICENSE.

``install_requires``, the extras and every ``requirements/*.txt`` hold
version ranges; the exact tested versions live only in
``requirements/constraints.txt``, and each pin there falls inside the ranges,
so ``pip install -c requirements/constraints.txt -r requirements/X.txt``
always resolves to the tested stack. The version window that ``import
mmsvf`` warns outside of agrees with the ranges, and the README's install
commands are the Makefile's (CI builds its environment with the Makefile).
"""
import ast
import hashlib
import re
import runpy
import sys
from importlib import metadata

import pytest
import setuptools
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from mmsvf_test_utils import REPO_ROOT

REQ_DIR = REPO_ROOT / 'requirements'
REQUIREMENT_FILES = sorted(
    p.stem for p in REQ_DIR.glob('*.txt') if p.stem != 'constraints')
#: md5 of the Apache License 2.0 text as the ASF publishes it (LICENSE-2.0)
APACHE_2_MD5 = '3b83ef96387f14655fc854ddc3c6bd57'


def read_requirements(name):
    """Parsed requirement lines of ``requirements/<name>.txt``."""
    reqs = []
    path = REQ_DIR / f'{name}.txt'
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if not line:
            continue
        # setup.py drops option lines: one would be lost from the metadata
        assert not line.startswith('-'), f'{path}: option line {line!r}'
        reqs.append(Requirement(line))
    return reqs


def read_constraints():
    """``{canonical name: Version}`` of ``requirements/constraints.txt``."""
    pins = {}
    path = REQ_DIR / 'constraints.txt'
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec, ) = req.specifier  # one exact pin per line
        assert spec.operator == '==' and '*' not in spec.version, \
            f'{path}: {line!r} is not an exact pin'
        name = canonicalize_name(req.name)
        assert name not in pins, f'{path}: {req.name} pinned twice'
        pins[name] = Version(spec.version)
    return pins


def floor_of(spec):
    floors = [Version(s.version) for s in spec if s.operator == '>=']
    return floors[0] if len(floors) == 1 else None


@pytest.fixture(scope='module')
def setup_kwargs():
    """The keyword arguments setup.py passes to ``setuptools.setup``."""
    captured = {}
    original, argv = setuptools.setup, sys.argv
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    # no build command in argv: setup.py leaves mmsvf/.mim alone
    sys.argv = [str(REPO_ROOT / 'setup.py'), '--name']
    try:
        runpy.run_path(str(REPO_ROOT / 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup, sys.argv = original, argv
    assert captured, 'setup.py did not call setuptools.setup'
    return captured


def test_install_requires_and_extras_are_ranges(setup_kwargs):
    reqs = list(setup_kwargs['install_requires'])
    for extra in setup_kwargs['extras_require'].values():
        reqs += extra
    assert reqs
    for line in reqs:
        req = Requirement(line)
        operators = {s.operator for s in req.specifier}
        assert not operators & {'==', '==='}, f'exact pin {line!r}'
        # the floor is the tested version (a bare name admits anything)
        assert floor_of(req.specifier) is not None, f'no floor in {line!r}'


@pytest.mark.parametrize('name', REQUIREMENT_FILES)
def test_requirement_files_hold_ranges(name):
    reqs = read_requirements(name)
    assert reqs, f'requirements/{name}.txt is empty'
    for req in reqs:
        assert not {s.operator for s in req.specifier} & {'==', '==='}, \
            f'requirements/{name}.txt: exact pin {req}; pins belong in ' \
            'constraints.txt'
        assert floor_of(req.specifier) is not None, \
            f'requirements/{name}.txt: no floor in {req}'


def test_setup_reads_the_requirement_files(setup_kwargs):
    lines = [
        str(r) for n in ('runtime', 'mminstall') for r in read_requirements(n)
    ]
    assert [str(Requirement(r))
            for r in setup_kwargs['install_requires']] == lines
    extras = {
        k: sorted(str(Requirement(r)) for r in v)
        for k, v in setup_kwargs['extras_require'].items()
    }
    for extra, name in (('tests', 'tests'), ('mim', 'mim'),
                        ('optional', 'optional'), ('mmcv-lite',
                                                   'mminstall-mmcv')):
        assert extras[extra] == sorted(
            str(r) for r in read_requirements(name)), extra
    # one extra per optional feature
    assert [Requirement(r).name for r in extras['numba']] == ['numba']
    assert [Requirement(r).name
            for r in extras['tensorboard']] == ['tensorboard']


def test_optional_and_conflicting_packages_stay_out_of_install_requires(
        setup_kwargs):
    names = {
        canonicalize_name(Requirement(r).name)
        for r in setup_kwargs['install_requires']
    }
    # optional features; the mmcv flavour (mmcv-lite must not land on a
    # full mmcv); the --no-deps packages; tools
    for name in ('numba', 'llvmlite', 'tensorboard', 'mmcv', 'mmcv-lite',
                 'mmaction2', 'mmpose', 'openmim', 'pytest', 'ruff'):
        assert name not in names, name


def test_constraints_pin_every_requirement_inside_its_range():
    pins = read_constraints()
    for name in REQUIREMENT_FILES:
        for req in read_requirements(name):
            pin = pins.get(canonicalize_name(req.name))
            assert pin is not None, \
                f'{req.name} (requirements/{name}.txt) is not pinned in ' \
                'constraints.txt'
            assert req.specifier.contains(pin, prereleases=True), \
                f'constraints.txt pins {req.name}=={pin}, outside ' \
                f'requirements/{name}.txt: {req}'


def test_python_requires(setup_kwargs):
    spec = SpecifierSet(setup_kwargs['python_requires'])
    floor = floor_of(spec)
    # torch 2.13 and numba 0.61 need 3.10
    assert floor is not None and floor >= Version('3.10'), spec
    running = '.'.join(map(str, sys.version_info[:3]))
    assert spec.contains(running), f'this Python {running} is outside {spec}'


def test_python_requires_floor_fits_the_pinned_packages(setup_kwargs):
    """Every pinned package that is installed at its pin accepts the
    lowest Python that ``python_requires`` admits."""
    floor = floor_of(SpecifierSet(setup_kwargs['python_requires']))
    checked, refusing = 0, []
    for name, pin in read_constraints().items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if Version(dist.version).public != pin.public:
            continue
        checked += 1
        requires_python = dist.metadata.get('Requires-Python')
        if requires_python and not SpecifierSet(requires_python).contains(
                floor, prereleases=True):
            refusing.append(f'{name}=={pin} (Requires-Python '
                            f'{requires_python})')
    assert checked >= 20, 'the pinned stack is not installed'
    assert not refusing, f'python_requires admits {floor}, refused by ' \
        f'{refusing}'


def test_license_is_the_full_apache_2_text(setup_kwargs):
    path = REPO_ROOT / 'LICENSE'
    assert path.is_file(), 'LICENSE is missing'
    text = path.read_text()
    start = text.find('\n' + ' ' * 33 + 'Apache License\n')
    assert start >= 0, 'LICENSE is not the Apache License'
    digest = hashlib.md5(text[start:].encode()).hexdigest()
    assert digest == APACHE_2_MD5, 'LICENSE: the Apache-2.0 text is altered'
    assert setup_kwargs['license'] == 'Apache-2.0'
    assert 'LICENSE' in setup_kwargs['license_files']
    manifest = (REPO_ROOT / 'MANIFEST.in').read_text().split()
    assert 'LICENSE' in manifest


def find_tested_versions():
    """The ``TESTED_VERSIONS`` dict literal, wherever in mmsvf it lives."""
    found = []
    for path in sorted((REPO_ROOT / 'mmsvf').rglob('*.py')):
        if '.mim' in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            # the dict literal (a re-export elsewhere assigns a name)
            if isinstance(value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id == 'TESTED_VERSIONS'
                    for t in targets):
                found.append((path, ast.literal_eval(value)))
    assert len(found) == 1, f'TESTED_VERSIONS defined {len(found)} times: ' \
        f'{[str(p) for p, _ in found]}'
    return found[0][1]


def test_version_window_agrees_with_the_ranges():
    """The floor of each range is the window's low end, the window's high end
    is installable, and the tested pin lies inside the window."""
    window = find_tested_versions()
    assert window
    reqs = {
        canonicalize_name(r.name): r
        for n in REQUIREMENT_FILES
        for r in read_requirements(n)
    }
    pins = read_constraints()
    for name, (low, high) in window.items():
        # mmcv's window covers the mmcv-lite that mminstall-mmcv.txt installs
        dist = canonicalize_name('mmcv-lite' if name == 'mmcv' else name)
        req = reqs.get(dist)
        assert req is not None, f'window names {name}, no requirement does'
        low, high = Version(low), Version(high)
        assert floor_of(req.specifier) == low, \
            f'{req}: floor differs from the tested window {low}..{high}'
        assert req.specifier.contains(high, prereleases=True), \
            f'{req} refuses the top of the tested window {high}'
        pin = pins[dist]
        assert low <= pin and \
            pin.release[:len(high.release)] <= high.release, \
            f'constraints.txt pins {dist}=={pin}, outside {low}..{high}'


def _joined_lines(text):
    return re.sub(r'\\\n\s*', ' ', text).splitlines()


def _normalise(command):
    command = command.replace('$(PIP)', 'pip').replace('.venv/bin/pip', 'pip')
    return ' '.join(w for w in command.split() if w != '-q')


def makefile_install_commands():
    """The pip commands of the Makefile's install rule."""
    text = (REPO_ROOT / 'Makefile').read_text()
    rule = re.search(r'^\$\(STAMP\):.*?(?=\n\n)', text, re.S | re.M)
    assert rule, 'Makefile: no $(STAMP) rule'
    return [
        _normalise(line) for line in _joined_lines(rule.group())
        if line.startswith('\t') and 'pip' in line.replace('$(PIP)', 'pip')
    ]


def readme_install_commands():
    """The pip commands of the README's "Installation" section."""
    text = (REPO_ROOT / 'README.md').read_text()
    section = re.search(r'^## Installation\n(.*?)(?=^## )', text, re.S | re.M)
    assert section, 'README: no "## Installation" section'
    block = re.search(r'```bash\n(.*?)```', section.group(1), re.S)
    assert block, 'README "Installation": no bash block'
    return [
        _normalise(line) for line in _joined_lines(block.group(1))
        if line.startswith('.venv/bin/pip')
    ]


def test_readme_install_commands_are_the_makefiles():
    """CI runs ``make test``; the README's commands must build the same
    environment (and both must use the constraints)."""
    make, readme = makefile_install_commands(), readme_install_commands()
    assert make == readme
    for command in make:
        if '-r requirements/' in command:
            assert '-c requirements/constraints.txt' in command, command
    installed = set(
        re.findall(r'-r requirements/([\w-]+)\.txt', ' '.join(make)))
    assert {
        'runtime', 'mminstall', 'mminstall-mmcv', 'mminstall-nodeps',
        'optional', 'tests'
    } <= installed
