# Copyright (c) mmsvf contributors. All rights reserved.
"""Hand-computed spike trains that tell hard from soft reset, input decay on
from off and where the threshold sits; the default neuron configuration of
every module (SpikingJelly 0.0.0.0.12 ``MultiStepLIFNode(tau=2.0,
detach_reset=True)`` with its library defaults, as in Meta-SpikeFormer and
SpikeVideoFormer ``metaspikformer.py``)."""
import math

import pytest
import torch

from mmsvf.models import SpikeVideoFormer, SpikingClsHead
from mmsvf.models.attention import (
    FactorizedSpikeAttention,
    SpikeDrivenAttention,
)
from mmsvf.models.neurons import LIF, IntegerLIF

BACKENDS = ['reference', 'torch', 'numba']


def train(neuron, values):
    x = torch.tensor(values, dtype=torch.float64).view(-1, 1)
    return neuron(x).view(-1).tolist()


# ---------------------------------------------------------------------------
# hard vs soft reset
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('backend', BACKENDS)
def test_hard_and_soft_reset_differ_after_an_overshoot(backend):
    # tau 2, V_th 1, V[0] = 0. Step 0: X = 3 -> H = 0 + (3 - 0) / 2 = 1.5,
    # fires in both. Hard reset to 0: V = 0; soft reset: V = 1.5 - 1 = 0.5.
    # Step 1: X = 1.6 -> hard H = 0 + 1.6 / 2 = 0.8 (silent);
    #                    soft H = 0.5 + (1.6 - 0.5) / 2 = 1.05 (fires).
    x = [3.0, 1.6]
    assert train(LIF(v_reset=0.0, backend=backend), x) == [1, 0]
    assert train(LIF(v_reset=None, backend=backend), x) == [1, 1]
    # the default is the hard reset
    assert train(LIF(backend=backend), x) == [1, 0]


@pytest.mark.parametrize('backend', BACKENDS)
def test_soft_reset_keeps_the_overshoot_over_several_steps(backend):
    # X = [2.5, 1.5, 1.2]
    # hard: H = 1.25 (fire, V = 0), 0.75, 0.75 + 0.45 / 2 = 0.975   -> 1 0 0
    # soft: H = 1.25 (fire, V = 0.25), 0.25 + 1.25 / 2 = 0.875,
    #       0.875 + 0.325 / 2 = 1.0375                               -> 1 0 1
    x = [2.5, 1.5, 1.2]
    assert train(LIF(backend=backend), x) == [1, 0, 0]
    assert train(LIF(v_reset=None, backend=backend), x) == [1, 0, 1]


# ---------------------------------------------------------------------------
# input decay, threshold placement
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('backend', BACKENDS)
def test_decay_input_on_and_off(backend):
    # X = 1.5 constant. decay_input: H = V + (X - V) / 2 = 0.75 (silent),
    # then 0.75 + 0.75 / 2 = 1.125 (fires) -> [0, 1].
    # no decay: H = V - V / 2 + X = 1.5 (fires), V = 0, again -> [1, 1].
    x = [1.5, 1.5]
    assert train(LIF(backend=backend), x) == [0, 1]
    assert train(LIF(decay_input=False, backend=backend), x) == [1, 1]


@pytest.mark.parametrize('backend', BACKENDS)
def test_spike_iff_membrane_reaches_threshold(backend):
    # X = 2 gives H = 1.0 exactly = V_th: fires (Heaviside(0) = 1)
    assert train(LIF(backend=backend), [2.0]) == [1]
    # one ulp-sized step below: H = 1 - 2^-40 < V_th: silent
    assert train(LIF(backend=backend), [2.0 - 2.0**-39]) == [0]
    # a custom threshold: X = 1 gives H = 0.5 = V_th
    assert train(LIF(v_threshold=0.5, backend=backend), [1.0]) == [1]
    assert train(LIF(v_threshold=0.5, backend=backend),
                 [1.0 - 2.0**-39]) == [0]


def test_integer_lif_hand_train():
    # u0 = 1.4 -> s = round(1.4) = 1; u1 = (1.4 - 1) * 0.25 + 2.6 = 2.7 ->
    # s = 3; u2 = (2.7 - 3) * 0.25 + 9 = 8.925 -> clamp 4
    assert train(IntegerLIF(max_level=4), [1.4, 2.6, 9.0]) == [1, 3, 4]
    # the leaky remainder carries over: u1 = 0.45 * 0.25 + 0.45 = 0.5625
    assert train(IntegerLIF(max_level=4), [0.45, 0.45]) == [0, 1]
    assert train(IntegerLIF(max_level=4, reset_each_step=True),
                 [0.45, 0.45]) == [0, 0]


