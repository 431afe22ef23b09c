# Copyright (c) mmsvf contributors. All rights reserved.
"""LAMB optimizer (You et al., 2020), with the options of timm's ``Lamb``.

Meta-SpikeFormer's ImageNet recipe (``main_finetune.py``) uses timm's LAMB;
neither torch nor mmengine ships one, and the OpenMMLab toolbox that does
(mmpretrain) cannot be imported on the pinned stack (it needs torchvision), so
it lives here.
"""
import math

import torch
from torch.optim import Optimizer

from mmsvf.registry import OPTIMIZERS

__all__ = ['Lamb']


@OPTIMIZERS.register_module()
class Lamb(Optimizer):
    """Layer-wise adaptive moments (LAMB).

    Per step: the gradients of all parameters are first scaled down together
    when their global L2 norm exceeds ``max_grad_norm``; then, per parameter,
    Adam moments give ``u = m̂ / (sqrt(v̂) + eps) + weight_decay * p`` and the
    update is ``p -= lr * r * u`` with the trust ratio
    ``r = ||p|| / ||u||`` (1 when either norm is 0; ``min(r, 1)`` with
    ``trust_clip``). Parameters without weight decay keep ``r = 1`` unless
    ``always_adapt`` (timm's behaviour).

    Args:
        params (iterable): Parameters or parameter groups.
        lr (float): Learning rate. Defaults to 1e-3.
        betas (tuple[float, float]): Moment coefficients.
            Defaults to (0.9, 0.999).
        eps (float): Denominator term. Defaults to 1e-6.
        weight_decay (float): Decoupled weight decay. Defaults to 0.01.
        bias_correction (bool): Adam bias correction. Defaults to True.
        grad_averaging (bool): ``m = b1 m + (1 - b1) g`` (else ``+ g``).
            Defaults to True.
        max_grad_norm (float | None): Global gradient-norm clip applied
            before the moments; None disables it. Defaults to 1.0.
        trust_clip (bool): Clip the trust ratio at 1 (timm's ``lambc``).
            Defaults to False.
        always_adapt (bool): Apply the trust ratio to parameters without
            weight decay too. Defaults to False.
    """

    def __init__(self,
                 params,
                 lr=1e-3,
                 betas=(0.9, 0.999),
                 eps=1e-6,
                 weight_decay=0.01,
                 bias_correction=True,
                 grad_averaging=True,
                 max_grad_norm=1.0,
                 trust_clip=False,
                 always_adapt=False):
        if lr < 0:
            raise ValueError(f'Lamb: invalid lr {lr}')
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f'Lamb: invalid betas {betas}')
        if eps <= 0:
            raise ValueError(f'Lamb: invalid eps {eps}')
        if weight_decay < 0:
            raise ValueError(f'Lamb: invalid weight_decay {weight_decay}')
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError('Lamb: max_grad_norm must be positive or None, '
                             f'got {max_grad_norm}')
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            bias_correction=bias_correction,
            grad_averaging=grad_averaging,
            max_grad_norm=max_grad_norm,
            trust_clip=trust_clip,
            always_adapt=always_adapt)
        super().__init__(params, defaults)

    def _global_clip_factor(self):
        """Divisor of every gradient (>= 1) from the global gradient norm."""
        max_norm = self.defaults['max_grad_norm']
        grads = [
            p.grad for group in self.param_groups for p in group['params']
            if p.grad is not None
        ]
        if max_norm is None or not grads:
            return None
        for g in grads:
            if g.is_sparse:
                raise RuntimeError('Lamb does not support sparse gradients')
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
        return torch.clamp(norm / max_norm, min=1.0)

    @torch.no_grad()
    def step(self, closure=None):
        """One optimisation step.

        Args:
            closure (callable, optional): Re-evaluates the model and returns
                the loss.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        clip = self._global_clip_factor()
        for group in self.param_groups:
            beta1, beta2 = group['betas']
            beta3 = 1 - beta1 if group['grad_averaging'] else 1.0
            group['step'] = group.get('step', 0) + 1
            if group['bias_correction']:
                bc1 = 1 - beta1**group['step']
                bc2 = 1 - beta2**group['step']
            else:
                bc1 = bc2 = 1.0
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad
                if clip is not None:
                    grad = grad / clip.to(grad.device, grad.dtype)
                state = self.state[p]
                if not state:
                    state['exp_avg'] = torch.zeros_like(p)
                    state['exp_avg_sq'] = torch.zeros_like(p)
                exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
                exp_avg.mul_(beta1).add_(grad, alpha=beta3)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (exp_avg_sq.sqrt() / math.sqrt(bc2)).add_(
                    group['eps'])
                update = (exp_avg / bc1).div_(denom)
                wd = group['weight_decay']
                if wd != 0:
                    update.add_(p, alpha=wd)
                if wd != 0 or group['always_adapt']:
                    w_norm = torch.linalg.vector_norm(p)
                    u_norm = torch.linalg.vector_norm(update)
                    one = torch.ones_like(w_norm)
                    ratio = torch.where(
                        (w_norm > 0) & (u_norm > 0), w_norm / u_norm, one)
                    if group['trust_clip']:
                        ratio = torch.minimum(ratio, one)
                    update.mul_(ratio)
                p.add_(update, alpha=-group['lr'])
        return loss
