# Copyright (c) mmsvf contributors. All rights reserved.
"""Operation counting for spiking and conventional networks.

:class:`OperationCounter` runs inference on any ``nn.Module`` and records, per
layer, the dense multiply-accumulate count (MACs) of every convolution,
linear layer and matrix product, the value kind of the tensor that enters it
(binary / integer / normalised-integer / sign spikes, or real-valued) and, for
spike inputs, the firing rate and the synaptic operations (SOPs).

How operations are seen
-----------------------
* A :class:`torch.overrides.TorchFunctionMode` intercepts the *outermost*
  call of ``conv1d/2d/3d``, ``conv_transpose1d/2d/3d``, ``linear``,
  ``matmul`` (also ``@``), ``mm``, ``bmm``, ``mv``, ``addmm``, ``baddbmm``,
  ``einsum`` (two operands), ``scaled_dot_product_attention`` and
  ``multi_head_attention_forward`` (``nn.MultiheadAttention``), however they
  are reached (``nn.Conv2d``, ``F.conv2d``, ``x @ y`` ...). Nested calls inside
  an intercepted op are not seen, so nothing is counted twice.
* Forward hooks on every sub-module keep a stack of module names; an op is
  named after the innermost module that runs it (``backbone.block3.0.mlp.
  fc1_conv``; ``<module>.<op>[_i]`` when the module is not itself a conv/linear
  layer).
* The spike attention functions ``mmsvf.models.attention.hamming_attention``
  and ``dot_attention`` (``(q, k, v)`` spike tensors ``(..., N, d)``) are
  replaced, while counting, by wrappers that record the two products of the
  linear form ``Q·(KᵀV)`` with their spike semantics (see below) and hide the
  arithmetic inside them. They are patched wherever an ``mmsvf`` module holds a
  reference to them (``from ..attention import hamming_attention`` included).

Linear chains (folding)
-----------------------
A conv/linear whose input is not spikes by value but a *linear image* of a
spike tensor — the output of a spike-input conv/linear passed only through
BatchNorm, padding, reshapes, scalar scaling, sums of such images, average
pooling — is part of one linear map that takes spikes and folds into a single
spike-input op at inference (RepConv's ``1x1 → BN → dw3x3 → 1x1``,
SepConv's ``dwconv → pwconv2``). Its input kind is :data:`FOLDED_KIND`
(``'spike-linear'``); it is charged as SOPs with the firing rate of the spike
tensor that started the chain, and it passes the purity check unless
``strict=True``. Any other op (a neuron, an activation, a product with
another real tensor, an add with a real tensor) ends a chain.

Counting conventions (SPEC §9)
------------------------------
* Dense MACs: conv = out_elements × (in_ch / groups) × prod(kernel);
  transposed conv = in_elements × (out_ch / groups) × prod(kernel);
  linear = out_elements × in_features; matmul = out_elements × contracted
  size; every frame of the clip is counted (T is in the batch). Biases,
  BatchNorm (folded at inference), neuron updates, pooling, softmax and other
  element-wise work are not counted.
* Firing rate of a spike tensor = activity / elements, where the activity of
  a binary tensor is its number of ones, of an integer spike tensor
  (IntegerLIF, ``{0..D}``) the sum of its values (= the binary rate over D
  virtual sub-steps × D), of a normalised one (``{0, 1/D, .., 1}``) the sum of
  ``x·D``, of a sign tensor (``{-1, 0, 1}``) its number of non-zeros.
* SOPs of a spike-input conv/linear = firing rate × dense MACs (border zeros
  of padding are not distinguished, the usual convention).
* Generic matrix products: one spike operand → its rate × dense MACs; two
  spike operands → the exact number of non-zero products
  ``sum(act(A) @ act(B))``; two real operands → not spike-driven.
* Linear spike attention ``Y = Q·(KᵀV)`` per head (``N`` tokens, head width
  ``d``), both products counted explicitly, ``N·d²`` dense MACs each:

  - Hamming (``(2Q−1)·((2K−1)ᵀV)``): ``KᵀV`` — every spike of V adds the ±1
    key column, so SOPs = rate(V) × N·d². ``Q·(KV)`` — written as
    ``2·(Q·KV) − 1ᵀKV`` (the doubling is a shift, the column sum of KV is
    shared by all tokens), so SOPs = rate(Q) × N·d²; the O(d²) per-head
    column sum and the O(N·d) subtraction are not counted.
  - dot (``Q·(KᵀV)``): ``KᵀV`` — an accumulate only where a key spike meets a
    value spike: SOPs = Σ_n |k_n|·|v_n| exactly (≈ rate(K)·rate(V)·N·d²);
    ``Q·(KV)`` — SOPs = rate(Q) × N·d².
"""
import collections
import contextlib
import fnmatch
import importlib
import inspect
import math
import sys
import weakref
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = [
    'SpikeStats', 'LayerRecord', 'OperationCounter', 'classify_tensor',
    'firing_rate', 'SPIKE_KINDS', 'FOLDED_KIND', 'SPIKE_ATTENTION_FUNCTIONS',
    'match_layer'
]

