# Copyright (c) mmsvf contributors. All rights reserved.
"""Operation counting for spiking and conventional networks.

:class:`OperationCounter` runs inference on any ``nn.Module`` and records, per
layer, the dense multiply-accumulate count (MACs) of every convolution,
linear layer and matrix product, the value kind of the tensor that enters it
(binary / integer / normalised-integer / sign spikes, or real-valued) and, for
spike inputs, the firing rate and the synaptic operations (SOPs). The
counting rules are in :mod:`mmsvf.analysis.layer_rules`, spike kinds and the
firing rate in :mod:`mmsvf.analysis.spikes`.

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
* Spike attention modules (:class:`~mmsvf.models.attention.
  SpikeLinearAttention`, sub-modules of the counted model) are counted from
  forward hooks on them: their inputs ``q, k, v`` (spike tensors
  ``(..., N, d)``) and their ``similarity`` give the two products of the
  linear form ``Q·(KᵀV)`` with their spike semantics, recorded as
  ``<module>.<similarity>_attention.kTv`` and ``.q_kTv``; the arithmetic
  inside the module is not counted again.
* The kind of an op input is read from the spike mark its neuron set
  (:func:`~mmsvf.models.neurons.mark_spikes`), else from its values; the
  integer levels D of unmarked tensors are those the model's neurons declare
  (``output_format``).

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
"""
import collections
import contextlib
import fnmatch
import weakref
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from mmsvf.models.attention import SpikeLinearAttention
from mmsvf.models.neurons import SpikeFormat
from .layer_rules import (
    HANDLERS,
    PROPAGATE_ALL,
    PROPAGATE_FIRST,
    PROPAGATE_SCALAR,
    record_linear_attention,
)

# re-exported: they lived here before mmsvf.analysis.spikes
from .spikes import (  # noqa: F401
    FOLDED_KIND,
    SPIKE_KINDS,
    SpikeStats,
    classify_tensor,
    firing_rate,
    spike_stats,
)

__all__ = [
    'LayerRecord', 'OperationCounter', 'SPIKE_ATTENTION_MODULES',
    'match_layer'
]

#: module types counted as one linear spike attention each (see
#: :class:`OperationCounter`)
SPIKE_ATTENTION_MODULES = (SpikeLinearAttention, )

#: modules that are themselves one counted operation (named without suffix)
_LEAF_OP_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                    nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear,
                    nn.MultiheadAttention)


def match_layer(name: str, pattern: str) -> bool:
    """Whether layer ``name`` matches ``pattern``.

    A pattern matches the full name, a dotted suffix of it
    (``downsample1_1.encode_conv`` matches
    ``backbone.downsample1_1.encode_conv``) or, as an ``fnmatch`` glob, the
    full name.
    """
    return (name == pattern or name.endswith('.' + pattern)
            or fnmatch.fnmatchcase(name, pattern))


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
            handler = HANDLERS.get(name)
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


