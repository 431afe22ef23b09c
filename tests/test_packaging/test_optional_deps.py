# Copyright (c) mmsvf contributors. All rights reserved.
"""numba and tensorboard are extras: mmsvf works without them.

A fresh interpreter with both made unimportable imports every mmsvf
subpackage, runs the LIF neurons (which fall back from the Numba kernels to
the fused torch scans: same spikes and gradients as the reference loop) and
never imports tensorboard; asking for the Numba backend then fails with an
error that names numba.
"""
import os
import subprocess
import sys
import textwrap

from mmsvf_test_utils import REPO_ROOT

SCRIPT = textwrap.dedent('''
    import sys
    # None in sys.modules makes `import numba` raise ImportError, as when the
    # package is not installed
    for name in ('numba', 'llvmlite', 'tensorboard'):
        sys.modules[name] = None

    import torch

    import mmsvf  # noqa: F401
    import mmsvf.analysis  # noqa: F401
    import mmsvf.datasets  # noqa: F401
    import mmsvf.engine  # noqa: F401
    import mmsvf.evaluation  # noqa: F401
    import mmsvf.models  # noqa: F401
    from mmsvf.models.neurons import LIF, lif_multistep_reference
    from mmsvf.models.neurons import numba_kernels

    assert not numba_kernels.NUMBA_AVAILABLE
    torch.manual_seed(0)
    x = (2 * torch.randn(4, 3, 16, dtype=torch.float64)).requires_grad_()
    spikes = LIF()(x)  # default backend: 'auto'
    spikes.sum().backward()
    grad, x.grad = x.grad.clone(), None
    ref = lif_multistep_reference(x)
    ref.sum().backward()
    assert spikes.sum() > 0
    assert torch.equal(spikes, ref)
    assert torch.allclose(grad, x.grad, atol=1e-12)
    try:
        LIF(backend='numba')(x)
    except RuntimeError as err:
        assert 'numba' in str(err), err
    else:
        raise AssertionError('backend="numba" ran without numba')
    loaded = [m for m in sys.modules
              if m.split('.')[0] in ('numba', 'llvmlite', 'tensorboard')
              and sys.modules[m] is not None]
    assert not loaded, loaded
    print('fallback ok')
''')


def test_mmsvf_works_without_numba_and_tensorboard():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    env.pop('MMSVF_NEURON_BACKEND', None)
    proc = subprocess.run([sys.executable, '-c', SCRIPT],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'fallback ok' in proc.stdout
