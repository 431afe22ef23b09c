# Copyright (c) mmsvf contributors. All rights reserved.
"""Energy, synaptic operations and firing rates of a model (docs/energy.md).

Builds the model of an mmengine config, runs inference on samples of the
config's test set (or on random clips of ``--input-shape``) while counting
every conv / linear / matrix product (attention included), and reports per
layer and in total: firing rate of the input spikes, dense MACs, MACs charged
at E_MAC (real-valued input: the stem), SOPs charged at E_AC, energy in mJ per
clip. ``--ann`` charges every op as a dense MAC (the ANN reference; works on
any mmaction2 model). ``--check-spike-driven`` lists every op whose input is
not spikes (except the stem) and exits with status 1 when there is one.
``--assume-firing-rate R`` evaluates the energy with every spike-driven op at
the assumed uniform rate R instead of the measured rates (a what-if, labelled
as such); ``--target-energy MJ`` reports the uniform firing rate at which the
model would cost MJ per clip (e.g. a paper's figure).

Video recognizers (mmaction) are counted up to the class logits; video
segmentors (``mmsvf.VideoEncoderDecoder``) as in their test loop: the
backbone over all T frames; a per-frame (mmseg) neck and decode head on the
key frame only; a time-first (spiking) neck and head over all T frames (their
neurons integrate over the clip), the classifier on the key frame.

Outputs under ``--out`` (default ``work_dirs/energy/<config name>``):
``<mode>_energy.json``, ``<mode>_layers.csv`` and
``<mode>_firing_rates.png`` (``mode`` = ``snn`` or ``ann``;
``snn_assumed-rate-R`` with ``--assume-firing-rate R``).

Examples::

    python tools/analysis/energy.py CONFIG CHECKPOINT --num-samples 8
    python tools/analysis/energy.py CONFIG --input-shape 1 3 8 224 224
    python tools/analysis/energy.py CONFIG --input-shape 1 3 8 224 224 --ann
    python tools/analysis/energy.py CONFIG --input-shape 1 3 8 224 224 \\
        --check-spike-driven --preset int8
    python tools/analysis/energy.py CONFIG --input-shape 1 3 32 224 224 \\
        --target-energy 412.1 --assume-firing-rate 0.2
"""
import argparse
import math
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Energy / SOPs / firing rates of a model (mmsvf)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional: random weights '
                        'otherwise)')
    parser.add_argument('--num-samples', type=int, default=1,
                        help='samples (clips) to run (default 1)')
    parser.add_argument(
        '--input-shape', type=int, nargs='+', default=None,
        metavar='N',
        help='count on random clips of this shape, B C T H W (B C H W for '
        'image models), instead of the test set')
    parser.add_argument('--preset', choices=['fp32', 'fp16', 'int8'],
                        default='fp32',
                        help='energy per MAC / AC: fp32 4.6/0.9 pJ (default), '
                        'fp16 1.5/0.4, int8 0.23/0.03')
    parser.add_argument('--e-mac', type=float, default=None,
                        help='override the energy per MAC (pJ)')
    parser.add_argument('--e-ac', type=float, default=None,
                        help='override the energy per accumulate (pJ)')
    parser.add_argument('--ann', action='store_true',
                        help='ANN reference: every op is a dense MAC')
    parser.add_argument(
        '--assume-firing-rate', type=float, default=None, metavar='R',
        help='what-if: charge every spike-driven op R x dense MACs SOPs '
        'instead of the measured rates (R up to the largest integer spike '
        'level D); the report is labelled as assumed')
    parser.add_argument(
        '--target-energy', type=float, default=None, metavar='MJ',
        help='also report the uniform firing rate at which the model costs '
        'MJ mJ per clip (stem and other real-input ops stay MACs)')
    parser.add_argument(
        '--check-spike-driven', action='store_true',
        help='list every conv/linear/matmul whose input is not spikes '
        '(except the stem); exit status 1 if any')
    parser.add_argument(
        '--strict', action='store_true',
        help='with --check-spike-driven: also list ops fed by a linear '
        'image of spikes (RepConv / SepConv internals that fold at '
        'inference)')
    parser.add_argument(
        '--stem', nargs='+', default=None, metavar='NAME',
        help='layer names (dotted suffixes or globs) that take real-valued '
        'input and are charged as MACs; default: the first op when its '
        'input is real-valued')
    parser.add_argument(
        '--only', nargs='+', default=None, metavar='MODULE',
        help='account only for the layers under these module paths (e.g. '
        '"backbone": a segmentor without its neck / decode head); the '
        'default stem is then the first of those layers')
    parser.add_argument('--out', default=None,
                        help='output folder (default work_dirs/energy/'
                        '<config name>)')
    parser.add_argument('--device', default='cpu',
                        help='device to run on (default cpu)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random weights (no checkpoint) '
                        'and of the random clips (default 0)')
    parser.add_argument('--max-rows', type=int, default=None,
                        help='rows of the terminal table (default all)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, key=value pairs')
    args = parser.parse_args(argv)
    if args.num_samples < 1:
        parser.error(f'--num-samples must be >= 1, got {args.num_samples}')
    if args.ann and args.assume_firing_rate is not None:
        parser.error('--assume-firing-rate applies to the SNN mode, not '
                     'with --ann')
    if args.assume_firing_rate is not None and not (
            math.isfinite(args.assume_firing_rate)
            and args.assume_firing_rate >= 0):
        parser.error('--assume-firing-rate must be a non-negative number, '
                     f'got {args.assume_firing_rate}')
    if args.target_energy is not None and not (
            math.isfinite(args.target_energy) and args.target_energy >= 0):
        parser.error('--target-energy must be a non-negative number of mJ, '
                     f'got {args.target_energy}')
    if args.input_shape is not None and (
            len(args.input_shape) not in (4, 5)
            or min(args.input_shape) < 1):
        parser.error('--input-shape takes B C T H W (or B C H W) positive '
                     f'integers, got {args.input_shape}')
    return args


