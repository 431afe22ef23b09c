# Copyright (c) mmsvf contributors. All rights reserved.
"""Counting rules: dense MACs and SOPs of every counted operation.

Used by :class:`~mmsvf.analysis.counter.OperationCounter`, which calls the
op handlers of :data:`HANDLERS` for intercepted torch calls and
:func:`record_linear_attention` for each call of a spike attention module.

Counting conventions
--------------------
The energy model of Spike-driven Transformer V2 (Yao et al., ICLR 2024),
which SpikeVideoFormer (arXiv 2505.10352) uses for its energy figures:

* Dense MACs: conv = out_elements × (in_ch / groups) × prod(kernel);
  transposed conv = in_elements × (out_ch / groups) × prod(kernel);
  linear = out_elements × in_features; matmul = out_elements × contracted
  size; every frame of the clip is counted (T is in the batch). Biases,
  BatchNorm (folded at inference), neuron updates, pooling, softmax and other
  element-wise work are not counted.
* Firing rate of a spike tensor: :mod:`mmsvf.analysis.spikes` (activity /
  elements; the activity of integer spikes counts ``s`` unit spikes for a
  value ``s``).
* SOPs of a spike-input conv/linear = firing rate × dense MACs (border zeros
  of padding are not distinguished, the usual convention).
* Generic matrix products: one spike operand → its rate × dense MACs; two
  spike operands → the exact number of non-zero products
  ``sum(act(A) @ act(B))``; two real operands → not spike-driven.
* Linear spike attention ``Y = Q·(KᵀV)`` per head (``N`` tokens, head width
  ``d``; SpikeVideoFormer §3.3, Eq. 9-10), both products counted
  explicitly, ``N·d²`` dense MACs each:

  - Hamming (``(2Q−1)·((2K−1)ᵀV)``): ``KᵀV`` — every spike of V adds the ±1
    key column, so SOPs = rate(V) × N·d². ``Q·(KV)`` — written as
    ``2·(Q·KV) − 1ᵀKV`` (the doubling is a shift, the column sum of KV is
    shared by all tokens), so SOPs = rate(Q) × N·d²; the O(d²) per-head
    column sum and the O(N·d) subtraction are not counted.
  - dot (``Q·(KᵀV)``): ``KᵀV`` — an accumulate only where a key spike meets a
    value spike: SOPs = Σ_n |k_n|·|v_n| exactly (≈ rate(K)·rate(V)·N·d²);
    ``Q·(KV)`` — SOPs = rate(Q) × N·d².
"""
import inspect
import math

import torch
import torch.nn.functional as F

from .spikes import FOLDED_KIND, activity_tensor

__all__ = ['HANDLERS', 'record_linear_attention']

#: ops whose output is a linear image of their first tensor argument
PROPAGATE_FIRST = frozenset({
    'view', 'view_as', 'reshape', 'reshape_as', 'permute', 'flatten',
    'unflatten', 'transpose', 't', 'contiguous', 'clone', 'squeeze',
    'unsqueeze', 'expand', 'expand_as', '__getitem__', 'narrow', 'select',
    'movedim', 'moveaxis', 'to', 'float', 'double', 'half', 'bfloat16',
    'type', 'detach', 'pad', 'batch_norm', 'avg_pool1d', 'avg_pool2d',
    'avg_pool3d', 'adaptive_avg_pool1d', 'adaptive_avg_pool2d',
    'adaptive_avg_pool3d', 'mean', 'sum', 'chunk', 'split', 'unbind',
    'tensor_split', 'repeat', 'roll', 'neg', '__neg__', 'flip'
})
#: ops that stay linear when every other operand is a Python number
PROPAGATE_SCALAR = frozenset({
    'mul', '__mul__', '__rmul__', 'div', '__truediv__', 'true_divide'
})
#: ops that stay linear when every tensor operand is a linear image of spikes
PROPAGATE_ALL = frozenset({
    'add', '__add__', '__radd__', 'sub', '__sub__', '__rsub__', 'cat',
    'stack', 'concat', 'concatenate'
})


# ---------------------------------------------------------------------------
# recording an op's counts
# ---------------------------------------------------------------------------
def _start_call(record, x, dense):
    record.calls += 1
    record.dense_macs += int(dense)
    if record.input_shape is None and isinstance(x, torch.Tensor):
        record.input_shape = tuple(x.shape)