# ---------------------------------------------------------------------------
# defaults
# ---------------------------------------------------------------------------
def assert_default_lif(neuron, v_threshold=1.0):
    assert type(neuron) is LIF
    assert neuron.v_reset == 0.0 and neuron.v_reset is not None
    assert neuron.tau == 2.0
    assert neuron.v_threshold == v_threshold
    assert neuron.decay_input is True
    assert neuron.detach_reset is True
    assert neuron.surrogate == 'sigmoid'
    assert neuron.alpha is None  # the surrogate's own default, 4


def test_lif_defaults():
    assert_default_lif(LIF())


def test_default_surrogate_is_sigmoid_alpha_4_over_tau():
    # one step: H = X / 2, dS/dX = sigmoid'(4 (H - 1)) * 4 / tau
    x = torch.tensor([[1.6]], dtype=torch.float64, requires_grad=True)
    LIF()(x).sum().backward()
    sig = 1 / (1 + math.exp(-4 * (0.8 - 1.0)))
    assert x.grad.item() == pytest.approx(4 * sig * (1 - sig) / 2,
                                          rel=1e-12)


def test_default_reset_is_detached():
    # two steps, gradient of the second spike w.r.t. the first input: with
    # a detached reset only the leak path dH1/dV0 = 1 - 1/tau remains, and
    # V0 = H0 (1 - S0) with S0 = 1 -> dV0/dH0 = 1 - S0 = 0: no gradient.
    x = torch.tensor([[3.0], [1.0]], dtype=torch.float64,
                     requires_grad=True)
    s = LIF()(x)
    assert s.view(-1).tolist() == [1.0, 0.0]
    s[1].sum().backward()
    assert x.grad[0].item() == 0.0
    # an attached reset passes (v_reset - H0) * sigmoid' back
    x2 = x.detach().clone().requires_grad_(True)
    LIF(detach_reset=False)(x2)[1].sum().backward()
    assert x2.grad[0].item() != 0.0


def test_every_backbone_neuron_has_the_default_configuration():
    for similarity, attn_v_th in (('hamming', 1.0), ('dot', 0.5)):
        for attn_mode in ('joint', 'hierarchical', 'factorized'):
            model = SpikeVideoFormer(embed_dims=[8, 16, 16, 16],
                                     depths=(1, 1), attn_mode=attn_mode,
                                     similarity=similarity)
            neurons = {n: m for n, m in model.named_modules()
                       if isinstance(m, (LIF, IntegerLIF))}
            assert len(neurons) > 30
            for name, m in neurons.items():
                v_th = attn_v_th if name.endswith('attn_lif') else 1.0
                assert_default_lif(m, v_th)
    assert_default_lif(SpikingClsHead(num_classes=3, in_channels=8).lif)


@pytest.mark.parametrize('cls', [SpikeDrivenAttention,
                                 FactorizedSpikeAttention])
def test_attention_threshold_and_scale_defaults(cls):
    ham = cls(64, 8, similarity='hamming')
    dot = cls(64, 8, similarity='dot')
    # Hamming: (2Q-1)((2K-1)^T V) / (2C), C = 64 the module's full width
    # (not the head width 8); BN; output LIF at V_th 1
    assert ham.attention.scale == 1 / 128
    assert ham.attn_bn is not None and ham.attn_bn.num_features == 64
    assert_default_lif(ham.attn_lif, 1.0)
    # dot: Q(K^T V) * 0.125, no BN, output LIF at V_th 0.5
    assert dot.attention.scale == 0.125
    assert dot.attn_bn is None
    assert_default_lif(dot.attn_lif, 0.5)
    if cls is FactorizedSpikeAttention:
        assert ham.temporal_attention.scale == 1 / 128
        assert dot.temporal_attention.scale == 0.125
    for m in (ham, dot):
        for name in ('head_lif', 'q_lif', 'k_lif', 'v_lif'):
            assert_default_lif(getattr(m, name), 1.0)
    # other widths: the scale follows C
    assert cls(96, 8).attention.scale == 1 / 192