def build_model(cfg, checkpoint, device):
    """Build ``cfg.model`` in the config's default scope; load weights."""
    import torch
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    scope = cfg.get('default_scope', None) or 'mmsvf'
    init_default_scope(scope)
    if 'model' not in cfg:
        raise SystemExit('the config has no `model` entry')
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise SystemExit(f'checkpoint {checkpoint} not found')
        load_checkpoint(model, checkpoint, map_location='cpu')
    model.to(torch.device(device))
    model.eval()
    return model


def _is_recognizer(model):
    try:
        from mmaction.models.recognizers import BaseRecognizer
    except ImportError:  # pragma: no cover - mmaction is a dependency
        return False
    return isinstance(model, BaseRecognizer)


def _is_video_segmentor(model):
    from mmsvf.models.segmentors import VideoEncoderDecoder
    return isinstance(model, VideoEncoderDecoder)


def _num_clips(model, inputs):
    """Network clips in a preprocessed batch (views of a sample count)."""
    fmt = getattr(getattr(model, 'data_preprocessor', None), 'format_shape',
                  None)
    if _is_recognizer(model) and fmt == 'NCTHW' and inputs.dim() == 6:
        return inputs.shape[0] * inputs.shape[1]
    return inputs.shape[0]


def random_batches(model, shape, num_samples, device, seed=0):
    """Yield ``(forward kwargs, clips)`` of random input of ``shape``.

    mmaction recognizers get random 0..255 frames through their data
    preprocessor (``B C T H W`` → per sample ``1 C T H W`` for NCTHW,
    ``T C H W`` for NCHW) and run up to the class logits
    (``mode='tensor', stage='head'``); ``mmsvf.VideoEncoderDecoder``
    segmentors get random 0..255 clips ``T C H W`` through their data
    preprocessor and run their test-time inference (``mode='predict'``:
    backbone over the clip, neck and head on the key frame); other models get
    a standard-normal tensor of exactly ``shape`` (``model(x, mode='tensor')``
    for mmengine models, ``model(x)`` otherwise).
    """
    import torch
    from mmengine.model import BaseModel

    gen = torch.Generator().manual_seed(seed)
    batch = shape[0]
    for _ in range(math.ceil(num_samples / batch)):
        if _is_recognizer(model):
            fmt = getattr(model.data_preprocessor, 'format_shape', 'NCTHW')
            if len(shape) != 5:
                raise SystemExit('--input-shape for a video recognizer is '
                                 f'B C T H W, got {list(shape)}')
            b, c, t, h, w = shape
            frames = torch.randint(0, 256, (b, c, t, h, w), generator=gen)
            if fmt == 'NCHW':
                inputs = [f.permute(1, 0, 2, 3).float() for f in frames]
            else:
                inputs = [f[None].float() for f in frames]
            data = model.data_preprocessor(
                dict(inputs=inputs, data_samples=None), False)
            yield dict(inputs=data['inputs'], data_samples=None,
                       mode='tensor', stage='head'), b
        elif _is_video_segmentor(model):
            if len(shape) != 5:
                raise SystemExit('--input-shape for a video segmentor is '
                                 f'B C T H W, got {list(shape)}')
            b, c, t, h, w = shape
            clips = torch.randint(0, 256, (b, t, c, h, w), generator=gen,
                                  dtype=torch.uint8)
            data = model.data_preprocessor(
                dict(inputs=list(clips), data_samples=None), False)
            yield dict(inputs=data['inputs'], data_samples=None,
                       mode='predict'), b
        else:
            x = torch.randn(*shape, generator=gen).to(device)
            if isinstance(model, BaseModel):
                yield dict(inputs=x, mode='tensor'), batch
            else:
                yield dict(x=x), batch