def record_weighted(counter, op, x, dense, out=None):
    """A conv / linear with real weights: spike-driven iff ``x`` is."""
    record = counter._get_record(op)
    _start_call(record, x, dense)
    stats = counter._input_stats(x)
    record.kinds.add(stats.kind)
    if stats.is_spike:
        record.sops += stats.rate * dense
        record.activity += stats.activity
        record.numel += stats.numel
        if stats.kind == FOLDED_KIND:
            record.folded_macs += int(dense)
        counter._tag_output(out, stats)
    else:
        record.real_macs += int(dense)


def record_dense(counter, op, x, dense, note=''):
    """An op that is never spike-driven (softmax attention ...)."""
    record = counter._get_record(op)
    _start_call(record, x, dense)
    record.kinds.add('real')
    record.real_macs += int(dense)
    record.note = note


def record_product(counter, op, a, b, dense, product):
    """A product of two tensors; spike-driven iff one operand is."""
    record = counter._get_record(op)
    _start_call(record, a, dense)
    sa, sb = counter._input_stats(a), counter._input_stats(b)
    record.kinds.update((sa.kind, sb.kind))
    if FOLDED_KIND in (sa.kind, sb.kind):
        record.folded_macs += int(dense)
    for key, s in (('a', sa), ('b', sb)):
        if s.is_spike:
            acc = record.operand_rates.setdefault(key, [0.0, 0])
            acc[0] += s.activity
            acc[1] += s.numel
    if not (sa.is_spike or sb.is_spike):
        record.real_macs += int(dense)
        return
    rate_stats = sa if sa.is_spike else sb
    if sa.is_spike and sb.is_spike:
        sops = float(product(activity_tensor(a, sa),
                             activity_tensor(b, sb)).sum(
                                 dtype=torch.float64))
        record.note = 'both operands spikes: exact coincidence count'
    else:
        sops = rate_stats.rate * dense
    record.sops += sops
    record.activity += rate_stats.activity
    record.numel += rate_stats.numel


def record_linear_attention(counter, site, similarity, q, k, v):
    """The two products of ``Q·(KᵀV)`` (see the module docstring).

    Args:
        counter (OperationCounter): the counter recording them.
        site (tuple): ``(layer name, module path, module type)`` of the
            attention call; the products are ``<name>.kTv`` and
            ``<name>.q_kTv``.
        similarity (str): ``'hamming'`` or ``'dot'``.
        q, k, v (Tensor): the spike operands ``(..., N, d)``.
    """
    lead = math.prod(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2],
                                            v.shape[:-2]))
    n_q, n_k = q.shape[-2], k.shape[-2]
    d_k, d_v = k.shape[-1], v.shape[-1]
    if q.shape[-1] != d_k or n_k != v.shape[-2]:
        raise ValueError(
            f'{similarity}_attention: incompatible shapes q '
            f'{tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}')
    sq, sk, sv = (counter._classify(t) for t in (q, k, v))
    op = f'{similarity}_attention'
    # K^T V
    dense = lead * n_k * d_k * d_v
    rec = counter._get_record(op, site, 'kTv')
    _start_call(rec, v, dense)
    rec.kinds.update((sk.kind, sv.kind))
    for key, s in (('k', sk), ('v', sv)):
        acc = rec.operand_rates.setdefault(key, [0.0, 0])
        if s.is_spike:
            acc[0] += s.activity
            acc[1] += s.numel
    if sk.is_spike and sv.is_spike:
        if similarity == 'hamming':
            sops = sv.rate * dense
            rec.note = 'Kᵀ·V with K as ±1: SOPs = rate(V)·N·d²'
        else:
            act_k = activity_tensor(k, sk).sum(-1)
            act_v = activity_tensor(v, sv).sum(-1)
            sops = float((act_k * act_v).sum(dtype=torch.float64))
            rec.note = 'Kᵀ·V: SOPs = Σ_n |k_n|·|v_n| (coincidences)'
        rec.sops += sops
        rec.activity += sv.activity
        rec.numel += sv.numel
    else:
        rec.real_macs += int(dense)
    # Q (K^T V)
    dense = lead * n_q * d_k * d_v
    rec = counter._get_record(op, site, 'q_kTv')
    _start_call(rec, q, dense)
    rec.kinds.add(sq.kind)
    if sq.is_spike and sk.is_spike and sv.is_spike:
        rec.sops += sq.rate * dense
        rec.activity += sq.activity
        rec.numel += sq.numel
        rec.note = ('(2Q−1)·KV = 2·Q·KV − 1ᵀKV: SOPs = rate(Q)·N·d²'
                    if similarity == 'hamming' else
                    'Q·KV: SOPs = rate(Q)·N·d²')
    else:
        rec.real_macs += int(dense)


