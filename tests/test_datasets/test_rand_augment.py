# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf.RandAugment: timm's policy strings and ops on mmaction frame lists."""
import random

import numpy as np
import pytest

from mmsvf.datasets.rand_augment import (
    RAND_INCREASING_OPS,
    RAND_OPS,
    RandAugment,
    parse_rand_augment_policy,
)


def frames(n=2, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(24, 20, 3), dtype=np.uint8)
    return [img.copy() for _ in range(n)]


def test_parse_meta_spikeformer_policy():
    assert parse_rand_augment_policy('rand-m9-mstd0.5-inc1') == dict(
        magnitude=9.0, num_ops=2, magnitude_std=0.5, magnitude_max=10.0,
        increasing=True)
    cfg = parse_rand_augment_policy('rand-m7-n3-mstd101-mmax12-inc0')
    assert (cfg['num_ops'], cfg['magnitude_max'], cfg['increasing']) == (
        3, 12.0, False)
    assert cfg['magnitude_std'] == float('inf')
    with pytest.raises(ValueError, match="start with 'rand'"):
        parse_rand_augment_policy('augmix-m3')
    with pytest.raises(ValueError, match='unknown section'):
        parse_rand_augment_policy('rand-m9-w0')


def test_op_sets():
    assert RandAugment().ops == RAND_INCREASING_OPS
    assert RandAugment('rand-m9-mstd0.5').ops == RAND_OPS
    assert len(RAND_OPS) == len(RAND_INCREASING_OPS) == 15
    with pytest.raises(ValueError, match='unknown ops'):
        RandAugment(ops=('Cutout', ))


@pytest.mark.parametrize('name', sorted(set(RAND_OPS + RAND_INCREASING_OPS)))
def test_every_op_keeps_frames_consistent(name):
    random.seed(1)
    t = RandAugment('rand-m9-n1-mstd0.5', prob=1.0, ops=(name, ))
    out = t.transform(dict(imgs=frames()))['imgs']
    assert len(out) == 2
    assert out[0].shape == (24, 20, 3) and out[0].dtype == np.uint8
    # the same op and magnitude hit every frame of a clip
    assert np.array_equal(out[0], out[1])


def test_known_op_values():
    img = frames(1)[0]
    invert = RandAugment('rand-m9-n1', prob=1.0, ops=('Invert', ))
    assert np.array_equal(invert.transform(dict(imgs=[img]))['imgs'][0],
                          255 - img)
    # m10 SolarizeIncreasing: threshold 0, every pixel inverted
    sol = RandAugment('rand-m10-n1', prob=1.0, ops=('SolarizeIncreasing', ))
    assert np.array_equal(sol.transform(dict(imgs=[img]))['imgs'][0],
                          255 - img)
    # m0 Rotate: no rotation at all
    rot = RandAugment('rand-m0-n1', prob=1.0, ops=('Rotate', ))
    assert np.array_equal(rot.transform(dict(imgs=[img]))['imgs'][0], img)


def test_prob_zero_is_identity_and_seeded_runs_repeat():
    clip = frames()
    same = RandAugment(prob=0.0).transform(dict(imgs=list(clip)))['imgs']
    assert all(np.array_equal(a, b) for a, b in zip(same, clip))
    t = RandAugment()
    outs = []
    for _ in range(2):
        random.seed(123)
        outs.append(t.transform(dict(imgs=frames()))['imgs'][0])
    assert np.array_equal(outs[0], outs[1])


def test_bad_input():
    with pytest.raises(KeyError, match='imgs'):
        RandAugment(prob=1.0).transform(dict(img=frames(1)[0]))
    with pytest.raises(ValueError, match='uint8'):
        RandAugment('rand-m9-n1', prob=1.0, ops=('Invert', )).transform(
            dict(imgs=[frames(1)[0].astype(np.float32)]))
