# Copyright (c) mmsvf contributors. All rights reserved.
"""mmcv-lite without ``mmcv._ext``: detection and the stand-in module."""
import sys

import pytest
import torch

from mmsvf.compat import mmcv_ext_stub


def test_probe(fake_package, monkeypatch):
    full = fake_package('full', files=['_ext.cpython-311-x86_64-linux-gnu.so'])
    lite = fake_package('lite', files=['__init__.py'])
    monkeypatch.delitem(sys.modules, 'mmcv._ext')
    monkeypatch.setattr(mmcv_ext_stub, 'package_dir', lambda name: full)
    assert mmcv_ext_stub.needed() is False
    monkeypatch.setattr(mmcv_ext_stub, 'package_dir', lambda name: lite)
    assert mmcv_ext_stub.needed() is True
    monkeypatch.setattr(mmcv_ext_stub, 'package_dir', lambda name: None)
    assert mmcv_ext_stub.needed() is False  # no mmcv at all
    # a real (or already stubbed) mmcv._ext module: nothing to do
    monkeypatch.setattr(mmcv_ext_stub, 'package_dir', lambda name: lite)
    monkeypatch.setitem(sys.modules, 'mmcv._ext', object())
    assert mmcv_ext_stub.needed() is False


def test_upstream_model_packages_import():
    import mmdet.models
    import mmpose.models
    import mmseg.models
    from mmseg.registry import MODELS as MMSEG_MODELS
    assert MMSEG_MODELS.get('EncoderDecoder') is \
        mmseg.models.EncoderDecoder
    assert hasattr(mmpose.models, 'TopdownPoseEstimator')
    assert hasattr(mmdet.models, 'DetDataPreprocessor')


def test_stub_keeps_full_mmcv_unavailable():
    from mmengine.utils.dl_utils import mmcv_full_available
    assert mmcv_full_available() is False
    stub = sys.modules['mmcv._ext']
    assert stub.__spec__.loader is None
    # dunder lookups are real AttributeErrors (hasattr/pickle/inspect work)
    assert not hasattr(stub, '__file__')


def test_compiled_op_raises_clear_error():
    import mmcv.ops
    boxes = torch.tensor([[0., 0., 2., 2.], [1., 1., 3., 3.]])
    scores = torch.tensor([0.9, 0.8])
    with pytest.raises(mmcv_ext_stub.MissingCompiledOpError,
                       match='mmcv-lite'):
        mmcv.ops.nms(boxes, scores, 0.5)
    # and it is a NotImplementedError for callers that catch that
    with pytest.raises(NotImplementedError, match='"nms"'):
        mmcv.ops.nms(boxes, scores, 0.5)


def test_apply_installs_the_stub(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmcv._ext')
    mmcv_ext_stub.apply()
    stub = sys.modules['mmcv._ext']
    assert stub.__mmsvf_placeholder__
    with pytest.raises(mmcv_ext_stub.MissingCompiledOpError):
        stub.roi_align_forward(torch.zeros(1))
