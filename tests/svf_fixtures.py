# Copyright (c) mmsvf contributors. All rights reserved.
"""Deterministic tiny SpikeVideoFormer weights with non-trivial BatchNorm
statistics, for the reference-equivalence and golden-output tests.

Weights are written from a seeded generator key by key, in sorted state-dict
order, so they depend neither on module construction order nor on PyTorch's
default initialisers.
"""
import zlib

import torch

#: tiny widths: stem 4, stages 8 / 16 / 16 / 16 channels (powers of two, so
#: the Hamming scale 1/(2C) = 1/32 is exact in any float format)
TINY = dict(embed_dims=[8, 16, 16, 16], depths=(1, 1))

QKV = ('q_conv.1', 'k_conv.1', 'v_conv.1', 'q_t_conv.1', 'k_t_conv.1',
       'v_t_conv.1')


def _generator(seed, key):
    return torch.Generator().manual_seed(seed * 1_000_003 +
                                         zlib.crc32(key.encode()))


def bias_shift(module_name, attn_mode, similarity, integer):
    """Extra BN bias for a layer so that every neuron fires at a healthy
    rate: q/k/v spikes denser (Hamming, dot); for the un-normalised dot
    product, fewer integer spikes (up to D = 4 each), more for the 3-token
    temporal attention and fewer where two branches are summed
    (factorized); integer neurons fire from u >= 0.5."""
    shift = -0.6 if integer else 0.0
    if not module_name.endswith(QKV):
        return shift
    if similarity == 'hamming':
        return shift + 1.0
    if '.attn_t.' in module_name:  # hierarchical: temporal module
        return shift + (0.0 if integer else 2.0)
    if attn_mode == 'factorized':
        return shift + (-0.6 if integer else 0.7)
    return shift + (-0.5 if integer else 1.0)


def set_weights(model, seed=0, attn_mode='joint', similarity='hamming',
                integer=False):
    """Overwrite every parameter and BN buffer of ``model`` in place.

    * conv / linear weights ``U(-1, 1) / sqrt(fan_in)`` (the scale of
      PyTorch's default init), conv biases ``U(-0.1, 0.1)``;
    * BN ``weight ~ U(0.6, 1.6)``, ``bias ~ U(0, 1.2) + shift``
      (:func:`bias_shift`), ``running_mean ~ U(-0.2, 0.2)``,
      ``running_var ~ U(0.05, 0.5)``.
    """
    modules = dict(model.named_modules())
    state = model.state_dict()
    with torch.no_grad():
        for key in sorted(state):
            t = state[key]
            if key.endswith('num_batches_tracked'):
                continue
            mod_name, leaf = key.rsplit('.', 1)
            module = modules[mod_name]
            g = _generator(seed, key)

            def uniform(lo, hi):
                return torch.rand(t.shape, generator=g,
                                  dtype=torch.float64) * (hi - lo) + lo

            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                if leaf == 'weight':
                    value = uniform(0.6, 1.6)
                elif leaf == 'bias':
                    value = uniform(0.0, 1.2) + bias_shift(
                        mod_name, attn_mode, similarity, integer)
                elif leaf == 'running_mean':
                    value = uniform(-0.2, 0.2)
                else:
                    value = uniform(0.05, 0.5)
            elif leaf == 'weight':
                fan_in = t[0].numel()
                value = uniform(-1.0, 1.0) / fan_in**0.5
            else:
                value = uniform(-0.1, 0.1)
            t.copy_(value.to(t.dtype))
    return model


def spike_rates(model):
    """Register hooks recording, per neuron module name, the fraction of
    non-zero outputs and the fraction at the top level (1 for LIF, D for
    I-LIF). Returns ``(rates, handles)``."""
    from mmsvf.models.neurons import LIF, IntegerLIF
    rates = {}
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, (LIF, IntegerLIF)):
            top = m.max_level if isinstance(m, IntegerLIF) else 1

            def hook(mod, args, out, name=name, top=top):
                out = out.detach()
                rates[name] = ((out != 0).double().mean().item(),
                               (out == top).double().mean().item())

            handles.append(m.register_forward_hook(hook))
    return rates, handles
