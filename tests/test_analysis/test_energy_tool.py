# Copyright (c) mmsvf contributors. All rights reserved.
"""tools/analysis/energy.py end to end, ANN mode on mmaction2 models, report
writers."""
import csv
import json
import os
from pathlib import Path

import pytest
import torch

from mmsvf.analysis import (
    EnergyReport,
    OperationCounter,
    atomic_write,
    compute_energy,
)
from mmsvf_test_utils import load_script

REPO = Path(__file__).resolve().parents[2]
TOY_CONFIG = REPO / 'configs/recognition/spikevideoformer/' \
    'spikevideoformer-tiny_1xb8-t8_toy-motion.py'
BASE_MODEL = REPO / 'configs/_base_/models/spikevideoformer_small.py'


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/analysis/energy.py')


def write_config(path, text):
    path.write_text(text)
    return str(path)


def test_config_without_test_set_needs_input_shape(tool, tmp_path):
    cfg = write_config(tmp_path / 'no_data.py', f"""
_base_ = [{str(BASE_MODEL)!r}]
default_scope = 'mmaction'
model = dict(backbone=dict(embed_dims=[16, 32, 64, 64], depths=(1, 1),
                           num_heads=2),
             cls_head=dict(in_channels=64, num_classes=3))
""")
    with pytest.raises(SystemExit, match=r'no test set.*--input-shape B C T '
                       r'H W'):
        tool.main([cfg, '--out', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()
    # a test set whose files are missing: the same advice, with the cause
    with pytest.raises(SystemExit, match=r'could not load the test set.*'
                       r'--input-shape'):
        tool.main([str(TOY_CONFIG), '--out', str(tmp_path / 'out'),
                   '--cfg-options',
                   'test_dataloader.dataset.ann_file=/nonexistent/val.txt'])
    with pytest.raises(SystemExit):  # argparse: 3 numbers
        tool.main([cfg, '--input-shape', '1', '3', '8'])
    with pytest.raises(SystemExit, match='matches no counted layer'):
        tool.main([cfg, '--input-shape', '1', '3', '2', '32', '32',
                   '--stem', 'nope', '--out', str(tmp_path / 'out')])


def test_cli_end_to_end_on_toy_config(tool, tmp_path, capsys):
    out = tmp_path / 'energy'
    report = tool.main([
        str(TOY_CONFIG), '--input-shape', '2', '3', '2', '32', '32',
        '--num-samples', '3', '--check-spike-driven', '--preset', 'fp16',
        '--out', str(out)
    ])
    printed = capsys.readouterr().out
    assert 'TOTAL' in printed and 'spike-driven check: PASSED' in printed
    assert report.num_clips == 4  # two batches of 2 clips
    args = tool.parse_args([str(TOY_CONFIG), '--check-spike-driven'])
    assert tool._exit_status(report, args) == 0

    data = json.loads((out / 'snn_energy.json').read_text())
    assert data['mode'] == 'snn' and data['per'] == 'clip'
    assert (data['e_mac_pj'], data['e_ac_pj']) == (1.5, 0.4)
    total = data['total']
    for key in ('dense_macs', 'macs', 'sops', 'energy_mj', 'ann_energy_mj',
                'mean_firing_rate'):
        assert key in total
    assert total['energy_mj'] == pytest.approx(
        (1.5 * total['macs'] + 0.4 * total['sops']) * 1e-9)
    layers = data['layers']
    assert layers[0]['name'] == 'backbone.downsample1_1.encode_conv'
    assert layers[0]['stem'] and layers[0]['input_kind'] == 'real'
    assert layers[-1]['name'] == 'cls_head.head'  # the head is counted
    assert any(r['op'] == 'hamming_attention.kTv' for r in layers)
    assert sum(r['dense_macs'] for r in layers) == pytest.approx(
        total['dense_macs'])
    for key in ('firing_rate', 'dense_macs', 'macs', 'sops', 'energy_mj',
                'input_kind', 'input_shape'):
        assert key in layers[1]
    assert data['spike_driven'] == dict(passed=True, strict=False,
                                        violations=[])

    with open(out / 'snn_layers.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(layers) + 1 and rows[-1]['name'] == 'TOTAL'
    assert float(rows[-1]['energy_mj']) == pytest.approx(total['energy_mj'])
    assert (out / 'snn_firing_rates.png').read_bytes()[:8] == \
        b'\x89PNG\r\n\x1a\n'

    # ANN reference of the same model: every op a dense MAC at E_MAC
    ann = tool.main([str(TOY_CONFIG), '--input-shape', '1', '3', '2', '32',
                     '32', '--ann', '--out', str(out)])
    assert ann.total['dense_macs'] == pytest.approx(total['dense_macs'] / 1)
    assert ann.total['energy_mj'] == pytest.approx(
        4.6 * total['dense_macs'] * 1e-9)
    assert (out / 'ann_energy.json').is_file()


SEG_CONFIG = REPO / 'configs/segmentation/spikevideoformer/' \
    'spikevideoformer-tiny_plain-fpn-decoder_1xb4-t4_toy-vspw.py'
SPIKING_SEG_CONFIG = REPO / 'configs/segmentation/spikevideoformer/' \
    'spikevideoformer-tiny_fpn_1xb4-t4_toy-vspw.py'


def test_cli_on_a_spiking_video_segmentor(tool, tmp_path):
    """A time-first (spiking) decoder runs over all T frames, its
    classifier on the key frame only; the whole segmentor is
    spike-driven."""
    reports = {t: tool.main([
        str(SPIKING_SEG_CONFIG), '--input-shape', '1', '3', str(t), '32',
        '32', '--check-spike-driven', '--out', str(tmp_path / f't{t}')])
        for t in (1, 2)}
    one, two = (reports[t].groups for t in (1, 2))
    for part in ('backbone', 'neck'):
        assert two[part]['dense_macs'] == 2 * one[part]['dense_macs']
    seg = {t: next(r for r in reports[t].layers
                   if r['name'] == 'decode_head.conv_seg')
           for t in (1, 2)}
    assert seg[2]['dense_macs'] == seg[1]['dense_macs']
    assert reports[2].spike_driven['passed']
    assert reports[2].stem == ['backbone.downsample1_1.encode_conv']


def test_cli_on_a_video_segmentor(tool, tmp_path, capsys):
    """Segmentors with a per-frame (mmseg) decoder are counted as their test
    loop runs them: backbone over all T frames, neck and head on the key
    frame only."""
    reports = {}
    for t in (1, 2):
        reports[t] = tool.main([
            str(SEG_CONFIG), '--input-shape', '1', '3', str(t), '32', '32',
            '--check-spike-driven', '--target-energy', '1e-4', '--out',
            str(tmp_path / f't{t}')])
    one, two = (reports[t].groups for t in (1, 2))
    assert set(one) == {'backbone', 'neck', 'decode_head'}
    assert two['backbone']['dense_macs'] == 2 * one['backbone']['dense_macs']
    assert two['neck']['dense_macs'] == one['neck']['dense_macs']
    assert two['decode_head']['dense_macs'] == \
        one['decode_head']['dense_macs']
    # Semantic-FPN is a conventional head: real-valued input, charged as MACs
    report = reports[2]
    assert not report.spike_driven['passed']
    assert {v['name'].split('.')[0]
            for v in report.spike_driven['violations']} <= {'neck',
                                                            'decode_head'}
    assert report.total['macs'] > 0.5 * (one['neck']['dense_macs'] +
                                         one['decode_head']['dense_macs'])
    data = json.loads((tmp_path / 't2' / 'snn_energy.json').read_text())
    assert data['groups']['backbone']['dense_macs'] == pytest.approx(
        two['backbone']['dense_macs'])
    assert data['total']['target_energy_mj'] == 1e-4
    rate = data['total']['rate_for_target_energy']
    t = data['total']
    assert (4.6 * t['macs'] + 0.9 * rate * t['spike_dense_macs']) * 1e-9 \
        == pytest.approx(1e-4)
    # the conventional head's MACs alone cost more than the target
    assert rate < 0
    assert ('target 0.0001 mJ: unreachable, the real-valued-input ops alone '
            f"cost {t['macs'] * 4.6e-9:.4g} mJ") in capsys.readouterr().out

    # the backbone alone: spike-driven, its own stem, what-if at rate 0.2
    bb = tool.main([
        str(SEG_CONFIG), '--input-shape', '1', '3', '2', '32', '32',
        '--only', 'backbone', '--check-spike-driven',
        '--assume-firing-rate', '0.2', '--out', str(tmp_path / 'bb')])
    printed = capsys.readouterr().out
    assert 'ASSUMED uniform firing rate 0.2' in printed
    assert bb.spike_driven['passed']
    assert bb.stem == ['backbone.downsample1_1.encode_conv']
    assert bb.total['dense_macs'] == pytest.approx(
        two['backbone']['dense_macs'])
    stem = bb.layers[0]['dense_macs']
    assert bb.total['macs'] == stem
    assert bb.total['sops'] == pytest.approx(
        0.2 * (bb.total['dense_macs'] - stem))
    assert (tmp_path / 'bb' / 'snn_assumed-rate-0.2_energy.json').is_file()
    with pytest.raises(SystemExit):  # argparse: no what-if in ANN mode
        tool.parse_args([str(SEG_CONFIG), '--ann',
                         '--assume-firing-rate', '0.2'])
    with pytest.raises(SystemExit, match='matches no counted layer'):
        tool.main([str(SEG_CONFIG), '--input-shape', '1', '3', '1', '32',
                   '32', '--only', 'nope', '--out', str(tmp_path / 'x')])


def write_videos(root, num=3, frames=16, size=64):
    """A few random mp4 clips and a VideoDataset annotation file."""
    import cv2
    import numpy as np
    (root / 'videos').mkdir(parents=True)
    lines = []
    for i in range(num):
        name = f'clip{i}.mp4'
        writer = cv2.VideoWriter(str(root / 'videos' / name),
                                 cv2.VideoWriter_fourcc(*'mp4v'), 10,
                                 (size, size))
        rng = np.random.default_rng(i)
        for _ in range(frames):
            writer.write(rng.integers(0, 256, (size, size, 3), np.uint8))
        writer.release()
        lines.append(f'{name} {i}')
    (root / 'val.txt').write_text('\n'.join(lines) + '\n')


def test_cli_on_the_test_set(tool, tmp_path):
    data = tmp_path / 'toy_motion'
    write_videos(data)
    report = tool.main([
        str(TOY_CONFIG), '--num-samples', '2', '--out',
        str(tmp_path / 'out'), '--cfg-options',
        f'test_dataloader.dataset.ann_file={data}/val.txt',
        f'test_dataloader.dataset.data_prefix.video={data}/videos',
        'model.backbone.embed_dims=[16,32,64,64]',
        'model.backbone.depths=[1,1]'
    ])
    assert report.meta['source'] == 'test set'
    assert report.num_clips == 2
    assert report.meta['batch_input_shapes'] == [[2, 1, 3, 8, 64, 64]]
    assert report.spike_driven['passed']


SWIN = """
_base_ = ['mmaction::_base_/models/swin_tiny.py']
default_scope = 'mmaction'
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=24,
                            depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1]),
                  pretrained2d=False, window_size=(2, 4, 4),
                  drop_path_rate=0.0),
    cls_head=dict(in_channels=192, num_classes=5))
"""
RESNET3D = """
_base_ = ['mmaction::_base_/models/i3d_r50.py']
default_scope = 'mmaction'
model = dict(
    backbone=dict(depth=18, pretrained=None, pretrained2d=False,
                  conv1_stride_t=1, pool1_stride_t=1, base_channels=8,
                  inflate=((1, 1), (1, 0), (1, 0), (0, 1))),
    cls_head=dict(in_channels=64, num_classes=5))
"""


@pytest.mark.parametrize('name,text', [('swin3d', SWIN),
                                       ('resnet3d', RESNET3D)],
                         ids=['swin3d', 'resnet3d'])
def test_ann_mode_on_mmaction_models_matches_mmengine(tool, tmp_path, name,
                                                      text):
    """Dense MACs of upstream recognizers equal mmengine's FlopAnalyzer
    (conv + linear + matmul, i.e. without norms / pooling)."""
    from mmengine.analysis import FlopAnalyzer
    cfg = write_config(tmp_path / f'{name}.py', text)
    report = tool.main([cfg, '--input-shape', '1', '3', '4', '32', '32',
                        '--ann', '--check-spike-driven', '--out',
                        str(tmp_path / 'out')])
    assert report.mode == 'ann'
    # an ANN is not spike-driven: every op after the stem is listed
    assert not report.spike_driven['passed']
    assert len(report.spike_driven['violations']) == len(report.layers) - 1
    args = tool.parse_args([cfg, '--check-spike-driven'])
    assert tool._exit_status(report, args) == 1

    model = tool.build_model(
        __import__('mmengine').Config.fromfile(cfg), None, 'cpu')
    x = torch.randn(1, 1, 3, 4, 32, 32)

    class Logits(torch.nn.Module):
        def __init__(self, recognizer):
            super().__init__()
            self.recognizer = recognizer

        def forward(self, inputs):
            return self.recognizer(inputs, mode='tensor', stage='head')

    analyzer = FlopAnalyzer(Logits(model), (x, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_op = analyzer.by_operator()
    expected = sum(v for k, v in by_op.items()
                   if k in ('conv', 'linear', 'matmul', 'bmm', 'einsum'))
    counter = OperationCounter(model)
    with counter:
        counter.run(x, mode='tensor', stage='head', num_clips=1)
    ann = compute_energy(counter, mode='ann')
    assert ann.total['dense_macs'] == expected
    assert ann.total['energy_mj'] == pytest.approx(4.6 * expected * 1e-9)
    if name == 'swin3d':  # window attention products are counted
        assert any(r['op'] == 'matmul' for r in ann.layers)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / 'report.json'
    path.write_text('old')

    def failing(f):
        f.write(b'partial')
        raise RuntimeError('crash while writing')

    with pytest.raises(RuntimeError, match='crash'):
        atomic_write(str(path), failing)
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['report.json']  # no temp file left
    atomic_write(str(path), lambda f: f.write(b'new'))
    assert path.read_text() == 'new'


def test_report_writers_round_trip(tmp_path):
    report = EnergyReport(
        mode='snn', preset='fp32', e_mac_pj=4.6, e_ac_pj=0.9, num_clips=1,
        stem=[], layers=[], total=dict(dense_macs=0, macs=0, sops=0,
                                       energy_mj=0, ann_energy_mj=0,
                                       mean_firing_rate=None))
    report.write_json(str(tmp_path / 'a.json'))
    report.write_csv(str(tmp_path / 'a.csv'))
    report.write_firing_rate_png(str(tmp_path / 'a.png'))  # no spike layer
    assert json.loads((tmp_path / 'a.json').read_text())['layers'] == []
    assert 'TOTAL' in report.table()