#: value kinds of spike tensors (recognised from the values alone)
SPIKE_KINDS = ('binary', 'integer', 'normalized', 'sign')
#: kind of a real tensor that is a linear image of a spike tensor (conv / BN /
#: pad / reshape / scalar scaling since the last non-linearity): the op it
#: feeds folds with the ops before it into one spike-input linear map
FOLDED_KIND = 'spike-linear'

#: ops whose output is a linear image of their first tensor argument
_PROPAGATE_FIRST = frozenset({
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
_PROPAGATE_SCALAR = frozenset({
    'mul', '__mul__', '__rmul__', 'div', '__truediv__', 'true_divide'
})
#: ops that stay linear when every tensor operand is a linear image of spikes
_PROPAGATE_ALL = frozenset({
    'add', '__add__', '__radd__', 'sub', '__sub__', '__rsub__', 'cat',
    'stack', 'concat', 'concatenate'
})

#: spike attention functions recorded with their semantics while counting:
#: ``(module path, function name) -> similarity``
SPIKE_ATTENTION_FUNCTIONS = {
    ('mmsvf.models.attention', 'hamming_attention'): 'hamming',
    ('mmsvf.models.attention', 'dot_attention'): 'dot',
}

#: modules that are themselves one counted operation (named without suffix)
_LEAF_OP_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                    nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear,
                    nn.MultiheadAttention)


# ---------------------------------------------------------------------------
# tensor classification
# ---------------------------------------------------------------------------
@dataclass
class SpikeStats:
    """Value kind and activity of one tensor.

    Attributes:
        kind (str): ``'binary'``, ``'integer'``, ``'normalized'``, ``'sign'``
            or ``'real'``.
        level (int): D for integer / normalised spikes, else 1.
        activity (float): spike count (see module docstring); the number of
            non-zero elements for a real tensor.
        numel (int): number of elements.
    """
    kind: str
    level: int
    activity: float
    numel: int

    @property
    def is_spike(self) -> bool:
        """Spike-driven input: spike values, or a linear image of spikes."""
        return self.kind in SPIKE_KINDS or self.kind == FOLDED_KIND

    @property
    def rate(self) -> float:
        return self.activity / self.numel if self.numel else 0.0


def classify_tensor(x: torch.Tensor,
                    levels: Sequence[int] = (),
                    normalized_level: Optional[int] = None) -> SpikeStats:
    """Classify the values of ``x`` and measure its spike activity.

    Args:
        x (Tensor): any tensor.
        levels (Sequence[int]): the integer spike levels D (> 1) the model's
            integer neurons may emit; integer and normalised spikes are only
            recognised for these D. Binary ``{0, 1}`` and sign ``{-1, 0, 1}``
            tensors need none.
        normalized_level (int, optional): when every neuron of the model is
            a normalised integer neuron of level D, a tensor with values in
            ``{0, 1/D, .., 1}`` — ``{0, 1}`` included, i.e. spikes at the top
            level D — is read as normalised (activity ``x·D``), not binary.

    Returns:
        SpikeStats: the kind, level, activity and element count.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'expected a torch.Tensor, got {type(x).__name__}')
    numel = x.numel()
    if numel == 0:
        return SpikeStats('binary', 1, 0.0, 0)
    x = x.detach()
    if x.dtype == torch.bool:
        return SpikeStats('binary', 1, float(x.sum()), numel)
    if x.is_complex():
        return SpikeStats('real', 1, float((x != 0).sum()), numel)
    if not x.is_floating_point():
        x = x.to(torch.float32)
    levels = sorted({int(d) for d in levels if int(d) > 1})
    lo, hi = (float(v) for v in torch.aminmax(x))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return SpikeStats('real', 1, float((x != 0).sum()), numel)
    if normalized_level is not None and normalized_level > 1 and lo >= 0 \
            and hi <= 1:
        y = x * normalized_level
        if float((y - torch.round(y)).abs().max()) <= 1e-3:
            return SpikeStats(
                'normalized', int(normalized_level),
                float(torch.round(y).sum(dtype=torch.float64)), numel)
    if lo >= 0:
        nonzero = int(torch.count_nonzero(x))
        total = float(x.sum(dtype=torch.float64))
        # on [0, 1] the sum equals the non-zero count iff every non-zero is 1
        if hi <= 1 and total == nonzero:
            return SpikeStats('binary', 1, total, numel)
        if levels and hi <= levels[-1] and bool((x == torch.round(x)).all()):
            level = next(d for d in levels if hi <= d)
            return SpikeStats('integer', level, total, numel)
        if levels and hi <= 1:
            for d in levels:
                y = x * d
                if float((y - torch.round(y)).abs().max()) <= 1e-3:
                    return SpikeStats(
                        'normalized', d,
                        float(torch.round(y).sum(dtype=torch.float64)), numel)
        return SpikeStats('real', 1, float(nonzero), numel)
    if lo >= -1 and hi <= 1:
        nonzero = int(torch.count_nonzero(x))
        if float(x.abs().sum(dtype=torch.float64)) == nonzero:
            return SpikeStats('sign', 1, float(nonzero), numel)
    return SpikeStats('real', 1, float(torch.count_nonzero(x)), numel)


def _activity_tensor(x: torch.Tensor, stats: SpikeStats) -> torch.Tensor:
    """Per-element activity (spike count) of a spike tensor, ones if real."""
    if not stats.is_spike:
        return torch.ones_like(x, dtype=torch.float32)
    if stats.kind == FOLDED_KIND:
        return torch.full_like(x, stats.rate, dtype=torch.float32)
    x = x.detach().to(torch.float32)
    if stats.kind == 'normalized':
        return torch.round(x * stats.level)
    return x.abs()


def firing_rate(x: torch.Tensor, levels: Sequence[int] = ()) -> float:
    """Firing rate of a spike tensor (SPEC §9).

    Binary: fraction of ones. Integer spikes ``{0..D}``: mean value (binary
    rate over D virtual sub-steps × D). Normalised ``{0, 1/D, .., 1}``: mean ×
    D. Sign ``{-1, 0, 1}``: fraction of non-zeros.

    Args:
        x (Tensor): spike tensor.
        levels (Sequence[int]): admissible integer levels D (> 1).

    Returns:
        float: the firing rate.

    Raises:
        ValueError: when ``x`` holds real values (not spikes).
    """
    stats = classify_tensor(x, levels)
    if stats.kind not in SPIKE_KINDS:
        raise ValueError(
            'firing_rate expects a spike tensor (binary, integer {0..D} or '
            f'normalised {{0,1/D,..,1}} with D in {list(levels) or "[]"}); '
            f'the tensor of shape {tuple(x.shape)} holds real values')
    return stats.rate


def match_layer(name: str, pattern: str) -> bool:
    """Whether layer ``name`` matches ``pattern``.

    A pattern matches the full name, a dotted suffix of it
    (``downsample1_1.encode_conv`` matches
    ``backbone.downsample1_1.encode_conv``) or, as an ``fnmatch`` glob, the
    full name.
    """
    return (name == pattern or name.endswith('.' + pattern)
            or fnmatch.fnmatchcase(name, pattern))


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------
@dataclass
class LayerRecord:
    """Accumulated counts of one operation site over all calls.

    Attributes:
        name (str): layer name (module path, plus op suffix when needed).
        module (str): path of the innermost module that ran the op.
        module_type (str): class name of that module.
        op (str): operation (``conv2d``, ``linear``, ``matmul``,
            ``hamming_attention.kTv`` ...).
        order (int): first-execution order.
        calls (int): number of calls.
        input_shape (tuple): shape of the (spike) input of the first call.
        kinds (set): value kinds seen on the input(s).
        dense_macs (int): dense MACs of all calls.
        real_macs (int): dense MACs of the calls whose input was real-valued
            (not spike-driven).
        folded_macs (int): dense MACs of the calls whose input was a linear
            image of spikes (:data:`FOLDED_KIND`).
        sops (float): synaptic operations of the spike-input calls.
        activity (float): spike activity of the rate operand (spike calls).
        numel (int): elements of the rate operand (spike calls).
        operand_rates (dict): per named operand ``[activity, numel]``.
        note (str): counting convention of this op.
    """
    name: str
    module: str
    module_type: str
    op: str
    order: int
    calls: int = 0
    input_shape: Optional[Tuple[int, ...]] = None
    kinds: set = field(default_factory=set)
    dense_macs: int = 0
    real_macs: int = 0
    folded_macs: int = 0
    sops: float = 0.0
    activity: float = 0.0
    numel: int = 0
    operand_rates: Dict[str, List[float]] = field(default_factory=dict)
    note: str = ''

    @property
    def spike_driven(self) -> bool:
        """True when every call had a spike-driven input."""
        return self.calls > 0 and self.real_macs == 0

    @property
    def strictly_spike_driven(self) -> bool:
        """True when every call's input held spike values (nothing folded)."""
        return self.spike_driven and self.folded_macs == 0

    @property
    def firing_rate(self) -> Optional[float]:
        """Firing rate of the spike input (None when never a spike input)."""
        return self.activity / self.numel if self.numel else None

    def kind_str(self) -> str:
        return '+'.join(sorted(self.kinds)) if self.kinds else '-'


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
    counter._record_weighted(func.__name__, x, macs, out)


def _conv_transpose(counter, func, args, kwargs, out):
    x, w = _arg(args, kwargs, 0, 'input'), _arg(args, kwargs, 1, 'weight')
    macs = x.numel() * w.shape[1] * math.prod(w.shape[2:])
    counter._record_weighted(func.__name__, x, macs, out)


def _linear(counter, func, args, kwargs, out):
    x, w = _arg(args, kwargs, 0, 'input'), _arg(args, kwargs, 1, 'weight')
    in_features = w.shape[-1] if w.dim() > 1 else w.numel()
    counter._record_weighted('linear', x, out.numel() * in_features,
                             out)


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
    counter._record_product('matmul', a, b, out.numel() * k,
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
    counter._record_product('einsum', operands[0], operands[1],
                            math.prod(sizes.values()),
                            lambda x, y: torch.einsum(equation, x, y))


def _sdpa(counter, func, args, kwargs, out):
    q, k, v = (_arg(args, kwargs, i, n) for i, n in enumerate('qkv'))
    if q is None:
        q, k, v = (kwargs.get(n) for n in ('query', 'key', 'value'))
    lead = math.prod(out.shape[:-2])
    macs = lead * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])
    counter._record_dense('scaled_dot_product_attention', q, macs,
                          note='QKᵀ + AV, softmax not counted; never '
                          'spike-driven')


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
    counter._record_dense('multi_head_attention', q, macs,
                          note='q/k/v/out projections + QKᵀ + AV; never '
                          'spike-driven')


