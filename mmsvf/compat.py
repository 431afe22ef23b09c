# Copyright (c) mmsvf contributors. All rights reserved.
"""Workarounds for defects of the pinned OpenMMLab stack, in one place.

Every workaround below is applied once by :func:`apply_all` (called on
``import mmsvf``) and is active **only when its defect is present**; each has a
``*_needed()`` probe so tests can show both sides. Nothing here copies
upstream code.

=============================  =====================================================
defect                         remedy
=============================  =====================================================
mmaction2 1.2.0 wheel lacks    placeholder package ``mmaction.models.localizers.drn``
``localizers/drn`` (mmaction2  whose ``DRN`` raises when built.
issue 2714)
mmcv-lite has no ``mmcv._ext`` stand-in ``mmcv._ext`` (``__spec__.loader is None`` so
but mmseg / mmdet / mmpose     ``mmcv_full_available()`` stays False) whose ops raise
import ``mmcv.ops`` at module  :class:`MissingCompiledOpError` when *called*.
level
mmpose's ``simcc_vis`` imports placeholder for that one module when torchvision is
torchvision (absent here)      absent.
torch>=2.6 ``weights_only``    allow-list exactly the globals mmengine's own
vs mmengine 0.10.7             checkpoints pickle (``HistoryBuffer``, numpy arrays
checkpoints                    and scalars); loading stays ``weights_only=True``, so
                               third-party pickles that run code are still refused,
                               now with :class:`UnsafeCheckpointError` naming the
                               file and the converter's ``--unsafe-load``.
mmengine's ``pkg::cfg`` syntax register ``'mmsvf'`` in mmengine's package table
knows a fixed list of          (``MODULE2PACKAGE``), so ``_base_ = 'mmsvf::...'``
packages (``MODULE2PACKAGE``)  resolves to the configs shipped in ``mmsvf/.mim``,
and gives a package's configs  read like a local base file: mmsvf configs name
the package's registry scope   their scope themselves (``default_scope`` mmaction /
                               mmseg / mmpose, ``mmsvf.`` prefixes).
mmengine's                     where that folder is missing, Config asks the import
``get_installed_path`` joins   system for the package's folder instead.
site-packages and the name: a
missing folder for an editable
(PEP 660) install
CPU DDP: mmengine calls        :func:`cpu_distributed_setup` initialises gloo and sets
``torch.cuda.set_device`` and  ``device_ids=None`` (used by ``tools/train.py``).
passes ``device_ids``
=============================  =====================================================
"""
import glob
import importlib.machinery
import importlib.util
import os
import os.path as osp
import pickle
import re
import sys
import types
import warnings

import torch

__all__ = [
    'MissingCompiledOpError', 'apply_all', 'applied', 'drn_placeholder_needed',
    'mmcv_ext_stub_needed', 'torchvision_placeholder_needed',
    'weights_only_fix_needed', 'config_package_needed',
    'installed_path_fix_needed', 'check_versions',
    'cpu_distributed_setup',
    'UnsafeCheckpointError', 'unsafe_checkpoint_message'
]

#: names of the workarounds applied in this process
applied = []


class MissingCompiledOpError(NotImplementedError):
    """Raised when a compiled mmcv op is called under mmcv-lite."""


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _placeholder_module(name, doc, attrs=None, package=False):
    module = types.ModuleType(name, doc)
    # A real spec with a None loader: importlib treats it as a namespace-less
    # module and ``pkgutil.find_loader`` returns None for it.
    module.__spec__ = importlib.machinery.ModuleSpec(
        name, None, is_package=package)
    if package:
        module.__path__ = []
    module.__mmsvf_placeholder__ = True
    for key, value in (attrs or {}).items():
        setattr(module, key, value)
    return module


# --------------------------------------------------------------------------
# 1. mmaction2 wheel without models/localizers/drn
# --------------------------------------------------------------------------
def drn_placeholder_needed():
    """True when mmaction2 is installed but its ``localizers/drn`` is missing."""
    root = _package_dir('mmaction')
    if root is None:
        return False
    return not osp.isdir(osp.join(root, 'models', 'localizers', 'drn'))