def dataset_batches(model, cfg, num_samples, config_path):
    """Yield ``(forward kwargs, clips)`` from the config's test set."""
    from mmengine.runner import Runner

    loader_cfg = cfg.get('test_dataloader', None)
    if not loader_cfg or not loader_cfg.get('dataset', None):
        raise SystemExit(
            f'{config_path} has no test set (test_dataloader.dataset): '
            'give --input-shape B C T H W (e.g. --input-shape 1 3 8 224 '
            '224) to count on random clips')
    loader_cfg = loader_cfg.copy()
    loader_cfg['batch_size'] = max(1, min(int(loader_cfg.get(
        'batch_size', 1)), num_samples))
    loader_cfg['num_workers'] = 0
    loader_cfg['persistent_workers'] = False
    try:
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        iterator = iter(loader)
        first = next(iterator)
    except StopIteration:
        raise SystemExit(f'the test set of {config_path} is empty: give '
                         '--input-shape B C T H W to count on random clips')
    except Exception as err:  # data missing, bad annotation file, ...
        raise SystemExit(
            f'could not load the test set of {config_path} '
            f'({type(err).__name__}: {err}); point the config at the data '
            '(--cfg-options test_dataloader.dataset....) or give '
            '--input-shape B C T H W to count on random clips')
    seen = 0
    batch = first
    while batch is not None and seen < num_samples:
        data = model.data_preprocessor(batch, False)
        inputs = data['inputs']
        kwargs = dict(inputs=inputs, data_samples=data.get('data_samples'),
                      mode='tensor')
        if _is_recognizer(model):
            kwargs['stage'] = 'head'  # backbone + neck + cls_head logits
        elif _is_video_segmentor(model):
            kwargs['mode'] = 'predict'  # the test loop: key frame decoded
        yield kwargs, _num_clips(model, inputs)
        seen += len(data.get('data_samples') or inputs)
        batch = next(iterator, None)


