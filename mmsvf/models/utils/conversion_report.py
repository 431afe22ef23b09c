# Copyright (c) mmsvf contributors. All rights reserved.
"""What a checkpoint conversion did, key by key."""
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Dict, List

__all__ = ['ConversionReport']


@dataclass
class ConversionReport:
    """What a conversion did, key by key (all keys in mmsvf naming).

    Attributes:
        task (str): Target task.
        container (str): Where the weights sat in the source checkpoint.
        num_source_keys (int): Tensors in the source state dict.
        num_output_keys (int): Tensors written.
        target (str): What the keys were compared with.
        attn_bn_initialised (list[str]): ``attn_bn`` keys absent from the
            source and initialised fresh.
        head (str): What happened to the classifier.
        dropped (dict[str, str]): Source keys not written, with the reason.
        missing (list[str]): Backbone keys of the target the source lacks.
        task_keys_left (list[str]): Non-backbone keys of the target left to
            the model's own initialisation (heads, necks).
        unexpected (list[str]): Source keys the target does not have (not
            written).
        shape_mismatch (dict[str, str]): Keys whose shapes differ (not
            written), ``'source vs target'``.
        adapted (dict[str, str]): Keys written in a changed form, with how
            (an RGB stem for a grey-scale target).
    """

    task: str
    container: str = ''
    num_source_keys: int = 0
    num_output_keys: int = 0
    target: str = ''
    attn_bn_initialised: List[str] = field(default_factory=list)
    head: str = ''
    dropped: Dict[str, str] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    task_keys_left: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: Dict[str, str] = field(default_factory=dict)
    adapted: Dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """No missing backbone key, no unexpected key, no shape mismatch."""
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def to_dict(self) -> dict:
        """Plain-python form (safe to store in a checkpoint's ``meta``)."""
        return asdict(self)

    def format(self, max_items: int = 20) -> str:
        """Human-readable summary."""

        def items(seq):
            seq = list(seq)
            shown = [f'      {s}' for s in seq[:max_items]]
            if len(seq) > max_items:
                shown.append(f'      ... and {len(seq) - max_items} more')
            return shown

        lines = [
            f'task: {self.task}; weights under "{self.container}"'
            if self.container else f'task: {self.task}; bare state dict',
            f'source tensors: {self.num_source_keys}; written: '
            f'{self.num_output_keys}; compared with: {self.target}',
            f'classification head: {self.head}'
        ]
        if self.attn_bn_initialised:
            lines.append(
                f'  NEW attn_bn (absent from the checkpoint, initialised '
                f'weight=1 bias=0 mean=0 var=1): '
                f'{len(self.attn_bn_initialised)} keys')
            lines += items(self.attn_bn_initialised)
        for title, keys in (
                ('MISSING backbone keys (left at their random init)',
                 self.missing),
                ('UNEXPECTED keys (not in the target, not written)',
                 self.unexpected),
                ('SHAPE MISMATCH (not written)', [
                    f'{k}: {v}' for k, v in self.shape_mismatch.items()
                ]),
                ('dropped', [f'{k}: {v}' for k, v in self.dropped.items()]),
                ('ADAPTED', [f'{k}: {v}' for k, v in self.adapted.items()])):
            if keys:
                lines.append(f'  {title}: {len(keys)}')
                lines += items(keys)
        if self.task_keys_left:
            groups = OrderedDict()
            for k in self.task_keys_left:
                top = k.split('.', 1)[0]
                groups[top] = groups.get(top, 0) + 1
            lines.append('  task parts left to the model\'s own init: ' +
                         ', '.join(f'{g}.* ({n})'
                                   for g, n in groups.items()))
        lines.append('result: ' + (
            'clean' if self.clean else 'see MISSING / UNEXPECTED above'))
        return '\n'.join(lines)