# ---------------------------------------------------------------------------
# op handlers: (counter, func, args, kwargs, out)
# ---------------------------------------------------------------------------
def _arg(args, kwargs, index, name, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _conv(counter, func, args, kwargs, out):
    x, w = _arg(args, kwargs, 0, 'input'), _arg(args, kwargs, 1, 'weight')
    macs = out.numel() * w.shape[1] * math.prod(w.shape[2:])
    record_weighted(counter, func.__name__, x, macs, out)


def _conv_transpose(counter, func, args, kwargs, out):
    x, w = _arg(args, kwargs, 0, 'input'), _arg(args, kwargs, 1, 'weight')
    macs = x.numel() * w.shape[1] * math.prod(w.shape[2:])
    record_weighted(counter, func.__name__, x, macs, out)


def _linear(counter, func, args, kwargs, out):
    x, w = _arg(args, kwargs, 0, 'input'), _arg(args, kwargs, 1, 'weight')
    in_features = w.shape[-1] if w.dim() > 1 else w.numel()
    record_weighted(counter, 'linear', x, out.numel() * in_features, out)


def _matmul(counter, func, args, kwargs, out):
    name = func.__name__
    if name == '__rmatmul__':
        b, a = args[0], args[1]
    elif name in ('addmm', 'baddbmm'):
        names = ('mat1', 'mat2') if name == 'addmm' else ('batch1', 'batch2')
        a = _arg(args, kwargs, 1, names[0])
        b = _arg(args, kwargs, 2, names[1])
    else:
        a, b = args[0], _arg(args, kwargs, 1, 'other',
                             kwargs.get('mat2', kwargs.get('vec')))
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return
    k = a.shape[-1] if a.dim() else 1
    record_product(counter, 'matmul', a, b, out.numel() * k,
                   lambda x, y: torch.matmul(x, y))


def _einsum(counter, func, args, kwargs, out):
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if (not isinstance(equation, str) or len(operands) != 2
            or '...' in equation):
        counter.uncounted[f'einsum {equation!r} with {len(operands)} '
                          'operand(s)'] += 1
        return
    inputs = equation.replace(' ', '').split('->')[0].split(',')
    sizes = {}
    for labels, t in zip(inputs, operands):
        for label, size in zip(labels, t.shape):
            sizes[label] = max(sizes.get(label, 1), size)
    record_product(counter, 'einsum', operands[0], operands[1],
                   math.prod(sizes.values()),
                   lambda x, y: torch.einsum(equation, x, y))


def _sdpa(counter, func, args, kwargs, out):
    q, k, v = (_arg(args, kwargs, i, n) for i, n in enumerate('qkv'))
    if q is None:
        q, k, v = (kwargs.get(n) for n in ('query', 'key', 'value'))
    lead = math.prod(out.shape[:-2])
    macs = lead * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])
    record_dense(counter, 'scaled_dot_product_attention', q, macs,
                 note='QKᵀ + AV, softmax not counted; never spike-driven')


_MHA_SIGNATURE = None


def _mha(counter, func, args, kwargs, out):
    global _MHA_SIGNATURE
    if _MHA_SIGNATURE is None:
        _MHA_SIGNATURE = inspect.signature(F.multi_head_attention_forward)
    bound = _MHA_SIGNATURE.bind(*args, **kwargs).arguments
    q, k, v = bound['query'], bound['key'], bound['value']
    embed = bound['embed_dim_to_check']
    batch = q.shape[1] if q.dim() == 3 else 1
    tgt, src = q.shape[0], k.shape[0]
    kdim, vdim = k.shape[-1], v.shape[-1]
    macs = (tgt * batch * embed * embed + src * batch * embed * kdim +
            src * batch * embed * vdim + 2 * batch * tgt * src * embed +
            tgt * batch * embed * embed)
    record_dense(counter, 'multi_head_attention', q, macs,
                 note='q/k/v/out projections + QKᵀ + AV; never '
                 'spike-driven')


#: ``torch function name -> handler(counter, func, args, kwargs, out)``
HANDLERS = {
    'conv1d': _conv, 'conv2d': _conv, 'conv3d': _conv,
    'conv_transpose1d': _conv_transpose, 'conv_transpose2d': _conv_transpose,
    'conv_transpose3d': _conv_transpose,
    'linear': _linear,
    'matmul': _matmul, '__matmul__': _matmul, '__rmatmul__': _matmul,
    'mm': _matmul, 'bmm': _matmul, 'mv': _matmul, 'addmm': _matmul,
    'baddbmm': _matmul,
    'einsum': _einsum,
    'scaled_dot_product_attention': _sdpa,
    'multi_head_attention_forward': _mha,
}