class OperationCounter:
    """Count MACs, SOPs and firing rates of a model during inference.

    Use as a context manager around forward passes; call :meth:`add_clips`
    with the number of clips each pass processed (or use :meth:`run`)::

        counter = OperationCounter(model)
        with counter:
            counter.run(clip)              # model(clip) under no_grad
        report = compute_energy(counter)   # mmsvf.analysis.energy

    Counts accumulate over passes; :meth:`reset` clears them.

    A spike attention module is a sub-module of one of the
    ``attention_modules`` types whose forward takes the spike tensors
    ``(q, k, v)`` (positionally or by these names) and whose attribute
    ``similarity`` is ``'hamming'`` or ``'dot'``; it is counted as the two
    products of ``Q·(KᵀV)`` (:func:`~mmsvf.analysis.layer_rules.
    record_linear_attention`) and nothing inside it is counted.

    Args:
        model (nn.Module): the network; its sub-modules name the layers.
        integer_levels (Sequence[int], optional): integer spike levels D to
            accept in unmarked tensors besides those the model's neurons
            declare (``output_format``, see :mod:`mmsvf.analysis.spikes`).
        attention_modules (Sequence[type], optional): spike attention
            module types; default :data:`SPIKE_ATTENTION_MODULES`.

    Attributes:
        layers (dict[str, LayerRecord]): the records by layer name.
        num_clips (int): clips declared so far.
        uncounted (collections.Counter): calls seen but not counted.
        attention_modules (list[str]): names of the spike attention modules
            hooked by the last ``with counter`` block.
    """

    def __init__(self, model: nn.Module,
                 integer_levels: Optional[Iterable[int]] = None,
                 attention_modules: Optional[Sequence[type]] = None):
        if not isinstance(model, nn.Module):
            raise TypeError('OperationCounter needs an nn.Module, got '
                            f'{type(model).__name__}')
        self.model = model
        levels = {int(d) for d in (integer_levels or ())}
        formats = [m.output_format for m in model.modules() if isinstance(
            getattr(m, 'output_format', None), SpikeFormat)]
        levels.update(f.max_level for f in formats)
        self.levels = tuple(sorted(d for d in levels if d > 1))
        # only normalised integer neurons of one level D: {0, 1} means D
        normalized = {f.max_level for f in formats if f.normalized}
        self.normalized_level = normalized.pop() if (
            formats and len(normalized) == 1
            and all(f.normalized for f in formats)) else None
        self.attention_types = tuple(
            SPIKE_ATTENTION_MODULES if attention_modules is None
            else attention_modules)
        self.layers: Dict[str, LayerRecord] = {}
        self.num_clips = 0
        self.uncounted = collections.Counter()
        self.attention_modules: List[str] = []
        self._stack: List[list] = []
        self._suppress = 0
        self._attention_calls: List[bool] = []
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
        attention = []
        try:
            for name, module in self.model.named_modules():
                stack.callback(
                    module.register_forward_pre_hook(
                        self._make_pre_hook(name)).remove)
                if isinstance(module, self.attention_types):
                    # registered before the stack's post hook: the products
                    # are named while the module is the innermost one
                    self._hook_attention(stack, name, module)
                    attention.append(name)
                stack.callback(
                    module.register_forward_hook(
                        self._make_post_hook(module),
                        always_call=True).remove)
                if getattr(module, 'fast_depthwise', False):
                    # the channels-last depthwise kernel (fast_depthwise)
                    # calls the aten op on a re-laid-out copy: the mode
                    # would see neither the conv nor the spike mark of its
                    # input. The output is bitwise the same without it.
                    module.fast_depthwise = False
                    stack.callback(setattr, module, 'fast_depthwise', True)
            stack.enter_context(_CountingMode(self))
        except BaseException:
            stack.close()
            raise
        self._exit_stack = stack
        self._stack = []
        self._suppress = 0
        self._attention_calls = []
        self.attention_modules = attention
        self._active = True
        return self

    def __exit__(self, *exc):
        self._active = False
        self._stack = []
        self._suppress = 0
        self._attention_calls = []
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

    # -- spike attention modules ---------------------------------------------
    def _hook_attention(self, stack, name, module):
        similarity = getattr(module, 'similarity', None)
        if similarity not in ('hamming', 'dot'):
            raise ValueError(
                f'spike attention module {name or "(model)"} '
                f'({type(module).__name__}) must have similarity "hamming" '
                f'or "dot", got {similarity!r}')

        def pre_hook(mod, args):
            # nested in another counted op: the outer one covers it
            self._attention_calls.append(not self._suppress)
            self._suppress += 1

        def post_hook(mod, args, kwargs, output):
            self._suppress -= 1
            counted = self._attention_calls.pop()
            if counted and output is not None:
                self._record_attention(mod.similarity, args, kwargs)

        stack.callback(module.register_forward_pre_hook(pre_hook).remove)
        stack.callback(module.register_forward_hook(
            post_hook, with_kwargs=True, always_call=True).remove)

    def _record_attention(self, similarity, args, kwargs):
        names = ('q', 'k', 'v')
        tensors = list(args[:3]) + [kwargs[n] for n in names[len(args):]
                                    if n in kwargs]
        op = f'{similarity}_attention'
        if len(tensors) != 3 or not all(
                isinstance(t, torch.Tensor) for t in tensors):
            self.uncounted[f'{op} call with unexpected arguments'] += 1
            return
        try:
            record_linear_attention(self, self._site_name(op), similarity,
                                    *tensors)
        except Exception as err:  # never break the forward
            self.uncounted[f'{op} ({type(err).__name__}: {err})'] += 1

    # -- value kinds ---------------------------------------------------------
    def _classify(self, x):
        return spike_stats(x, self.levels, self.normalized_level)

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
        if name in PROPAGATE_FIRST:
            first = args[0] if args else next(iter(kwargs.values()), None)
            if isinstance(first, (list, tuple)):
                first = first[0] if first else None
            source = self._source(first)
        elif name in PROPAGATE_SCALAR:
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            others = [a for a in args if not isinstance(a, torch.Tensor)]
            if len(tensors) != 1 or not all(
                    isinstance(a, (int, float)) for a in others):
                return
            source = self._source(tensors[0])
        elif name in PROPAGATE_ALL:
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
        """Classify an op input by its mark / values, else its spike source.
        """
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
