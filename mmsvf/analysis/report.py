# Copyright (c) mmsvf contributors. All rights reserved.
"""The energy report and its writers: terminal table, JSON, CSV and a
firing-rate chart, every file written atomically
(:func:`mmsvf.utils.fileio.atomic_write`)."""
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from mmsvf.utils.fileio import atomic_write

__all__ = ['EnergyReport', 'LAYER_FIELDS']

#: columns of the per-layer JSON objects / CSV rows
LAYER_FIELDS = ('name', 'module', 'module_type', 'op', 'calls', 'input_shape',
                'input_kind', 'spike_input', 'stem', 'firing_rate',
                'dense_macs', 'macs', 'sops', 'energy_mj', 'operand_rates',
                'note')


@dataclass
class EnergyReport:
    """Per-layer and total counts and energy, per clip.

    Attributes:
        mode (str): ``'snn'`` or ``'ann'``.
        preset (str): energy preset name.
        e_mac_pj (float): energy per MAC (pJ).
        e_ac_pj (float): energy per accumulate (pJ).
        num_clips (int): clips counted (counts are averaged over them).
        stem (list[str]): layers charged as MACs although declared stem.
        layers (list[dict]): per-layer rows (:data:`LAYER_FIELDS`).
        total (dict): totals (``dense_macs``, ``macs``, ``sops``,
            ``energy_mj``, ``ann_energy_mj``, ``mean_firing_rate``, ...).
        spike_driven (dict, optional): purity check result
            (``passed``, ``violations``).
        meta (dict): free-form context (config, input shape, ...).
        groups (dict): per top-level module (first component of the layer
            name: ``backbone``, ``neck``, ``decode_head`` ...) the sums
            ``dense_macs``, ``macs``, ``sops``, ``energy_mj``.
    """
    mode: str
    preset: str
    e_mac_pj: float
    e_ac_pj: float
    num_clips: int
    stem: List[str]
    layers: List[Dict]
    total: Dict
    spike_driven: Optional[Dict] = None
    uncounted: Dict = field(default_factory=dict)
    meta: Dict = field(default_factory=dict)
    groups: Dict = field(default_factory=dict)

    def to_dict(self) -> Dict:
        return dict(mode=self.mode, preset=self.preset,
                    e_mac_pj=self.e_mac_pj, e_ac_pj=self.e_ac_pj,
                    per='clip', num_clips=self.num_clips, stem=self.stem,
                    total=self.total, groups=self.groups,
                    layers=self.layers,
                    spike_driven=self.spike_driven,
                    uncounted=self.uncounted, meta=self.meta)

    # -- presentation ------------------------------------------------------
    def table(self, max_rows: Optional[int] = None) -> str:
        """A readable terminal table (prettytable) with a totals row."""
        from prettytable import PrettyTable
        tab = PrettyTable()
        tab.field_names = ['#', 'layer', 'op', 'input', 'rate', 'dense MACs',
                           'MACs (E_MAC)', 'SOPs (E_AC)', 'energy (mJ)']
        rows = self.layers if max_rows is None else self.layers[:max_rows]
        for i, row in enumerate(rows):
            rate = row['firing_rate']
            tab.add_row([
                i, row['name'], row['op'],
                row['input_kind'] + (' (stem)' if row['stem'] else ''),
                '-' if rate is None else f'{rate:.4f}',
                _human(row['dense_macs']), _human(row['macs']),
                _human(row['sops']), f"{row['energy_mj']:.4g}"
            ])
        if max_rows is not None and len(self.layers) > max_rows:
            tab.add_row(['...', f'({len(self.layers) - max_rows} more)'] +
                        [''] * 7)
        t = self.total
        rate = t['mean_firing_rate']
        tab.add_row(['', 'TOTAL', '', '',
                     '-' if rate is None else f'{rate:.4f}',
                     _human(t['dense_macs']), _human(t['macs']),
                     _human(t['sops']), f"{t['energy_mj']:.4g}"])
        tab.align['layer'] = 'l'
        head = (f'mode={self.mode}  preset={self.preset}  '
                f'E_MAC={self.e_mac_pj} pJ  E_AC={self.e_ac_pj} pJ  '
                f'clips={self.num_clips}  (counts per clip)')
        assumed = t.get('assumed_firing_rate')
        if assumed is not None:
            head += (f'\nASSUMED uniform firing rate {assumed:g} for every '
                     'spike-driven op (SOPs = rate × dense MACs); NOT the '
                     'measured rates shown in the rate column')
        lines = [head, tab.get_string()]
        lines.append(
            f"energy {t['energy_mj']:.4g} mJ/clip"
            f"{' (at the assumed rate)' if assumed is not None else ''}; "
            f"ANN reference (all dense MACs at E_MAC) "
            f"{t['ann_energy_mj']:.4g} mJ/clip")
        if t.get('effective_firing_rate') is not None:
            lines.append(
                f"spike-driven dense MACs {_human(t['spike_dense_macs'])}, "
                f"effective (MAC-weighted) firing rate "
                f"{t['effective_firing_rate']:.4g}")
        if self.spike_driven is not None:
            v = self.spike_driven['violations']
            lines.append('spike-driven check: ' + (
                'PASSED (every conv/linear/matmul input is spikes, stem: '
                f'{", ".join(self.stem) or "none"})' if not v else
                f'FAILED, {len(v)} op(s) take non-spike input: ' +
                ', '.join(f'{x["name"]} [{x["input_kind"]}]' for x in v)))
        if len(self.groups) > 1:
            lines.append('by module: ' + '; '.join(
                f"{k} {_human(g['dense_macs'])} dense, "
                f"{_human(g['macs'])} MACs + {_human(g['sops'])} SOPs = "
                f"{g['energy_mj']:.4g} mJ" for k, g in self.groups.items()))
        if self.uncounted:
            lines.append('NOT counted: ' + ', '.join(
                f'{k} ×{n}' for k, n in self.uncounted.items()))
        return '\n'.join(lines)

    def write_json(self, path: str):
        """Write the report as JSON (atomically)."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        atomic_write(path, lambda f: f.write(text.encode('utf-8')))

    def write_csv(self, path: str):
        """Write one row per layer plus a TOTAL row (atomically)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LAYER_FIELDS)
        writer.writeheader()
        for row in self.layers:
            row = dict(row)
            row['input_shape'] = 'x'.join(map(str, row['input_shape'] or []))
            row['operand_rates'] = ';'.join(
                f'{k}={v}' for k, v in row['operand_rates'].items())
            writer.writerow(row)
        t = self.total
        writer.writerow(dict(name='TOTAL', firing_rate=t['mean_firing_rate'],
                             dense_macs=t['dense_macs'], macs=t['macs'],
                             sops=t['sops'], energy_mj=t['energy_mj']))
        data = buf.getvalue().encode('utf-8')
        atomic_write(path, lambda f: f.write(data))

    def write_firing_rate_png(self, path: str, title: Optional[str] = None):
        """Bar chart of the per-layer input firing rates (atomically)."""
        import matplotlib
        matplotlib.use('Agg', force=False)
        from matplotlib.figure import Figure
        rows = [r for r in self.layers if r['firing_rate'] is not None]
        width = max(6.0, min(60.0, 0.22 * len(rows) + 2))
        fig = Figure(figsize=(width, 4.8))
        ax = fig.add_subplot(1, 1, 1)
        if rows:
            xs = range(len(rows))
            ax.bar(xs, [r['firing_rate'] for r in rows],
                   color=['tab:orange' if 'attention' in r['op'] else
                          'tab:blue' for r in rows])
            ax.set_xticks(list(xs))
            ax.set_xticklabels([r['name'] for r in rows], rotation=90,
                               fontsize=5)
            mean = self.total['mean_firing_rate']
            if mean is not None:
                ax.axhline(mean, color='k', lw=0.8, ls='--',
                           label=f'mean {mean:.3f}')
                ax.legend(loc='upper right', fontsize=7)
        else:
            ax.text(0.5, 0.5, 'no spike-input layer', ha='center',
                    va='center', transform=ax.transAxes)
        ax.set_ylabel('input firing rate')
        ax.set_title(title or 'per-layer input firing rate '
                     '(orange: attention products)', fontsize=9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format='png', dpi=120)
        data = buf.getvalue()
        atomic_write(path, lambda f: f.write(data))


def _human(x: float) -> str:
    x = float(x)
    for unit, scale in (('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(x) >= scale:
            return f'{x / scale:.3f}{unit}'
    return f'{x:.1f}'
