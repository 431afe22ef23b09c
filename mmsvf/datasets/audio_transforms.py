# Copyright (c) mmsvf contributors. All rights reserved.
"""Audio as a clip: wav → log-mel spectrogram → time windows as frames.

mmaction2 1.2's audio pipeline (``AudioDataset`` → ``LoadAudioFeature`` →
``AudioFeatureSelector`` → ``FormatAudioShape`` → ``RecognizerAudio``) reads
features extracted offline (``.npy``) and silently feeds random or zero
noise when a file is missing. These two transforms take its place between
``AudioDataset`` (which gives ``audio_path``) and ``PackActionInputs``
(which packs ``audios``), so a ``RecognizerAudio`` reads real wav files,
and a spiking video backbone sees the spectrogram as a sequence of time
windows (frames = time steps).
"""
import os.path as osp
import struct
import wave

import numpy as np
from mmcv.transforms import BaseTransform

from mmsvf.registry import TRANSFORMS

__all__ = ['LoadWavLogMel', 'SpectrogramToFrames', 'read_wav',
           'log_mel_spectrogram', 'mel_filterbank']


def read_wav(path, sample_rate=None):
    """Mono float32 samples in [-1, 1] of a PCM wav file.

    Args:
        path (str): the file.
        sample_rate (int | None): required rate (None: any).

    Returns:
        tuple[np.ndarray, int]: ``(samples (N,), rate)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable PCM wav (header, truncated data, sample
            width), wrong rate, or no samples; the message names the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'audio file {path} not found')
    try:
        with wave.open(path, 'rb') as f:
            rate, channels = f.getframerate(), f.getnchannels()
            width, frames = f.getsampwidth(), f.getnframes()
            raw = f.readframes(frames)
    # the stdlib reader raises wave.Error, EOFError, struct.error or a bare
    # RuntimeError (a chunk size past the end) on broken headers
    except (wave.Error, EOFError, RuntimeError, ValueError,
            struct.error) as err:
        why = f'{type(err).__name__}: {err}' if str(err) else \
            type(err).__name__
        raise ValueError(f'{path}: not a readable PCM wav file ({why}); '
                         'expected a RIFF/WAVE file with 8/16/32-bit PCM '
                         'samples') from err
    if width not in (1, 2, 4):
        raise ValueError(f'{path}: {8 * width}-bit samples; expected 8, 16 '
                         'or 32-bit PCM')
    if len(raw) != frames * channels * width or frames == 0:
        raise ValueError(f'{path}: the header announces {frames} frames of '
                         f'{channels}×{width} bytes but the data holds '
                         f'{len(raw)} bytes (truncated or empty file)')
    if sample_rate is not None and rate != sample_rate:
        raise ValueError(f'{path}: sample rate {rate} Hz; expected '
                         f'{sample_rate} Hz (resample the file)')
    if width == 1:  # unsigned 8-bit
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    else:
        dtype = {2: np.int16, 4: np.int32}[width]
        x = np.frombuffer(raw, dtype).astype(np.float32) / float(
            np.iinfo(dtype).max)
    return x.reshape(-1, channels).mean(1), rate


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10**(np.asarray(m, np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate, n_fft, n_mels, fmin=0.0, fmax=None):
    """Triangular HTK-mel filters, ``(n_mels, n_fft // 2 + 1)``."""
    fmax = sample_rate / 2 if fmax is None else fmax
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax),
                                   n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    return np.maximum(0, np.minimum(up, down)).astype(np.float32)


def log_mel_spectrogram(x, sample_rate, n_fft=512, hop_length=128,
                        n_mels=32, fmin=50.0, fmax=None, eps=1e-6):
    """``log(mel power + eps)`` of ``x``, ``(frames, n_mels)`` float32.

    Hann window, no centring padding: frame ``i`` covers samples
    ``[i·hop, i·hop + n_fft)``.
    """
    if len(x) < n_fft:
        raise ValueError(f'{len(x)} samples, fewer than n_fft={n_fft}')
    n = 1 + (len(x) - n_fft) // hop_length
    idx = np.arange(n_fft)[None] + hop_length * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1))**2
    mel = power @ mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax).T
    return np.log(mel + eps).astype(np.float32)


