# Copyright (c) mmsvf contributors. All rights reserved.
"""Safe checkpoint loading and atomic saving (:mod:`mmsvf.utils.checkpoint`).
"""
import argparse
import fractions
import hashlib
import os
import pickle

import pytest
import torch

from mmsvf.utils.checkpoint import (
    DEFAULT_CONVERTER,
    UnsafeCheckpointError,
    file_sha256,
    load_checkpoint_file,
    mmengine_safe_globals,
    save_checkpoint_atomic,
    unpickling_reason,
    unsafe_checkpoint_message,
)


def test_safe_loader_accepts_namespace_refuses_code(tmp_path):
    ok = tmp_path / 'ok.pth'
    torch.save({'model': {'w': torch.ones(2)},
                'args': argparse.Namespace(model='metaspikformer_8_512')},
               ok)
    assert load_checkpoint_file(str(ok))['args'].model == \
        'metaspikformer_8_512'

    marker = tmp_path / 'marker'

    class Payload:

        def __reduce__(self):
            return (open, (str(marker), 'w'))

    evil = tmp_path / 'evil.pth'
    torch.save({'model': {'w': torch.ones(2)}, 'x': Payload()}, evil)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(str(evil))
    assert not marker.exists()
    message = str(info.value)
    assert str(evil) in message and '--unsafe-load' in message
    assert 'io.open' in message and DEFAULT_CONVERTER in message
    assert isinstance(info.value, pickle.UnpicklingError)
    with pytest.raises(UnsafeCheckpointError, match='other2mmsvf.py'):
        load_checkpoint_file(str(evil), converter='other2mmsvf.py')


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_checkpoint_file(str(tmp_path / 'absent.pth'))


def test_unsafe_load_opt_in(tmp_path):
    path = tmp_path / 'frac.pth'
    torch.save({'model': {'w': torch.ones(1)},
                'ratio': fractions.Fraction(1, 3)}, path)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(str(path))
    with pytest.warns(UserWarning, match='UNSAFE LOAD'):
        ckpt = load_checkpoint_file(str(path), unsafe=True)
    assert ckpt['ratio'] == fractions.Fraction(1, 3)


def test_namespace_message_points_to_the_converter():
    reason = 'Unsupported global: GLOBAL argparse.Namespace'
    message = unsafe_checkpoint_message('x.pth', reason)
    assert 'no --unsafe-load needed' in message
    assert f'python {DEFAULT_CONVERTER} "x.pth" OUT.pth' in message
    other = unsafe_checkpoint_message('x.pth', 'Unsupported global: GLOBAL '
                                      'io.open')
    assert '--unsafe-load' in other and 'no --unsafe-load' not in other


def test_unpickling_reason_is_short():
    err = pickle.UnpicklingError(
        'Weights only load failed. ...\nWeightsUnpickler error: '
        'Unsupported global: GLOBAL io.open was not an allowed global by '
        'default.\nCheck the documentation ...')
    assert unpickling_reason(err) == 'Unsupported global: GLOBAL io.open'
    assert unpickling_reason(pickle.UnpicklingError('')) == 'UnpicklingError'


def test_mmengine_safe_globals_are_types_not_code():
    from mmengine.logging import HistoryBuffer
    allowed = mmengine_safe_globals()
    assert HistoryBuffer in allowed
    pairs = [obj for obj in allowed if isinstance(obj, tuple)]
    # the one pickled builtin is mapped to a restricted stand-in
    assert [name for _, name in pairs] == ['builtins.getattr']
    assert pairs[0][0] is not getattr
    for obj in allowed:
        if obj is HistoryBuffer or isinstance(obj, tuple):
            continue
        assert getattr(obj, '__module__', '').startswith('numpy'), obj


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    dst = tmp_path / 'out.pth'
    save_checkpoint_atomic({'w': torch.ones(2)}, str(dst))
    before = dst.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint_atomic({'w': torch.zeros(2), 'f': lambda: 0},
                               str(dst))
    assert dst.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ['out.pth']  # no temp left
    assert torch.equal(torch.load(dst)['w'], torch.ones(2))


def test_file_sha256(tmp_path):
    path = tmp_path / 'blob'
    data = os.urandom((1 << 20) + 7)  # more than one read chunk
    path.write_bytes(data)
    assert file_sha256(str(path)) == hashlib.sha256(data).hexdigest()


def test_safetensors_file_is_read(tmp_path):
    # safetensors is in requirements/tests.txt: a missing install fails here
    import safetensors.torch as safetensors_torch
    state = {'a.weight': torch.randn(2, 3), 'b': torch.arange(4)}
    path = tmp_path / 'w.safetensors'
    safetensors_torch.save_file(state, str(path))
    loaded = load_checkpoint_file(str(path))
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
