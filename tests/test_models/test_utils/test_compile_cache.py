# Copyright (c) mmsvf contributors. All rights reserved.
"""One torch.compile cache for the neuron scans and the backbone blocks."""
from mmsvf.models.layers import MSConvBlock, MSDownsampling
from mmsvf.models.neurons import functional
from mmsvf.models.utils.compile import compiled_function


def test_cached_per_function_and_options():
    # torch.compile is lazy: nothing is compiled here
    fn = compiled_function(MSConvBlock.forward, dict(dynamic=False))
    assert fn is compiled_function(MSConvBlock.forward, dict(dynamic=False))
    assert fn is not compiled_function(MSConvBlock.forward,
                                       dict(dynamic=False, mode='default'))
    assert fn is not compiled_function(MSDownsampling.forward,
                                       dict(dynamic=False))


def test_neuron_inductor_scans_come_from_the_same_cache():
    fwd, bwd = functional._get_scans('inductor')
    cfg = dict(dynamic=False)
    assert fwd is compiled_function(functional._lif_forward_scan, cfg)
    assert bwd is compiled_function(functional._lif_backward_scan, cfg)
    assert functional._get_scans('torch') == (functional._lif_forward_scan,
                                              functional._lif_backward_scan)