def _apply_drn_placeholder():
    name = 'mmaction.models.localizers.drn'

    class DRN:  # noqa: D401 - placeholder class
        """Placeholder: the installed mmaction2 wheel ships no DRN."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'mmaction2 1.2.0 wheels lack models/localizers/drn '
                '(mmaction2 issue 2714); DRN is unavailable. Install '
                'mmaction2 from source to use it.')

    package = _placeholder_module(name, 'mmsvf placeholder for DRN',
                                  package=True)
    sub = _placeholder_module(name + '.drn', 'mmsvf placeholder for DRN',
                              {'DRN': DRN})
    package.drn = sub
    sys.modules.setdefault(name, package)
    sys.modules.setdefault(name + '.drn', sub)


# --------------------------------------------------------------------------
# 2. mmcv-lite: no compiled ops, but mmcv.ops imported at module level
# --------------------------------------------------------------------------
def mmcv_ext_stub_needed():
    """True when mmcv is installed without its compiled ``_ext`` library."""
    if 'mmcv._ext' in sys.modules:
        return False
    root = _package_dir('mmcv')
    if root is None:
        return False
    return not glob.glob(osp.join(root, '_ext*'))


class _MissingOp:

    def __init__(self, name):
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        raise MissingCompiledOpError(
            f'mmcv compiled op "{self.__name__}" was called, but the installed '
            'mmcv is mmcv-lite (no compiled ops). mmsvf itself never needs '
            'them; to use upstream models that do, install full mmcv 2.1.0 '
            '(see README, "Full mmcv").')


class _ExtStub(types.ModuleType):

    def __getattr__(self, item):
        if item.startswith('__'):
            raise AttributeError(item)
        return _MissingOp(item)


def _apply_mmcv_ext_stub():
    stub = _ExtStub('mmcv._ext', 'mmsvf stand-in for mmcv compiled ops')
    stub.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    stub.__mmsvf_placeholder__ = True
    sys.modules['mmcv._ext'] = stub


# --------------------------------------------------------------------------
# 3. mmpose simcc_vis imports torchvision at module level
# --------------------------------------------------------------------------
def torchvision_placeholder_needed():
    """True when mmpose is installed and torchvision cannot be imported."""
    if _package_dir('mmpose') is None:
        return False
    if 'mmpose.visualization.simcc_vis' in sys.modules:
        return False
    return importlib.util.find_spec('torchvision') is None


def _apply_torchvision_placeholder():

    class SimCCVisualizer:
        """Placeholder: SimCC heatmap drawing needs torchvision."""

        def __init__(self, *args, **kwargs):
            raise ImportError('SimCCVisualizer needs torchvision, which is '
                              'not installed.')

    sys.modules['mmpose.visualization.simcc_vis'] = _placeholder_module(
        'mmpose.visualization.simcc_vis', 'mmsvf placeholder',
        {'SimCCVisualizer': SimCCVisualizer})


# --------------------------------------------------------------------------
# 4. torch>=2.6 weights_only=True vs mmengine 0.10.7 checkpoints
# --------------------------------------------------------------------------
def _torch_version():
    parts = torch.__version__.split('+')[0].split('.')
    return tuple(int(p) for p in parts[:2])


def weights_only_fix_needed():
    """True when torch defaults to ``weights_only=True`` and mmengine's
    checkpoint loader does not say otherwise."""
    if _torch_version() < (2, 6):
        return False
    try:
        import inspect

        from mmengine.runner import checkpoint
        src = inspect.getsource(checkpoint.load_from_local)
    except Exception:  # pragma: no cover - mmengine missing
        return False
    return 'weights_only' not in src


#: the only attributes a checkpoint may fetch with ``getattr``
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _checkpoint_getattr(obj, name):
    """Stand-in for ``builtins.getattr`` inside ``weights_only`` loads.

    mmengine's ``HistoryBuffer.__getstate__`` pickles its statistics methods,
    which pickle writes as ``getattr(HistoryBuffer, 'min')`` and so on.
    Allow-listing the real ``getattr`` would hand a malicious checkpoint any
    attribute of any allowed object; this accepts exactly those four lookups.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    import pickle
    raise pickle.UnpicklingError(
        f'mmsvf: refusing getattr({obj!r}, {name!r}) while loading a '
        'checkpoint with weights_only=True (only HistoryBuffer statistics '
        'methods are allowed).')


