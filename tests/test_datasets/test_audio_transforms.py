# Copyright (c) mmsvf contributors. All rights reserved.
"""Audio as a clip: the wav generator, wav → log-mel → windows, the config."""
import importlib.util
import os.path as osp
import wave

import numpy as np
import pytest
import torch

from mmsvf.datasets import (
    LoadWavLogMel,
    SpectrogramToFrames,
    log_mel_spectrogram,
    read_wav,
)

REPO = osp.dirname(osp.dirname(osp.dirname(__file__)))
CFG = osp.join(REPO, 'configs/audio/spikevideoformer/'
               'spikevideoformer-tiny_1xb8-t8_toy-audio.py')


def _generator():
    path = osp.join(REPO, 'tools/data/generate_toy_audio.py')
    spec = importlib.util.spec_from_file_location('generate_toy_audio', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def toy_audio(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_audio')
    _generator().generate(str(root), num_train=2, num_val=1, seed=0)
    return root


def _clip(path):
    results = LoadWavLogMel()(dict(audio_path=str(path)))
    return SpectrogramToFrames(num_frames=8, window=16)(results)


def test_generator_layout_and_wav_format(toy_audio):
    lines = (toy_audio / 'train.txt').read_text().split('\n')[:-1]
    assert len(lines) == 8
    rel, frames, label = lines[2].split()
    assert rel == 'train/chirp_down/0000.wav' and label == '1'
    x, rate = read_wav(str(toy_audio / rel), 16000)
    assert rate == 16000 and len(x) == int(frames) == 16000
    assert 0.1 < np.abs(x).max() <= 1
    with wave.open(str(toy_audio / rel)) as f:
        assert (f.getnchannels(), f.getsampwidth()) == (1, 2)


def test_chirps_rise_and_fall_across_the_windows(toy_audio):
    def band_path(rel):
        clip = _clip(toy_audio / rel)['audios'][0, 0]  # T, mels, window
        return clip.mean(-1).argmax(-1)  # loudest band per window
    up = band_path('train/chirp_up/0000.wav')
    down = band_path('train/chirp_down/0000.wav')
    assert up[-1] - up[0] >= 8 and down[0] - down[-1] >= 8
    # the pair is a time reversal: the same bands in reverse order
    assert np.abs(up - down[::-1]).max() <= 1


def test_pipeline_shapes_and_windows_cover_the_clip(toy_audio):
    results = _clip(toy_audio / 'val/pulses_accel/0000.wav')
    assert results['audios'].shape == (1, 1, 8, 32, 16)
    assert results['audios'].dtype == np.float32
    assert (results['num_clips'], results['clip_len']) == (1, 8)
    assert results['length'] == 1 + (16000 - 512) // 128
    spec = LoadWavLogMel()(dict(audio_path=str(
        toy_audio / 'val/pulses_accel/0000.wav')))['audios']
    clip = results['audios'][0, 0]
    np.testing.assert_array_equal(clip[0], spec[:16].T)
    np.testing.assert_array_equal(clip[-1], spec[-16:].T)


def test_log_mel_of_a_pure_tone_peaks_in_its_band():
    t = np.arange(16000) / 16000
    spec = log_mel_spectrogram(np.sin(2 * np.pi * 1000 * t).astype(
        np.float32), 16000, n_mels=32)
    low = log_mel_spectrogram(np.sin(2 * np.pi * 300 * t).astype(
        np.float32), 16000, n_mels=32)
    assert spec.shape == (122, 32)
    assert spec.mean(0).argmax() > low.mean(0).argmax()


def test_corrupt_wav_is_rejected_with_a_clear_error(toy_audio, tmp_path):
    bad = tmp_path / 'corrupt.wav'
    bad.write_bytes(b'RIFF\x10\x00\x00\x00WAVEjunk' + bytes(range(40)))
    with pytest.raises(ValueError, match=r'corrupt\.wav: not a readable '
                       'PCM wav file'):
        LoadWavLogMel()(dict(audio_path=str(bad)))
    # a truncated file: the header announces more samples than it holds
    good = (toy_audio / 'train/chirp_up/0000.wav').read_bytes()
    cut = tmp_path / 'cut.wav'
    cut.write_bytes(good[:5000])
    with pytest.raises(ValueError, match=r'cut\.wav: the header announces '
                       '16000 frames'):
        LoadWavLogMel()(dict(audio_path=str(cut)))
    with pytest.raises(FileNotFoundError, match='missing.wav'):
        LoadWavLogMel()(dict(audio_path=str(tmp_path / 'missing.wav')))
    with pytest.raises(ValueError, match='sample rate 16000 Hz; expected '
                       '8000'):
        LoadWavLogMel(sample_rate=8000)(dict(audio_path=str(
            toy_audio / 'train/chirp_up/0000.wav')))
    with pytest.raises(ValueError, match='fewer than one window'):
        SpectrogramToFrames(window=200)(LoadWavLogMel()(dict(
            audio_path=str(toy_audio / 'train/chirp_up/0000.wav'))))


def test_config_trains_a_step_and_the_dataset_names_a_corrupt_file(
        toy_audio, tmp_path):
    import importlib

    from mmaction.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(CFG)
    init_default_scope('mmaction')
    for name in cfg.custom_imports['imports']:
        importlib.import_module(name)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(ann_file=str(toy_audio / 'train.txt'),
                  data_prefix=dict(audio=str(toy_audio)))
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 8
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[7]]), True)
    assert data['inputs'].shape == (2, 1, 1, 8, 32, 16)
    losses = model(**data, mode='loss')
    losses['loss_cls'].backward()
    assert torch.isfinite(losses['loss_cls'])
    # a corrupt wav inside the data set: the error names the file
    ann = tmp_path / 'bad.txt'
    (tmp_path / 'x.wav').write_bytes(b'not a wav at all')
    ann.write_text('x.wav 16000 0\n')
    ds_cfg.update(ann_file=str(ann), data_prefix=dict(audio=str(tmp_path)))
    with pytest.raises(ValueError, match=r'x\.wav: not a readable PCM wav'):
        DATASETS.build(ds_cfg)[0]


def test_spatial_only_control_differs_only_in_the_time_switches():
    from mmengine.config import Config
    main = Config.fromfile(CFG)
    ctrl = Config.fromfile(CFG.replace('tiny_1xb8', 'tiny_spatial-only_1xb8'))
    assert (ctrl.model.backbone.attn_mode,
            ctrl.model.backbone.reset_each_frame,
            ctrl.model.cls_head.reset_each_frame) == ('spatial', True, True)
    for key in ('attn_mode', 'reset_each_frame'):
        ctrl.model.backbone.pop(key)
        main.model.backbone.pop(key, None)
    ctrl.model.cls_head.pop('reset_each_frame')
    assert ctrl.model == main.model
    assert ctrl.train_dataloader == main.train_dataloader