_HANDLERS = {
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


class _CountingMode(TorchFunctionMode):
    """Intercepts the outermost counted torch calls (the mode is inactive
    inside its own handler, so nested calls are not seen)."""

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        counter = self.counter
        if not counter._suppress:
            name = getattr(func, '__name__', None)
            handler = _HANDLERS.get(name)
            if handler is not None:
                # nn.MultiheadAttention returns (output, weights)
                first = out[0] if isinstance(out, (tuple, list)) and out \
                    else out
                if isinstance(first, torch.Tensor):
                    try:
                        handler(counter, func, args, kwargs, first)
                    except Exception as err:  # never break the forward
                        counter.uncounted[
                            f'{name} ({type(err).__name__}: {err})'] += 1
            elif counter._tags:
                counter._propagate(name, args, kwargs, out)
        return out


# ---------------------------------------------------------------------------
# the counter
# ---------------------------------------------------------------------------
class OperationCounter:
    """Count MACs, SOPs and firing rates of a model during inference.

    Use as a context manager around forward passes; call :meth:`add_clips`
    with the number of clips each pass processed (or use :meth:`run`)::

        counter = OperationCounter(model)
        with counter:
            counter.run(clip)              # model(clip) under no_grad
        report = compute_energy(counter)   # mmsvf.analysis.energy

    Counts accumulate over passes; :meth:`reset` clears them.

    Args:
        model (nn.Module): the network; its sub-modules name the layers.
        integer_levels (Sequence[int], optional): integer spike levels D to
            accept besides those of the model's integer neurons (modules with
            ``is_integer = True`` and ``max_level``).
        attention_functions (dict, optional): ``{(module, function):
            'hamming' | 'dot'}`` spike attention functions to record with
            their semantics; default :data:`SPIKE_ATTENTION_FUNCTIONS`.
    """

    def __init__(self, model: nn.Module,
                 integer_levels: Optional[Iterable[int]] = None,
                 attention_functions: Optional[Dict[Tuple[str, str],
                                                    str]] = None):
        if not isinstance(model, nn.Module):
            raise TypeError('OperationCounter needs an nn.Module, got '
                            f'{type(model).__name__}')
        self.model = model
        levels = {int(d) for d in (integer_levels or ())}
        neurons = [m for m in model.modules() if hasattr(m, 'is_integer')]
        for m in neurons:
            if m.is_integer:
                levels.add(int(getattr(m, 'max_level', 1)))
        self.levels = tuple(sorted(d for d in levels if d > 1))
        # only normalised integer neurons of one level D: {0, 1} means D
        normalized = {int(m.max_level) for m in neurons
                      if m.is_integer and getattr(m, 'normalize', False)}
        self.normalized_level = normalized.pop() if (
            neurons and len(normalized) == 1 and all(
                m.is_integer and getattr(m, 'normalize', False)
                for m in neurons)) else None
        self.attention_functions = dict(
            SPIKE_ATTENTION_FUNCTIONS if attention_functions is None
            else attention_functions)
        self.layers: Dict[str, LayerRecord] = {}
        self.num_clips = 0
        self.uncounted = collections.Counter()
        self.patched_functions: List[str] = []
        self._stack: List[list] = []
        self._suppress = 0
        self._tags: Dict[int, tuple] = {}
        self._active = False
        self._exit_stack = None

    # -- public ------------------------------------------------------------
    def reset(self):
        """Forget all counts."""
        self.layers.clear()
        self.num_clips = 0
        self.uncounted.clear()

    def add_clips(self, n: int):
        """Declare that the passes so far processed ``n`` more clips."""
        if int(n) != n or n < 0:
            raise ValueError(f'number of clips must be a non-negative '
                             f'integer, got {n}')
        self.num_clips += int(n)

    def run(self, *args, num_clips: Optional[int] = None, **kwargs):
        """Run ``model(*args, **kwargs)`` under ``no_grad`` while counting.

        Args:
            *args: model inputs.
            num_clips (int, optional): clips in this pass; default the
                leading size of the first tensor argument.
            **kwargs: keyword inputs.

        Returns:
            The model output.
        """
        if num_clips is None:
            first = next((a for a in list(args) + list(kwargs.values())
                          if isinstance(a, torch.Tensor)), None)
            if first is None or first.dim() == 0:
                raise ValueError('num_clips is needed when no batched tensor '
                                 'is passed')
            num_clips = first.shape[0]
        with contextlib.ExitStack() as stack:
            if not self._active:
                stack.enter_context(self)
            with torch.no_grad():
                out = self.model(*args, **kwargs)
        self.add_clips(num_clips)
        return out

    def __enter__(self):
        if self._active:
            raise RuntimeError('OperationCounter is already active')
        stack = contextlib.ExitStack()
        try:
            for name, module in self.model.named_modules():
                stack.callback(
                    module.register_forward_pre_hook(
                        self._make_pre_hook(name)).remove)
                stack.callback(
                    module.register_forward_hook(
                        self._make_post_hook(module),
                        always_call=True).remove)
            self._patch_attention_functions(stack)
            mode = _CountingMode(self)
            stack.enter_context(mode)
        except BaseException:
            stack.close()
            raise
        self._exit_stack = stack
        self._stack = []
        self._active = True
        return self

    def __exit__(self, *exc):
        self._active = False
        self._stack = []
        self._tags.clear()
        stack, self._exit_stack = self._exit_stack, None
        if stack is not None:
            stack.close()
        return False

    def records(self) -> List[LayerRecord]:
        """Layer records in first-execution order."""
        return sorted(self.layers.values(), key=lambda r: r.order)

    # -- module stack --------------------------------------------------------
    def _make_pre_hook(self, name):
        def hook(module, args):
            self._stack.append([name, module, {}])
        return hook

    def _make_post_hook(self, module):
        def hook(mod, args, output):
            # pop up to and including this module (robust to exceptions)
            while self._stack:
                entry = self._stack.pop()
                if entry[1] is module:
                    break
        return hook

    def _site(self, op: str) -> Tuple[str, str, nn.Module, int]:
        """Innermost module path, type, module and per-call op index."""
        if self._stack:
            path, module, seen = self._stack[-1]
        else:
            path, module, seen = '', self.model, {}
        index = seen.get(op, 0)
        seen[op] = index + 1
        return path, type(module).__name__, module, index

    def _site_name(self, op: str) -> Tuple[str, str, str]:
        """``(layer name, module path, module type)`` for a new call."""
        path, mtype, module, index = self._site(op)
        if isinstance(module, _LEAF_OP_MODULES) and index == 0:
            return path or mtype, path, mtype
        name = op + (f'_{index}' if index else '')
        return (f'{path}.{name}' if path else name), path, mtype

    def _get_record(self, op: str, site=None, part: str = '') -> LayerRecord:
        name, path, mtype = site if site is not None else self._site_name(op)
        if part:
            name, op = f'{name}.{part}', f'{op}.{part}'
        record = self.layers.get(name)
        if record is None:
            record = LayerRecord(name=name, module=path, module_type=mtype,
                                 op=op, order=len(self.layers))
            self.layers[name] = record
        return record

    # -- recording -----------------------------------------------------------
    def _classify(self, x):
        return classify_tensor(x, self.levels, self.normalized_level)

    # -- linear images of spikes ----------------------------------------------
    def _tag(self, t, source: SpikeStats):
        if isinstance(t, torch.Tensor):
            if len(self._tags) > 50000:
                self._tags = {k: v for k, v in self._tags.items()
                              if v[0]() is not None}
            self._tags[id(t)] = (weakref.ref(t), source)

    def _source(self, t) -> Optional[SpikeStats]:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self._tags.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def _propagate(self, name, args, kwargs, out):
        """Carry the "linear image of spikes" tag through linear ops."""
        if name in _PROPAGATE_FIRST:
            first = args[0] if args else next(iter(kwargs.values()), None)
            if isinstance(first, (list, tuple)):
                first = first[0] if first else None
            source = self._source(first)
        elif name in _PROPAGATE_SCALAR:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            others = [a for a in args if not isinstance(a, torch.Tensor)]
            if len(tensors) != 1 or not all(
                    isinstance(a, (int, float)) for a in others):
                return
            source = self._source(tensors[0])
        elif name in _PROPAGATE_ALL:
            operands = list(args)
            if operands and isinstance(operands[0], (list, tuple)):
                operands = list(operands[0])
            tensors = [a for a in operands if isinstance(a, torch.Tensor)]
            sources = [self._source(a) for a in tensors]
            if not tensors or any(src is None for src in sources) or not all(
                    isinstance(a, (int, float, torch.Tensor))
                    for a in operands):
                return
            source = sources[0]
        else:
            return
        if source is None:
            return
        for t in (out if isinstance(out, (list, tuple)) else (out, )):
            self._tag(t, source)

    def _input_stats(self, x) -> SpikeStats:
        """Classify an op input by its values, else by its spike source."""
        stats = self._classify(x)
        if stats.kind in SPIKE_KINDS:
            return stats
        source = self._source(x)
        if source is None:
            return stats
        return SpikeStats(FOLDED_KIND, source.level,
                          source.rate * stats.numel, stats.numel)

    def _tag_output(self, out, stats: SpikeStats):
        """Mark the output of a spike-input linear op as a spike image."""
        if stats.kind in SPIKE_KINDS:
            self._tag(out, SpikeStats(stats.kind, stats.level,
                                      stats.activity, stats.numel))
        elif stats.kind == FOLDED_KIND:
            self._tag(out, stats)

    @staticmethod
    def _start_call(record, x, dense):
        record.calls += 1
        record.dense_macs += int(dense)
        if record.input_shape is None and isinstance(x, torch.Tensor):
            record.input_shape = tuple(x.shape)

    def _record_weighted(self, op, x, dense, out=None):
        """A conv / linear with real weights: spike-driven iff x is."""
        record = self._get_record(op)
        self._start_call(record, x, dense)
        stats = self._input_stats(x)
        record.kinds.add(stats.kind)
        if stats.is_spike:
            record.sops += stats.rate * dense
            record.activity += stats.activity
            record.numel += stats.numel
            if stats.kind == FOLDED_KIND:
                record.folded_macs += int(dense)
            self._tag_output(out, stats)
        else:
            record.real_macs += int(dense)

    def _record_dense(self, op, x, dense, note=''):
        """An op that is never spike-driven (softmax attention ...)."""
        record = self._get_record(op)
        self._start_call(record, x, dense)
        record.kinds.add('real')
        record.real_macs += int(dense)
        record.note = note

    def _record_product(self, op, a, b, dense, product):
        """A product of two tensors; spike-driven iff one operand is."""
        record = self._get_record(op)
        self._start_call(record, a, dense)
        sa, sb = self._input_stats(a), self._input_stats(b)
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
            sops = float(product(_activity_tensor(a, sa),
                                 _activity_tensor(b, sb)).sum(
                                     dtype=torch.float64))
            record.note = 'both operands spikes: exact coincidence count'
        else:
            sops = rate_stats.rate * dense
        record.sops += sops
        record.activity += rate_stats.activity
        record.numel += rate_stats.numel

    def _record_linear_attention(self, similarity, q, k, v):
        """The two products of ``Q·(KᵀV)`` (see module docstring)."""
        lead = math.prod(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2],
                                                v.shape[:-2]))
        n_q, n_k = q.shape[-2], k.shape[-2]
        d_k, d_v = k.shape[-1], v.shape[-1]
        if q.shape[-1] != d_k or n_k != v.shape[-2]:
            raise ValueError(
                f'{similarity}_attention: incompatible shapes q '
                f'{tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}')
        sq, sk, sv = (self._classify(t) for t in (q, k, v))
        site = self._site_name(f'{similarity}_attention')
        # K^T V
        dense = lead * n_k * d_k * d_v
        rec = self._get_record(f'{similarity}_attention', site, 'kTv')
        self._start_call(rec, v, dense)
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
                act_k = _activity_tensor(k, sk).sum(-1)
                act_v = _activity_tensor(v, sv).sum(-1)
                sops = float((act_k * act_v).sum(dtype=torch.float64))
                rec.note = 'Kᵀ·V: SOPs = Σ_n |k_n|·|v_n| (coincidences)'
            rec.sops += sops
            rec.activity += sv.activity
            rec.numel += sv.numel
        else:
            rec.real_macs += int(dense)
        # Q (K^T V)
        dense = lead * n_q * d_k * d_v
        rec = self._get_record(f'{similarity}_attention', site, 'q_kTv')
        self._start_call(rec, q, dense)
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

    # -- spike attention functions --------------------------------------------
    def _wrap_attention(self, original, similarity):
        counter = self

        def wrapper(*args, **kwargs):
            if not counter._active or counter._suppress:
                return original(*args, **kwargs)
            names = ('q', 'k', 'v')
            tensors = list(args[:3]) + [kwargs[n] for n in names[len(args):]
                                        if n in kwargs]
            counter._suppress += 1
            try:
                out = original(*args, **kwargs)
                if len(tensors) == 3 and all(
                        isinstance(t, torch.Tensor) for t in tensors):
                    counter._record_linear_attention(similarity, *tensors)
                else:
                    counter.uncounted[f'{similarity}_attention call with '
                                      'unexpected arguments'] += 1
            finally:
                counter._suppress -= 1
            return out

        wrapper.__wrapped__ = original
        wrapper.__name__ = getattr(original, '__name__', 'attention')
        return wrapper

    def _patch_attention_functions(self, stack):
        self.patched_functions = []
        for (module_path, fn_name), similarity in \
                self.attention_functions.items():
            if similarity not in ('hamming', 'dot'):
                raise ValueError(f'attention similarity must be "hamming" '
                                 f'or "dot", got {similarity!r}')
            try:
                module = importlib.import_module(module_path)
            except ModuleNotFoundError as err:
                if err.name and module_path.startswith(err.name):
                    continue  # not written (yet): nothing to patch
                raise
            original = getattr(module, fn_name, None)
            if original is None:
                continue
            wrapper = self._wrap_attention(original, similarity)
            root = module_path.split('.')[0]
            for mod_name, mod in list(sys.modules.items()):
                if mod is None or not (mod_name == root or
                                       mod_name.startswith(root + '.')):
                    continue
                for attr, value in list(vars(mod).items()):
                    if value is original:
                        setattr(mod, attr, wrapper)
                        stack.callback(setattr, mod, attr, original)
            self.patched_functions.append(f'{module_path}.{fn_name}')