def mmengine_safe_globals():
    """The exact non-tensor globals mmengine's training checkpoints pickle.

    Returns:
        list: classes / functions, plus one ``(function, 'builtins.getattr')``
        pair that maps the pickled ``getattr`` to :func:`_checkpoint_getattr`.
    """
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, np.ndarray, np.dtype,
            np.core.multiarray._reconstruct, np.core.multiarray.scalar,
            (_checkpoint_getattr, 'builtins.getattr')]
    # numpy >= 1.25 pickles dtypes by their concrete DType class.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes)
                 if n.endswith('DType')]
    return safe


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint whose loading needs arbitrary unpickling was refused."""


def unsafe_checkpoint_message(
        path, reason,
        converter='tools/convert/convert_spikevideoformer.py'):
    """Why a checkpoint was refused and how to proceed if it is trusted.

    Args:
        path (str): The refused file.
        reason (str): What ``torch.load(weights_only=True)`` objected to.
        converter (str): The converter script to recommend.

    Returns:
        str: The message.
    """
    if 'argparse.Namespace' in reason:
        # what the official Meta-SpikeFormer / SpikeVideoFormer training
        # scripts store next to the weights: the converters read it safely
        return (
            f'Refused to load checkpoint "{path}" directly: it holds an '
            f'argparse.Namespace ({reason.strip()}), as the official '
            'Meta-SpikeFormer / SpikeVideoFormer training scripts save their '
            '`args` next to the weights in the official key layout. mmsvf '
            'models need the converted layout (`backbone.` prefix, '
            '`attn_bn` filled in); the converter reads this file safely '
            '(weights_only=True, Namespace allowed, no --unsafe-load '
            'needed):\n'
            f'    python {converter} "{path}" OUT.pth --task TASK\n'
            'and use OUT.pth in init_cfg / load_from.')
    return (
        f'Refused to load checkpoint "{path}": it is not a plain weights '
        'file. torch.load(weights_only=True) stopped because the pickle '
        f'needs a global that is not a tensor type ({reason.strip()}). '
        'Unpickling it would run code named by the file itself, which can '
        'do anything a Python program can. If you trust the file (e.g. you '
        'downloaded it yourself from the official project), convert it once '
        'with\n'
        f'    python {converter} "{path}" OUT.pth --task TASK '
        '--unsafe-load\n'
        'and use OUT.pth (a plain weights file) in init_cfg / load_from.')


def unpickling_reason(err):
    """The short "Unsupported global: ..." part of a weights-only error."""
    text = str(err)
    match = re.search(r'Unsupported global: GLOBAL [\w.]+', text)
    if match:
        return match.group(0)
    match = re.search(r'(Unsupported global: [^\n]*|Unsupported operand '
                      r'[^\n]*|Unsupported class [^\n]*|'
                      r'Trying to [^\n]*)', text)
    if match:
        return match.group(1).strip().rstrip('.')
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else type(err).__name__


def _apply_weights_only_fix():
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    # mmengine's local-file loader (init_cfg Pretrained, load_from, resume):
    # same torch.load, but a refusal names the file and the way out.
    from mmengine.runner.checkpoint import CheckpointLoader
    original = CheckpointLoader._schemes.get('')
    if original is None or getattr(original, '__mmsvf_wrapped__', False):
        return

    def load_from_local(filename, map_location):
        try:
            return original(filename, map_location)
        except UnsafeCheckpointError:
            raise
        except pickle.UnpicklingError as err:
            raise UnsafeCheckpointError(
                unsafe_checkpoint_message(filename,
                                          unpickling_reason(err))) from err

    load_from_local.__mmsvf_wrapped__ = True
    load_from_local.__wrapped__ = original
    load_from_local.__doc__ = original.__doc__
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local,
                                     force=True)


# --------------------------------------------------------------------------
# 5. CPU distributed training (used by tools/train.py and tools/test.py)
# --------------------------------------------------------------------------
def cpu_distributed_setup(cfg, launcher):
    """Make ``launcher='pytorch'`` work on machines without CUDA.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` while initialising the
    process group and wraps the model with ``device_ids=[LOCAL_RANK]``; both
    fail on CPU. When CUDA is absent and a launcher is requested, this
    initialises a gloo process group itself (mmengine then skips its own
    initialisation) and asks for ``device_ids=None``. With CUDA present it does
    nothing.

    Args:
        cfg (mmengine.Config): The config to patch in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: whether the workaround was applied.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    import torch.distributed as dist
    if not dist.is_initialized():
        if launcher == 'slurm':
            os.environ.setdefault('RANK', os.environ.get('SLURM_PROCID', '0'))
            os.environ.setdefault('WORLD_SIZE',
                                  os.environ.get('SLURM_NTASKS', '1'))
            os.environ.setdefault('LOCAL_RANK',
                                  os.environ.get('SLURM_LOCALID', '0'))
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    env = dict(cfg.get('env_cfg', None) or {})
    dist_cfg = dict(env.get('dist_cfg', None) or {})
    dist_cfg['backend'] = 'gloo'
    env['dist_cfg'] = dist_cfg
    cfg.env_cfg = env
    return True


# --------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------
#: the window of versions the test suite ran on: name -> (min, max) inclusive
TESTED_VERSIONS = {
    'torch': ('2.6', '2.14'),
    'mmengine': ('0.10.7', '0.10.7'),
    'mmcv': ('2.1.0', '2.1.0'),
    'mmaction2': ('1.2.0', '1.2.0'),
    'mmsegmentation': ('1.2.2', '1.2.2'),
    'mmpose': ('1.3.2', '1.3.2'),
    'numpy': ('1.26', '1.26.4'),
}


def _vtuple(v):
    """``'2.1.0rc1+cpu'`` -> ``(2, 1, 0)``: leading digits of each part."""
    out = []
    for p in v.split('+')[0].split('.'):
        digits = ''
        for ch in p:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
        if len(digits) < len(p):  # '0rc1': a pre-release tag ends it
            break
    return tuple(out)


def check_versions(warn=True):
    """Warn (never fail) about packages outside the tested window.

    Returns:
        dict: ``name -> installed version`` for those outside the window.
    """
    from importlib import metadata
    outside = {}
    for dist_name, (low, high) in TESTED_VERSIONS.items():
        names = [dist_name, 'mmcv-lite'] if dist_name == 'mmcv' else [dist_name]
        version = None
        for name in names:
            try:
                version = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
        if version is None:
            continue
        v, lo, hi = _vtuple(version), _vtuple(low), _vtuple(high)
        if not (v[:len(lo)] >= lo and v[:len(hi)] <= hi):
            outside[dist_name] = version
    if warn and outside:
        warnings.warn(
            'mmsvf was tested with ' + ', '.join(
                f'{k} {TESTED_VERSIONS[k][0]}..{TESTED_VERSIONS[k][1]}'
                for k in outside) + '; found ' + ', '.join(
                    f'{k} {v}' for k, v in outside.items()) +
            '. It may still work; see requirements/.', stacklevel=2)
    return outside


def config_package_needed():
    """True when mmengine's ``pkg::path`` config syntax does not know mmsvf.

    mmengine resolves ``'mmdet::...'`` style paths (``_base_``,
    ``mmengine.hub.get_config``) only for the packages in its hard-coded
    ``MODULE2PACKAGE`` table and asserts "mmengine does not support to load
    mmsvf config" for any other.
    """
    from mmengine.config import utils as config_utils
    return 'mmsvf' not in config_utils.MODULE2PACKAGE


def _apply_config_package():
    # the module name and the pip package name are both ``mmsvf``; the
    # configs live in mmsvf/.mim/configs (setup.py), where mmengine looks
    from mmengine.config import Config
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE['mmsvf'] = 'mmsvf'
    original = Config._get_cfg_path

    def _get_cfg_path(cfg_path, filename):
        path, scope = original(cfg_path, filename)
        # mmengine would put ``_scope_='mmsvf'`` on the base's typed dicts
        # (the model, the datasets...), but their unprefixed types are
        # mmaction / mmseg / mmpose types (the base's default_scope)
        return path, (None if scope == 'mmsvf' else scope)

    _get_cfg_path.__wrapped__ = original
    Config._get_cfg_path = staticmethod(_get_cfg_path)


def installed_path_fix_needed():
    """True when mmengine's ``get_installed_path('mmsvf')`` names a missing
    folder.

    mmengine joins the distribution's location with the package name. After
    ``pip install -e .`` (a PEP 660 editable install) that location is
    site-packages, while the code, and ``mmsvf/.mim`` with the configs, stay
    in the checkout; ``mmsvf::`` configs would be looked up where nothing is.
    """
    # mmengine's own answer, without its slow pkg_resources import: the
    # distribution's location joined with the package name
    from importlib import metadata
    try:
        dist = metadata.distribution('mmsvf')
    except metadata.PackageNotFoundError:  # run from a checkout: no dist
        return False
    return not osp.isdir(str(dist.locate_file('mmsvf')))


def _apply_installed_path_fix():
    from mmengine.config import config as config_module
    from mmengine.hub import hub as hub_module
    original = config_module.get_installed_path

    def get_installed_path(package):
        path = original(package)
        if osp.isdir(path):
            return path
        try:  # the module name mmengine derived (the path's last part)
            return _package_dir(osp.basename(path)) or path
        except Exception:  # noqa: BLE001 - keep mmengine's answer
            return path

    get_installed_path.__wrapped__ = original
    # the two modules that resolve ``pkg::`` config paths
    config_module.get_installed_path = get_installed_path
    hub_module.get_installed_path = get_installed_path


_WORKAROUNDS = [
    ('mmaction-drn-placeholder', drn_placeholder_needed,
     _apply_drn_placeholder),
    ('mmcv-ext-stub', mmcv_ext_stub_needed, _apply_mmcv_ext_stub),
    ('mmpose-torchvision-placeholder', torchvision_placeholder_needed,
     _apply_torchvision_placeholder),
    ('mmengine-weights-only', weights_only_fix_needed,
     _apply_weights_only_fix),
    ('mmengine-config-package', config_package_needed,
     _apply_config_package),
    ('mmengine-editable-install-path', installed_path_fix_needed,
     _apply_installed_path_fix),
]


def apply_all():
    """Apply every workaround whose defect is present (idempotent)."""
    for name, needed, apply in _WORKAROUNDS:
        if name in applied:
            continue
        if needed():
            apply()
            applied.append(name)
    return list(applied)
