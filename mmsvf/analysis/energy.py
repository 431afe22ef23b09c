# Copyright (c) mmsvf contributors. All rights reserved.
"""Energy of spiking and conventional networks and the spike-driven purity
check; :mod:`mmsvf.analysis.report` presents the result.

Energy model (45 nm CMOS, Horowitz 2014), that of Spike-driven Transformer
V2 (Yao et al., ICLR 2024) which SpikeVideoFormer (arXiv 2505.10352) uses for
its energy figures:

* SNN: ``E = E_MAC × MACs(real-valued-input ops, i.e. the stem)
  + E_AC × SOPs(spike-input ops)``;
* ANN reference: ``E = E_MAC × dense MACs`` of every op.

Energies are in mJ per clip (``1 pJ = 1e-9 mJ``); every count in a report is
the average per clip over the clips counted.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

from mmsvf.utils.fileio import atomic_write  # noqa: F401 (re-exported)
from .counter import OperationCounter, match_layer
from .report import LAYER_FIELDS, EnergyReport  # noqa: F401 (re-exported)

__all__ = [
    'ENERGY_PRESETS', 'resolve_energy_constants', 'EnergyReport',
    'compute_energy', 'check_spike_driven', 'atomic_write',
    'uniform_rate_for_energy'
]

#: ``preset -> (E_MAC, E_AC)`` in pJ per operation
ENERGY_PRESETS = {
    'fp32': (4.6, 0.9),
    'fp16': (1.5, 0.4),
    'int8': (0.23, 0.03),
}

PJ_TO_MJ = 1e-9


def resolve_energy_constants(preset: str = 'fp32',
                             e_mac: Optional[float] = None,
                             e_ac: Optional[float] = None):
    """Energy per MAC and per AC (pJ) of a preset, optionally overridden.

    Args:
        preset (str): ``'fp32'`` (4.6 / 0.9 pJ, default), ``'fp16'``
            (1.5 / 0.4) or ``'int8'`` (0.23 / 0.03).
        e_mac (float, optional): override of the energy per MAC.
        e_ac (float, optional): override of the energy per accumulate.

    Returns:
        tuple[float, float]: ``(e_mac, e_ac)`` in pJ.
    """
    if preset not in ENERGY_PRESETS:
        raise ValueError(f'unknown energy preset {preset!r}; choose one of '
                         f'{sorted(ENERGY_PRESETS)}')
    base_mac, base_ac = ENERGY_PRESETS[preset]
    e_mac = base_mac if e_mac is None else float(e_mac)
    e_ac = base_ac if e_ac is None else float(e_ac)
    for name, value in (('E_MAC', e_mac), ('E_AC', e_ac)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f'{name} must be a finite non-negative energy '
                             f'in pJ, got {value}')
    return e_mac, e_ac


def _selected(counter: OperationCounter, include=None) -> list:
    """Records of ``counter`` whose layer lies under one of ``include``.

    ``include`` holds module paths (``backbone`` keeps ``backbone.*``) or
    layer-name patterns (:func:`match_layer`); None keeps every record.
    """
    records = counter.records()
    if include is None:
        return records
    if isinstance(include, str):
        include = [include]
    include = list(include)
    if not include:
        raise ValueError('include needs at least one module path or pattern')
    def under(name, p):
        return name.startswith(p + '.') or match_layer(name, p)

    for p in include:
        if not any(under(r.name, p) for r in records):
            tops = sorted({r.name.split('.')[0] for r in records})
            raise ValueError(
                f'include {p!r} matches no counted layer; top-level modules '
                f'of the counted layers are: {", ".join(tops)}')
    return [r for r in records if any(under(r.name, p) for p in include)]


def _stem_names(counter: OperationCounter, stem, include=None) -> List[str]:
    """Resolve stem patterns (or ``'auto'``) to layer names."""
    records = _selected(counter, include)
    if stem is None:
        return []
    if stem == 'auto':
        if records and not records[0].spike_driven:
            return [records[0].name]
        return []
    if isinstance(stem, str):
        stem = [stem]
    names = []
    for pattern in stem:
        hits = [r.name for r in records if match_layer(r.name, pattern)]
        if not hits:
            raise ValueError(
                f'stem {pattern!r} matches no counted layer; counted layers '
                f'are: {", ".join(r.name for r in records[:12])}'
                f'{" ..." if len(records) > 12 else ""}')
        names.extend(h for h in hits if h not in names)
    return names


def check_spike_driven(counter: OperationCounter,
                       stem: Union[str, Sequence[str], None] = 'auto',
                       strict: bool = False,
                       include: Optional[Sequence[str]] = None
                       ) -> List[Dict]:
    """List every counted op whose input is not spikes, except the stem.

    Spikes are binary ``{0, 1}``, integer ``{0..D}`` / normalised
    ``{0, 1/D, .., 1}`` for the model's integer neurons, or sign
    ``{-1, 0, 1}``; unless ``strict``, a linear image of spikes (see
    :mod:`mmsvf.analysis.counter`, "Linear chains") counts as spike input. A
    matrix product is spike-driven when one operand is.
    Softmax attention (``scaled_dot_product_attention``,
    ``nn.MultiheadAttention``) never is.

    Args:
        counter (OperationCounter): a counter that has run the model.
        stem (str | Sequence[str] | None): layer-name patterns allowed to
            take real-valued input (see :func:`match_layer`); ``'auto'`` (the
            default) = the first op executed, when its input is real.
        strict (bool): also list ops whose input is a linear image of
            spikes (``'spike-linear'``: RepConv / SepConv internals that fold
            into one spike-input conv at inference), i.e. demand spike values
            at every op literally.
        include (Sequence[str], optional): check only the layers under
            these module paths / patterns (e.g. ``['backbone']``).

    Returns:
        list[dict]: one entry per offending op (``name``, ``op``,
        ``input_kind``, ``input_shape``); empty when the model is
        spike-driven.
    """
    if not counter.layers:
        raise RuntimeError('the counter has recorded no operation: run the '
                           'model inside the counter first')
    stems = set(_stem_names(counter, stem, include))
    return [
        dict(name=r.name, op=r.op, module_type=r.module_type,
             input_kind=r.kind_str(),
             input_shape=list(r.input_shape) if r.input_shape else None)
        for r in _selected(counter, include)
        if r.name not in stems and not (
            r.strictly_spike_driven if strict else r.spike_driven)
    ]


def compute_energy(counter: OperationCounter, mode: str = 'snn',
                   preset: str = 'fp32', e_mac: Optional[float] = None,
                   e_ac: Optional[float] = None,
                   stem: Union[str, Sequence[str], None] = 'auto',
                   check: bool = True, strict: bool = False,
                   meta: Optional[Dict] = None,
                   assume_firing_rate: Optional[float] = None,
                   include: Optional[Sequence[str]] = None
                   ) -> EnergyReport:
    """Turn a counter's records into an :class:`EnergyReport`.

    Args:
        counter (OperationCounter): a counter that has run the model on
            ``counter.num_clips`` clips.
        mode (str): ``'snn'`` (spike-input ops cost SOPs × E_AC, real-input
            ops MACs × E_MAC) or ``'ann'`` (every op dense MACs × E_MAC).
        preset (str): energy preset (see :data:`ENERGY_PRESETS`).
        e_mac (float, optional): E_MAC override (pJ).
        e_ac (float, optional): E_AC override (pJ).
        stem (str | Sequence[str] | None): layers charged as MACs in SNN
            mode even with spike input, and exempt from the purity check;
            ``'auto'`` = the first op when its input is real-valued.
        check (bool): run :func:`check_spike_driven` into the report.
        strict (bool): strict purity check (see :func:`check_spike_driven`).
        meta (dict, optional): context stored in the report.
        assume_firing_rate (float, optional): SNN mode only. Charge every
            spike-driven (non-stem) op ``rate × dense MACs`` SOPs instead of
            its measured SOPs: a *what-if* energy at an assumed uniform
            firing rate (for integer spikes the mean integer value, up to
            the largest level D of the model), e.g. to evaluate an untrained
            network at the rates of a trained one. Real-valued-input ops stay
            MACs. The report says so (``total.assumed_firing_rate``, table
            header); measured per-layer rates are kept in ``firing_rate``.
        include (Sequence[str], optional): account only for the layers under
            these module paths / layer patterns (e.g. ``['backbone']`` for
            the backbone of a segmentor without its conventional head); the
            ``'auto'`` stem is then the first of those layers.

    Returns:
        EnergyReport: per-clip per-layer rows and totals. Besides the
        documented totals, ``total.spike_dense_macs`` is the dense MAC count
        of the ops charged as SOPs and ``total.effective_firing_rate`` =
        ``sops / spike_dense_macs`` (the MAC-weighted rate: the uniform rate
        that gives the same energy).
    """
    if mode not in ('snn', 'ann'):
        raise ValueError(f'mode must be "snn" or "ann", got {mode!r}')
    if counter.num_clips <= 0:
        raise ValueError('the counter has counted no clip: call '
                         'counter.add_clips(n) (or counter.run) first')
    if not counter.layers:
        raise RuntimeError('the counter has recorded no operation')
    e_mac, e_ac = resolve_energy_constants(preset, e_mac, e_ac)
    if assume_firing_rate is not None:
        if mode != 'snn':
            raise ValueError('an assumed firing rate only applies to the SNN '
                             'mode (the ANN reference has no SOPs)')
        top = max(counter.levels, default=1)
        rate = float(assume_firing_rate)
        if not (math.isfinite(rate) and 0 <= rate <= top):
            raise ValueError(
                f'assumed firing rate must be in [0, {top}] (the largest '
                f'spike level of the model), got {assume_firing_rate}')
        assume_firing_rate = rate
    stems = _stem_names(counter, stem, include)
    records = _selected(counter, include)
    n = counter.num_clips
    layers = []
    tot_dense = tot_macs = tot_sops = tot_spike_dense = 0.0
    act = numel = 0.0
    for r in records:
        is_stem = r.name in stems
        if mode == 'ann':
            macs, sops = r.dense_macs, 0.0
        elif is_stem:
            macs, sops = r.dense_macs, 0.0
        else:
            macs, sops = r.real_macs, r.sops
            spike_dense = r.dense_macs - r.real_macs
            tot_spike_dense += spike_dense
            if assume_firing_rate is not None:
                sops = assume_firing_rate * spike_dense
        energy = (e_mac * macs + e_ac * sops) * PJ_TO_MJ / n
        if r.numel and not is_stem:
            act += r.activity
            numel += r.numel
        layers.append(dict(
            name=r.name, module=r.module, module_type=r.module_type,
            op=r.op, calls=r.calls,
            input_shape=list(r.input_shape) if r.input_shape else None,
            input_kind=r.kind_str(), spike_input=r.spike_driven,
            stem=is_stem, firing_rate=r.firing_rate,
            dense_macs=r.dense_macs / n, macs=macs / n, sops=sops / n,
            energy_mj=energy, note=r.note,
            operand_rates={k: (a / m if m else None)
                           for k, (a, m) in r.operand_rates.items()}))
        tot_dense += r.dense_macs
        tot_macs += macs
        tot_sops += sops
    total = dict(
        dense_macs=tot_dense / n, macs=tot_macs / n, sops=tot_sops / n,
        energy_mj=(e_mac * tot_macs + e_ac * tot_sops) * PJ_TO_MJ / n,
        ann_energy_mj=e_mac * tot_dense * PJ_TO_MJ / n,
        mean_firing_rate=(act / numel) if numel else None,
        spike_dense_macs=tot_spike_dense / n,
        effective_firing_rate=(tot_sops / tot_spike_dense
                               if tot_spike_dense else None),
        assumed_firing_rate=assume_firing_rate,
        num_layers=len(layers))
    groups = {}
    for row in layers:
        g = groups.setdefault(row['name'].split('.')[0], dict(
            dense_macs=0.0, macs=0.0, sops=0.0, energy_mj=0.0))
        for key in g:
            g[key] += row[key]
    spike = None
    if check:
        violations = check_spike_driven(counter, stems, strict, include)
        spike = dict(passed=not violations, strict=strict,
                     violations=violations)
    return EnergyReport(mode=mode, preset=preset, e_mac_pj=e_mac,
                        e_ac_pj=e_ac, num_clips=n, stem=stems, layers=layers,
                        total=total, spike_driven=spike,
                        uncounted=dict(counter.uncounted),
                        meta=dict(meta or {}, include=list(include)
                                  if include is not None else None),
                        groups=groups)


def uniform_rate_for_energy(report: EnergyReport,
                            energy_mj: float) -> Optional[float]:
    """Uniform firing rate at which a report's model costs ``energy_mj``.

    Solves ``E_MAC·MACs + E_AC·r·spike_dense_macs = energy_mj`` for ``r``,
    i.e. the firing rate that, applied to every spike-driven op of the
    report (the stem and other real-input ops stay MACs), reproduces a given
    energy, such as a paper's figure. It is a MAC-weighted mean rate; compare
    it with ``total.effective_firing_rate``.

    Args:
        report (EnergyReport): an SNN-mode report.
        energy_mj (float): target energy in mJ per clip.

    Returns:
        float | None: the rate; negative when the MAC part alone already
        exceeds ``energy_mj``; None when the report has no spike-driven op.
    """
    if report.mode != 'snn':
        raise ValueError('the firing rate for an energy needs an SNN-mode '
                         'report')
    energy_mj = float(energy_mj)
    if not math.isfinite(energy_mj) or energy_mj < 0:
        raise ValueError(f'target energy must be a finite non-negative '
                         f'number of mJ, got {energy_mj}')
    total = report.total
    spike = total['spike_dense_macs'] * report.e_ac_pj
    if not spike:
        return None
    fixed = total['macs'] * report.e_mac_pj
    return (energy_mj / PJ_TO_MJ - fixed) / spike
