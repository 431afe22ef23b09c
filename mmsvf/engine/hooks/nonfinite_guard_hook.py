# Copyright (c) mmsvf contributors. All rights reserved.
"""Stop at the first non-finite input, loss or gradient, saying where.

Without it, one NaN pixel in one training batch makes the loss NaN, the
optimizer step writes NaN into every parameter and the BatchNorm statistics,
and training goes on for days printing ``loss: nan``; at test time a NaN or
Inf clip gives NaN scores whose arg-max, label 0, is counted as a
prediction.
"""
import logging
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmengine.runner import EpochBasedTrainLoop
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from mmsvf.registry import HOOKS

__all__ = ['NonFiniteGuardHook', 'NonFiniteError']

#: metainfo keys that name a sample's file, most specific first
FILE_KEYS = ('filename', 'img_path', 'target_img_path', 'frame_dir',
             'video_name', 'video_id')


class NonFiniteError(FloatingPointError):
    """A NaN or Inf reached a model input, a loss, a gradient or a
    prediction."""


def _float_tensors(obj, depth: int = 0):
    """The floating-point tensors / arrays in a (nested) output."""
    if depth > 4:
        return
    if isinstance(obj, Tensor):
        if obj.is_floating_point() or obj.is_complex():
            yield obj
    elif isinstance(obj, np.ndarray):
        if np.issubdtype(obj.dtype, np.inexact):
            yield obj
    elif isinstance(obj, BaseDataElement):
        for value in obj.values():
            yield from _float_tensors(value, depth + 1)
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _float_tensors(value, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _float_tensors(value, depth + 1)


def _finite(obj) -> Optional[Tensor]:
    """A 0-d bool tensor, True where every float in ``obj`` is finite (no
    host sync); None for an output without floats."""
    flag = None
    for t in _float_tensors(obj):
        if isinstance(t, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(t))
        ok = torch.isfinite(t.detach()).all()
        flag = ok if flag is None else flag & ok.to(flag.device)
    return flag


def _per_sample_bad(inputs) -> Optional[Tensor]:
    """``(B, )`` bool, True for a sample whose model input is not finite."""
    if isinstance(inputs, Tensor):
        if inputs.dim() == 0 or not inputs.is_floating_point():
            return None
        finite = torch.isfinite(inputs.detach())
        return ~(finite.flatten(1).all(1) if finite.dim() > 1 else finite)
    if isinstance(inputs, (list, tuple)) and inputs and \
            all(isinstance(t, Tensor) for t in inputs):
        flags = [_finite(t) for t in inputs]
        if all(f is None for f in flags):
            return None
        device = next(f.device for f in flags if f is not None)
        return torch.stack([
            torch.zeros((), dtype=torch.bool, device=device)
            if f is None else ~f.to(device) for f in flags
        ])
    if isinstance(inputs, dict):
        bad = None
        for value in inputs.values():
            flags = _per_sample_bad(value)
            if flags is None:
                continue
            if bad is None:
                bad = flags
            elif bad.shape == flags.shape:
                bad = bad | flags.to(bad.device)
        return bad
    return None


def sample_names(data_batch) -> List[str]:
    """A name (file) per sample of an MMEngine data batch."""
    samples = data_batch.get('data_samples') \
        if isinstance(data_batch, dict) else None
    names = []
    for i, sample in enumerate(samples or []):
        meta = getattr(sample, 'metainfo', None)
        if meta is None and isinstance(sample, dict):
            meta = sample
        name = None
        for key in FILE_KEYS:
            if meta and meta.get(key) is not None:
                name = str(meta[key])
                break
        names.append(name or f'<sample {i}: no file name in its metainfo>')
    return names


def _listing(names: Sequence[str], limit: int) -> str:
    shown = ', '.join(names[:limit])
    more = len(names) - limit
    return shown + (f' and {more} more' if more > 0 else '')


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop at the first non-finite input, loss or gradient, and refuse
    non-finite inputs or predictions at inference.

    Training (each iteration, before the optimizer step, so that the weights
    stay those of the last good iteration):

    - the model input (the data preprocessor's output) and the loss given to
      ``optim_wrapper.update_params`` must be finite; else
      :class:`NonFiniteError` names the iteration, the files of the batch
      and where the non-finite value first appeared: ``input`` (and which
      samples), the first backbone layer / model part whose output was not
      finite (forward hooks on the backbone's layers and on the parts of the
      other model components), or the loss computation;
    - every gradient must be finite; else the error names the parameters
      and the model part where backward first produced a non-finite value
      (the last one in forward order with non-finite gradients). Skipped
      under ``AmpOptimWrapper``, whose loss scaler skips such steps on
      purpose (its loss is still checked: an fp16 forward that overflows
      stops training too).

    The weights and buffers are also checked once before training (a
    non-finite checkpoint is refused at once).

    Validation and test (each iteration): a sample whose model input or
    prediction (any float field of the returned data sample, e.g.
    ``pred_score``) is not finite raises :class:`NonFiniteError` naming its
    file, before any metric is computed from it.

    The checks cost one host sync per iteration (two with the gradient
    check) and one ``isfinite`` reduction per watched output; ``locate=False``
    drops the forward hooks (the error then does not say where the value
    appeared). Turn the whole hook off with ``enabled=False`` (or remove it
    from ``custom_hooks``).

    Args:
        enabled (bool): Defaults to True.
        check_grad (bool): Check the gradients before each optimizer step.
            Defaults to True.
        locate (bool): Trace the model parts' outputs to say where a
            non-finite value first appeared. Defaults to True.
        check_inference (bool): Check inputs and predictions in the
            validation and test loops. Defaults to True.
        max_names (int): Files / parameters listed in a message.
            Defaults to 8.
    """

    # before the evaluators' and visualizers' after_*_iter hooks
    priority = 'VERY_HIGH'

    def __init__(self,
                 enabled: bool = True,
                 check_grad: bool = True,
                 locate: bool = True,
                 check_inference: bool = True,
                 max_names: int = 8) -> None:
        self.enabled = enabled
        self.check_grad = check_grad
        self.locate = locate
        self.check_inference = check_inference
        self.max_names = max_names
        self._handles: list = []
        self._patched: list = []
        self._watched: List[str] = []
        self._param_names: Dict[int, str] = {}
        self._trace: Optional[list] = None
        self._input_bad: Optional[Tensor] = None
        self._batch = None
        self._where = ''

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _watch_list(self, model: nn.Module):
        """(name, module) pairs whose outputs are traced: the backbone's
        layers and the layers of the other components (their own forward
        is not always called: heads compute losses in ``loss()``)."""
        out = []
        for name, child in model.named_children():
            if name == 'data_preprocessor':
                continue
            for sub_name, sub in child.named_children():
                if isinstance(sub, (nn.ModuleList, nn.ModuleDict)):
                    out += [(f'{name}.{sub_name}.{n}', m)
                            for n, m in sub.named_children()]
                else:
                    out.append((f'{name}.{sub_name}', sub))
            if name != 'backbone':
                out.append((name, child))
        return out

    def _stage_hook(self, name: str):

        def hook(module, args, output):
            if self._trace is None:
                return
            flag = _finite(output)
            if flag is not None:
                self._trace.append((name, flag))

        return hook

    def _input_hook(self, module, args, output):
        inputs = output.get('inputs') if isinstance(output, dict) else (
            output[0] if isinstance(output, (list, tuple)) else output)
        self._input_bad = _per_sample_bad(inputs)

    def before_run(self, runner) -> None:
        if not self.enabled:
            return
        model = self._model(runner)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if isinstance(preprocessor, nn.Module):
            self._handles.append(
                preprocessor.register_forward_hook(self._input_hook))
        self._watched = []
        if self.locate:
            for name, module in self._watch_list(model):
                self._watched.append(name)
                self._handles.append(
                    module.register_forward_hook(self._stage_hook(name)))

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._restore()

    def before_train(self, runner) -> None:
        if not self.enabled:
            return
        model = self._model(runner)
        self._param_names = {
            id(p): n
            for n, p in model.named_parameters()
        }
        bad = [
            n for n, t in list(model.named_parameters()) +
            list(model.named_buffers())
            if t.is_floating_point() and not bool(torch.isfinite(t).all())
        ]
        if bad:
            self._raise(
                f'{len(bad)} parameters / buffers of the model are not '
                'finite before training starts (the checkpoint of load_from '
                f'/ resume, or the initialisation): '
                f'{_listing(bad, self.max_names)}')
        wrapper = runner.optim_wrapper
        wrappers = list(wrapper.values()) \
            if isinstance(wrapper, OptimWrapperDict) else [wrapper]
        for w in wrappers:
            self._patch(w)

    def after_train(self, runner) -> None:
        self._restore()

    def _patch(self, wrapper) -> None:
        """Check the loss before ``backward`` and the gradients before
        ``step``, i.e. before the parameters change (no hook point of
        MMEngine lies between backward and step)."""
        if any(w is wrapper for w in self._patched):
            return
        update_params, step = wrapper.update_params, wrapper.step

        def checked_update_params(loss, *args, **kwargs):
            self._check_loss(loss)
            return update_params(loss, *args, **kwargs)

        wrapper.update_params = checked_update_params
        if self.check_grad and not isinstance(wrapper, AmpOptimWrapper):

            def checked_step(*args, **kwargs):
                self._check_grads(wrapper)
                return step(*args, **kwargs)

            wrapper.step = checked_step
        self._patched.append(wrapper)

    def _restore(self) -> None:
        for wrapper in self._patched:
            wrapper.__dict__.pop('update_params', None)
            wrapper.__dict__.pop('step', None)
        self._patched = []

    # ------------------------------------------------------------ training
    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not self.enabled:
            return
        self._trace = [] if self.locate else None
        self._input_bad = None
        self._batch = data_batch
        where = f'training iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        self._where = where

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not self.enabled:
            return
        # models whose train_step does not go through update_params: the
        # logged losses, checked after the update
        bad = [k for k, v in (outputs or {}).items()
               if isinstance(v, Tensor) and v.is_floating_point()
               and not bool(torch.isfinite(v).all())]
        if bad:
            self._fail(f'non-finite {", ".join(bad)}', before_step=False)
        self._trace = None
        self._input_bad = None
        self._batch = None

    def _check_loss(self, loss: Tensor) -> None:
        if self._batch is None:  # update_params outside a training iter
            return
        bad = ~torch.isfinite(loss.detach()).all()
        if self._input_bad is not None:
            bad = bad | self._input_bad.any().to(bad.device)
        if not bool(bad):
            return
        if bool(torch.isfinite(loss.detach()).all()):
            what = f'non-finite input (the loss, {loss.item():.4g}, is finite)'
        else:
            what = f'non-finite loss ({loss.detach().float().mean().item()})'
        self._fail(what)

    def _check_grads(self, wrapper) -> None:
        if self._batch is None:
            return
        params = [
            p for group in wrapper.optimizer.param_groups
            for p in group['params'] if p.grad is not None
        ]
        by_device: Dict[torch.device, list] = {}
        for p in params:
            by_device.setdefault(p.grad.device, []).append(
                torch.isfinite(p.grad).all())
        if all(bool(torch.stack(flags).all())
               for flags in by_device.values()):
            return
        bad = [
            self._param_names.get(id(p), f'<param {i}>')
            for i, p in enumerate(params)
            if not bool(torch.isfinite(p.grad).all())
        ]
        self._fail(
            f'non-finite gradients in {len(bad)} of {len(params)} '
            'parameters (the loss is finite)',
            detail=f'{self._grad_origin(bad)}Parameters: '
            f'{_listing(bad, self.max_names)}.')

    def _grad_origin(self, bad: Sequence[str]) -> str:
        """The model part where backward first produced a non-finite
        gradient: the last one, in forward order, whose parameters have
        non-finite gradients (backward runs in reverse)."""
        order = []
        for name, _ in self._trace or []:
            if name not in order:
                order.append(name)
        parts = set()
        for param in bad:
            owners = [w for w in self._watched
                      if param.startswith(w + '.')]
            if owners:
                parts.add(max(owners, key=len))
        ranked = [name for name in order if name in parts]
        if not ranked:
            return ''
        return (f'Backward first produced them in {ranked[-1]} (the last '
                'model part, in forward order, with non-finite '
                'gradients). ')

    def _forward_origin(self) -> str:
        names = sample_names(self._batch)
        if self._input_bad is not None and bool(self._input_bad.any()):
            idx = self._input_bad.nonzero().flatten().tolist()
            files = [names[i] if i < len(names) else f'sample {i}'
                     for i in idx]
            return ('The non-finite value is already in the model input '
                    f"(the data preprocessor's output) of {len(idx)} "
                    f'sample(s): {_listing(files, self.max_names)}.')
        if self._trace is None:
            return ('The model input is finite; where the value first '
                    'appeared is not traced (locate=False).')
        for name, flag in self._trace:
            if not bool(flag):
                return ('The model input is finite; the value first appears '
                        f'in the output of {name}.')
        return ('The model input and the outputs of all traced model parts '
                'are finite: the value first appears in the loss '
                'computation.')

    def _fail(self, what: str, detail: Optional[str] = None,
              before_step: bool = True) -> None:
        names = sample_names(self._batch)
        lines = [f'{what} at {self._where}.',
                 detail if detail is not None else self._forward_origin()]
        lines.append(f'Files of this batch: '
                     f'{_listing(names, self.max_names) or "unknown"}.')
        if before_step:
            lines.append(
                'Training is stopped before the optimizer step: the weights '
                "are those of the previous iteration (this forward's "
                'BatchNorm statistics may be non-finite) and no checkpoint '
                'is written for this iteration.')
        else:
            lines.append(
                'Training is stopped (the model did not call '
                'optim_wrapper.update_params, so this was seen after the '
                'optimizer step: the weights may be non-finite); no '
                'checkpoint is written for this iteration.')
        self._trace = None
        self._batch = None
        self._raise(' '.join(lines))

    def _raise(self, message: str) -> None:
        message = (f'NonFiniteGuardHook: {message} (custom_hooks: '
                   'NonFiniteGuardHook(enabled=False) turns this check off)')
        print_log(message, logger='current', level=logging.ERROR)
        raise NonFiniteError(message)

    # ----------------------------------------------------------- inference
    def _before_infer_iter(self) -> None:
        self._input_bad = None

    def _after_infer_iter(self, mode: str, batch_idx: int, data_batch,
                          outputs) -> None:
        if not (self.enabled and self.check_inference):
            return
        input_bad = self._input_bad
        self._input_bad = None
        bad_in = input_bad.tolist() if input_bad is not None else []
        bad_out = []
        for sample in outputs or []:
            flag = _finite(sample)
            bad_out.append(flag is not None and not bool(flag))
        if not any(bad_in) and not any(bad_out):
            return
        names = sample_names(data_batch)
        count = max(len(bad_in), len(bad_out))
        reports = []
        for i in range(count):
            what = [w for w, bad in (('input', bad_in), ('prediction',
                                                          bad_out))
                    if i < len(bad) and bad[i]]
            if what:
                name = names[i] if i < len(names) else f'sample {i}'
                reports.append(f'{name} (non-finite {" and ".join(what)})')
        self._raise(
            f'{len(reports)} sample(s) of {mode} batch {batch_idx + 1} have '
            f'a non-finite model input or prediction, which would be '
            f'counted as a label: {_listing(reports, self.max_names)}')

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._before_infer_iter()

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._before_infer_iter()

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._after_infer_iter('validation', batch_idx, data_batch, outputs)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._after_infer_iter('test', batch_idx, data_batch, outputs)