def main(argv=None):
    """Run the analysis; return the :class:`EnergyReport`."""
    args = parse_args(argv)

    import torch

    import mmsvf  # noqa: F401  (applies the upstream workarounds)
    from mmsvf.analysis import (
        OperationCounter,
        compute_energy,
        uniform_rate_for_energy,
    )
    from mmsvf.analysis.energy import PJ_TO_MJ
    from mmsvf.utils import config_stem, load_tool_config

    cfg = load_tool_config(args.config, args.cfg_options)

    torch.manual_seed(args.seed)  # random weights are reproducible too
    model = build_model(cfg, args.checkpoint, args.device)
    if args.input_shape is not None:
        batches = random_batches(model, tuple(args.input_shape),
                                 args.num_samples, args.device, args.seed)
        source = f'random clips {args.input_shape}'
    else:
        batches = dataset_batches(model, cfg, args.num_samples, args.config)
        source = 'test set'

    counter = OperationCounter(model)
    shapes = []
    with torch.no_grad():
        for kwargs, clips in batches:
            x = kwargs.get('inputs', kwargs.get('x'))
            shapes.append(list(x.shape))
            with counter:
                model(**kwargs)
            counter.add_clips(clips)
    if counter.num_clips == 0:
        raise SystemExit('no clip was run')

    mode = 'ann' if args.ann else 'snn'
    meta = dict(config=args.config, checkpoint=args.checkpoint,
                source=source, batch_input_shapes=shapes[:4],
                num_batches=len(shapes),
                attention_modules=counter.attention_modules)
    try:
        report = compute_energy(counter, mode=mode, preset=args.preset,
                                e_mac=args.e_mac, e_ac=args.e_ac,
                                stem=args.stem or 'auto', strict=args.strict,
                                meta=meta,
                                assume_firing_rate=args.assume_firing_rate,
                                include=args.only)
    except ValueError as err:  # unknown stem name, bad energy value or rate
        raise SystemExit(str(err))
    if args.target_energy is not None:
        if mode != 'snn':
            raise SystemExit('--target-energy needs the SNN mode (no --ann)')
        rate = uniform_rate_for_energy(report, args.target_energy)
        report.total['target_energy_mj'] = args.target_energy
        report.total['rate_for_target_energy'] = rate

    out = args.out or osp.join(
        'work_dirs', 'energy', config_stem(args.config))
    os.makedirs(out, exist_ok=True)
    tag = mode if args.assume_firing_rate is None else \
        f'{mode}_assumed-rate-{args.assume_firing_rate:g}'
    files = dict(json=osp.join(out, f'{tag}_energy.json'),
                 csv=osp.join(out, f'{tag}_layers.csv'),
                 png=osp.join(out, f'{tag}_firing_rates.png'))
    report.write_json(files['json'])
    report.write_csv(files['csv'])
    report.write_firing_rate_png(
        files['png'], title=f'{osp.basename(args.config)}: input firing '
        f'rate per layer ({source})')

    text = report.table(max_rows=args.max_rows)
    if not args.check_spike_driven:
        text = '\n'.join(line for line in text.splitlines()
                         if not line.startswith('spike-driven check'))
    print(text)
    if args.target_energy is not None:
        rate = report.total['rate_for_target_energy']
        if rate is None:
            print(f'target {args.target_energy:g} mJ: the model has no '
                  'spike-driven op')
        elif rate < 0:
            print(f'target {args.target_energy:g} mJ: unreachable, the '
                  'real-valued-input ops alone cost '
                  f"{report.total['macs'] * report.e_mac_pj * PJ_TO_MJ:.4g}"
                  ' mJ')
        else:
            print(f'target {args.target_energy:g} mJ/clip is reached at a '
                  f'uniform firing rate of {rate:.4g} (measured effective '
                  f"rate {report.total['effective_firing_rate'] or 0:.4g})")
    print('wrote ' + ', '.join(files.values()))
    report.meta['files'] = files
    return report


def _exit_status(report, args):
    if args.check_spike_driven and not report.spike_driven['passed']:
        return 1
    return 0


if __name__ == '__main__':
    _argv = sys.argv[1:]
    _report = main(_argv)
    sys.exit(_exit_status(_report, parse_args(_argv)))
