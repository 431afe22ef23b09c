# Copyright (c) mmsvf contributors. All rights reserved.
"""Write the toy-audio data set: real wav files whose classes need order.

Four classes in two time-reversal pairs, 1 s of 16 kHz mono 16-bit PCM:

* ``chirp_up`` / ``chirp_down``: a tone gliding exponentially between two
  random frequencies (300-600 Hz and 1.5-3 kHz), up or down;
* ``pulses_accel`` / ``pulses_decel``: short noise-burst clicks whose
  spacing shrinks (accelerating) or grows (decelerating) over the clip.

The second class of a pair is the exact time reversal of the first, drawn
from the same random stream (before the background noise, which is drawn
afterwards): one short window of the spectrogram shows the family but, for
the pulses, hardly the direction. Layout (mmaction ``AudioDataset``
annotation lines ``path total_frames label``; ``total_frames`` is the
number of samples)::

    OUT/train/<class>/<k>.wav, OUT/val/<class>/<k>.wav
    OUT/train.txt, OUT/val.txt, OUT/label_map.txt

    python tools/data/generate_toy_audio.py --out data/toy_audio
"""
import argparse
import os
import os.path as osp
import wave

import numpy as np

CLASSES = ('chirp_up', 'chirp_down', 'pulses_accel', 'pulses_decel')
RATE = 16000


def chirp(rng, n, rate):
    f0, f1 = rng.uniform(300, 600), rng.uniform(1500, 3000)
    t = np.arange(n) / rate
    dur = n / rate
    k = np.log(f1 / f0) / dur
    phase = 2 * np.pi * f0 * (np.exp(k * t) - 1) / k
    env = np.minimum(1, np.minimum(t, dur - t) / 0.02)  # 20 ms fades
    return np.sin(phase + rng.uniform(0, 2 * np.pi)) * env


def pulses(rng, n, rate):
    """Clicks with spacing falling geometrically from ~200 to ~40 ms."""
    x = np.zeros(n)
    start_gap = rng.uniform(0.16, 0.24) * rate
    ratio = rng.uniform(0.72, 0.8)
    pos = rng.uniform(0.01, 0.04) * rate
    gap = start_gap
    click = int(0.008 * rate)
    while pos + click < n:
        i = int(pos)
        x[i:i + click] += rng.standard_normal(click) * np.hanning(click)
        pos += max(gap, 0.025 * rate)
        gap *= ratio
    return x / max(np.abs(x).max(), 1e-6)


def make_clip(label, rng, n=RATE, rate=RATE):
    """Samples in [-1, 1] of one clip of class ``label``."""
    family = chirp if label < 2 else pulses
    x = family(rng, n, rate) * rng.uniform(0.3, 0.8)
    if label % 2:  # the pair's second class: the same sound reversed
        x = x[::-1]
    x = x + rng.standard_normal(n) * rng.uniform(0.005, 0.03)
    return np.clip(x, -1, 1)


def write_wav(path, x, rate=RATE):
    os.makedirs(osp.dirname(path), exist_ok=True)
    data = (np.asarray(x) * 32767).round().astype('<i2').tobytes()
    with wave.open(path, 'wb') as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(data)


def generate(out, num_train=60, num_val=20, seed=0, duration=1.0):
    n = int(duration * RATE)
    for split, count, offset in (('train', num_train, 0),
                                 ('val', num_val, 10**6)):
        lines = []
        for label, name in enumerate(CLASSES):
            for k in range(count):
                # pair members share a stream: exact reversals
                rng = np.random.default_rng(
                    [seed, offset + k, label // 2])
                rel = f'{split}/{name}/{k:04d}.wav'
                write_wav(osp.join(out, rel), make_clip(label, rng, n))
                lines.append(f'{rel} {n} {label}')
        with open(osp.join(out, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, 'label_map.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/toy_audio')
    p.add_argument('--num-train', type=int, default=60,
                   help='training clips per class')
    p.add_argument('--num-val', type=int, default=20,
                   help='validation clips per class')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--duration', type=float, default=1.0, help='seconds')
    args = p.parse_args(argv)
    generate(args.out, args.num_train, args.num_val, args.seed,
             args.duration)
    print(f'wrote {args.out}: {len(CLASSES)} classes, '
          f'{args.num_train}+{args.num_val} clips per class')


if __name__ == '__main__':
    main()