@TRANSFORMS.register_module()
class LoadWavLogMel(BaseTransform):
    """Read ``audio_path`` (a PCM wav) and compute its log-mel spectrogram.

    Required keys: ``audio_path``. Added keys: ``audios``
    (``(frames, n_mels)`` float32, standardised per clip unless
    ``normalize=False``), ``length`` (frames), ``sample_rate``.

    A missing file raises ``FileNotFoundError`` and an unreadable or
    wrong-rate one a ``ValueError``, both naming the file (mmaction's
    ``LoadAudioFeature`` would substitute noise).

    Args:
        sample_rate (int): required rate of the files.
        n_fft (int): FFT length (samples).
        hop_length (int): samples between frames.
        n_mels (int): mel bands.
        fmin (float): lowest band edge (Hz).
        fmax (float | None): highest (None: Nyquist).
        normalize (bool): subtract the clip's mean, divide by its std.
    """

    def __init__(self, sample_rate=16000, n_fft=512, hop_length=128,
                 n_mels=32, fmin=50.0, fmax=None, normalize=True):
        self.sample_rate, self.n_fft = sample_rate, n_fft
        self.hop_length, self.n_mels = hop_length, n_mels
        self.fmin, self.fmax, self.normalize = fmin, fmax, normalize

    def transform(self, results):
        path = results['audio_path']
        x, rate = read_wav(path, self.sample_rate)
        try:
            spec = log_mel_spectrogram(x, rate, self.n_fft, self.hop_length,
                                       self.n_mels, self.fmin, self.fmax)
        except ValueError as err:
            raise ValueError(f'{path}: {err}') from err
        if self.normalize:
            spec = (spec - spec.mean()) / max(float(spec.std()), 1e-6)
        results['audios'] = spec
        results['length'] = spec.shape[0]
        results['sample_rate'] = rate
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(sample_rate={self.sample_rate}, '
                f'n_fft={self.n_fft}, hop_length={self.hop_length}, '
                f'n_mels={self.n_mels})')


@TRANSFORMS.register_module()
class SpectrogramToFrames(BaseTransform):
    """Cut a spectrogram into ``num_frames`` time windows: a video clip.

    Window ``t`` holds spectrogram frames ``[s_t, s_t + window)``, the starts
    ``s_t`` evenly spaced from the first to the last possible one, so the
    windows follow each other in time and cover the clip. Each window is an
    image of ``n_mels`` rows (frequency, low at the top) and ``window``
    columns (time), the mel axis as H and time as W.

    Required keys: ``audios`` ``(frames, n_mels)``. Modified keys:
    ``audios`` → ``(1, 1, T, n_mels, window)`` (one clip, one channel,
    NCTHW per clip, what ``PackActionInputs`` and ``RecognizerAudio``
    take). Added keys: ``num_clips`` (1), ``clip_len`` (T).

    Args:
        num_frames (int): time steps T.
        window (int): spectrogram frames per time step.
    """

    def __init__(self, num_frames=8, window=16):
        if num_frames < 1 or window < 1:
            raise ValueError('num_frames and window must be >= 1, got '
                             f'{num_frames}, {window}')
        self.num_frames, self.window = num_frames, window

    def transform(self, results):
        spec = results['audios']
        if spec.ndim != 2:
            raise ValueError(f"{results.get('audio_path', 'audio')}: "
                             f'spectrogram of shape {spec.shape}; expected '
                             '(frames, n_mels)')
        n = spec.shape[0]
        if n < self.window:
            raise ValueError(
                f"{results.get('audio_path', 'audio')}: {n} spectrogram "
                f'frames, fewer than one window of {self.window}')
        starts = np.linspace(0, n - self.window, self.num_frames).round()
        clip = np.stack([spec[int(s):int(s) + self.window].T
                         for s in starts])  # T, n_mels, window
        results['audios'] = np.ascontiguousarray(
            clip[None, None], dtype=np.float32)
        results['num_clips'], results['clip_len'] = 1, self.num_frames
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(num_frames={self.num_frames}, '
                f'window={self.window})')
