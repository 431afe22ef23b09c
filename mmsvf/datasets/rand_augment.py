# Copyright (c) mmsvf contributors. All rights reserved.
"""timm-style RandAugment for mmaction pipelines (``imgs`` frame lists).

Meta-SpikeFormer trains ImageNet with timm's ``rand-m9-mstd0.5-inc1``
(Meta-SpikeFormer's main_finetune.py). mmaction has no RandAugment, and the
OpenMMLab toolbox that has one (mmpretrain) cannot be imported on the pinned
stack (torchvision), so the policy is implemented here after timm's definition:
15 PIL operations, two drawn per image (with replacement), each applied with
probability 0.5 at a magnitude drawn from N(m, mstd) clipped to [0, 10];
``inc1`` selects the variants whose strength grows with the magnitude.
"""
import random
import re
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageEnhance, ImageOps

from mmsvf.registry import TRANSFORMS

__all__ = ['RandAugment', 'parse_rand_augment_policy']

_LEVEL_MAX = 10.0
_INTERP = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC,
           'nearest': Image.NEAREST}

#: ``inc0`` op set (timm ``_RAND_TRANSFORMS``)
RAND_OPS = ('AutoContrast', 'Equalize', 'Invert', 'Rotate', 'Posterize',
            'Solarize', 'SolarizeAdd', 'Color', 'Contrast', 'Brightness',
            'Sharpness', 'ShearX', 'ShearY', 'TranslateXRel',
            'TranslateYRel')
#: ``inc1`` op set (timm ``_RAND_INCREASING_TRANSFORMS``)
RAND_INCREASING_OPS = ('AutoContrast', 'Equalize', 'Invert', 'Rotate',
                       'PosterizeIncreasing', 'SolarizeIncreasing',
                       'SolarizeAdd', 'ColorIncreasing', 'ContrastIncreasing',
                       'BrightnessIncreasing', 'SharpnessIncreasing',
                       'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel')


def parse_rand_augment_policy(policy: str) -> Dict:
    """Parse a timm RandAugment string such as ``'rand-m9-mstd0.5-inc1'``.

    Sections: ``m`` magnitude (int), ``n`` ops per image, ``mstd`` magnitude
    std (> 100 means uniform in [0, m]), ``mmax`` magnitude upper bound,
    ``inc`` increasing-severity op set (0/1).

    Args:
        policy (str): The policy string (must start with ``rand``).

    Returns:
        dict: ``magnitude``, ``num_ops``, ``magnitude_std``,
        ``magnitude_max``, ``increasing``.
    """
    parts = policy.split('-')
    if parts[0] != 'rand':
        raise ValueError(f"RandAugment policy must start with 'rand', got "
                         f'{policy!r}')
    out = dict(magnitude=10.0, num_ops=2, magnitude_std=0.0,
               magnitude_max=_LEVEL_MAX, increasing=False)
    for part in parts[1:]:
        match = re.fullmatch(r'([a-z]+)(\d.*)', part)
        if not match:
            raise ValueError(f'RandAugment policy {policy!r}: cannot parse '
                             f'section {part!r}')
        key, val = match.groups()
        if key == 'm':
            out['magnitude'] = float(int(val))
        elif key == 'n':
            out['num_ops'] = int(val)
        elif key == 'mstd':
            std = float(val)
            out['magnitude_std'] = float('inf') if std > 100 else std
        elif key == 'mmax':
            out['magnitude_max'] = float(int(val))
        elif key == 'inc':
            out['increasing'] = bool(int(val))
        else:
            raise ValueError(f'RandAugment policy {policy!r}: unknown '
                             f'section {key!r} (known: m, n, mstd, mmax, '
                             'inc)')
    return out


def _negate(v):
    return -v if random.random() > 0.5 else v


def _enhance(level):
    return (level / _LEVEL_MAX) * 1.8 + 0.1


def _enhance_increasing(level):
    return max(0.1, 1.0 + _negate((level / _LEVEL_MAX) * 0.9))


def _level_args(name, level, translate_pct):
    """Random arguments of op ``name`` at ``level`` (drawn once per clip)."""
    if name == 'Rotate':
        return (_negate(level / _LEVEL_MAX * 30.0), )
    if name in ('ShearX', 'ShearY'):
        return (_negate(level / _LEVEL_MAX * 0.3), )
    if name in ('TranslateXRel', 'TranslateYRel'):
        return (_negate(level / _LEVEL_MAX * translate_pct), )
    if name == 'Posterize':
        return (int(level / _LEVEL_MAX * 4), )
    if name == 'PosterizeIncreasing':
        return (4 - int(level / _LEVEL_MAX * 4), )
    if name == 'Solarize':
        return (int(level / _LEVEL_MAX * 256), )
    if name == 'SolarizeIncreasing':
        return (256 - int(level / _LEVEL_MAX * 256), )
    if name == 'SolarizeAdd':
        return (int(level / _LEVEL_MAX * 110), )
    if name in ('Color', 'Contrast', 'Brightness', 'Sharpness'):
        return (_enhance(level), )
    if name.endswith('Increasing'):
        return (_enhance_increasing(level), )
    return ()


def _solarize_add(img, add, thresh=128):
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def _apply(img, name, args, fill, resample):
    """Apply op ``name`` to a PIL image."""
    affine = dict(fillcolor=fill, resample=resample)
    w, h = img.size
    if name == 'AutoContrast':
        return ImageOps.autocontrast(img)
    if name == 'Equalize':
        return ImageOps.equalize(img)
    if name == 'Invert':
        return ImageOps.invert(img)
    if name == 'Rotate':
        return img.rotate(args[0], **affine)
    if name == 'ShearX':
        return img.transform(img.size, Image.AFFINE,
                             (1, args[0], 0, 0, 1, 0), **affine)
    if name == 'ShearY':
        return img.transform(img.size, Image.AFFINE,
                             (1, 0, 0, args[0], 1, 0), **affine)
    if name == 'TranslateXRel':
        return img.transform(img.size, Image.AFFINE,
                             (1, 0, args[0] * w, 0, 1, 0), **affine)
    if name == 'TranslateYRel':
        return img.transform(img.size, Image.AFFINE,
                             (1, 0, 0, 0, 1, args[0] * h), **affine)
    if name.startswith('Posterize'):
        return img if args[0] >= 8 else ImageOps.posterize(img, args[0])
    if name.startswith('Solarize') and name != 'SolarizeAdd':
        return ImageOps.solarize(img, args[0])
    if name == 'SolarizeAdd':
        return _solarize_add(img, args[0])
    enhancer = {
        'Color': ImageEnhance.Color,
        'Contrast': ImageEnhance.Contrast,
        'Brightness': ImageEnhance.Brightness,
        'Sharpness': ImageEnhance.Sharpness
    }[name.replace('Increasing', '')]
    return enhancer(img).enhance(args[0])


@TRANSFORMS.register_module()
class RandAugment(BaseTransform):
    """timm's RandAugment on every frame of ``results['imgs']``.

    The ops, their on/off draws and magnitudes are drawn once per sample and
    applied to all its frames, so a clip stays temporally consistent (an
    image clip is one frame anyway).

    Required keys: ``imgs`` (list of ``H×W×3`` uint8 RGB arrays).
    Modified keys: ``imgs``.

    Args:
        policy (str): timm policy string. Defaults to
            ``'rand-m9-mstd0.5-inc1'`` (Meta-SpikeFormer's).
        prob (float): Probability of applying each drawn op. Defaults to 0.5.
        fill (Sequence[int]): Fill colour of geometric ops (timm uses the
            dataset mean × 255). Defaults to ImageNet's (124, 116, 104).
        interpolation (str): ``'bicubic'`` (Meta-SpikeFormer), ``'bilinear'``
            or ``'random'`` (one of both per op). Defaults to ``'bicubic'``.
        translate_pct (float): Largest translation, a fraction of the image
            size. Defaults to 0.45.
        ops (Sequence[str], optional): Override the op set.
    """

    def __init__(self,
                 policy: str = 'rand-m9-mstd0.5-inc1',
                 prob: float = 0.5,
                 fill: Sequence[int] = (124, 116, 104),
                 interpolation: str = 'bicubic',
                 translate_pct: float = 0.45,
                 ops: Optional[Sequence[str]] = None) -> None:
        cfg = parse_rand_augment_policy(policy)
        self.policy = policy
        self.magnitude = cfg['magnitude']
        self.num_ops = cfg['num_ops']
        self.magnitude_std = cfg['magnitude_std']
        self.magnitude_max = cfg['magnitude_max']
        self.ops = tuple(ops) if ops is not None else (
            RAND_INCREASING_OPS if cfg['increasing'] else RAND_OPS)
        known = set(RAND_OPS) | set(RAND_INCREASING_OPS)
        unknown = [o for o in self.ops if o not in known]
        if unknown:
            raise ValueError(f'RandAugment: unknown ops {unknown}; known: '
                             f'{sorted(known)}')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'RandAugment: prob must be in [0, 1], got '
                             f'{prob}')
        if interpolation not in ('bicubic', 'bilinear', 'nearest', 'random'):
            raise ValueError("RandAugment: interpolation must be 'bicubic', "
                             "'bilinear', 'nearest' or 'random', got "
                             f'{interpolation!r}')
        self.prob = prob
        self.fill = tuple(int(c) for c in fill)
        self.interpolation = interpolation
        self.translate_pct = translate_pct

    def _magnitude(self):
        m = self.magnitude
        if self.magnitude_std == float('inf'):
            m = random.uniform(0, m)
        elif self.magnitude_std > 0:
            m = random.gauss(m, self.magnitude_std)
        return max(0.0, min(m, self.magnitude_max))

    def sample_ops(self):
        """Draw the ops of one sample: list of ``(name, args, resample)``."""
        chosen = []
        for _ in range(self.num_ops):
            name = self.ops[random.randrange(len(self.ops))]
            if self.prob < 1.0 and random.random() > self.prob:
                continue
            args = _level_args(name, self._magnitude(), self.translate_pct)
            if self.interpolation == 'random':
                resample = random.choice((Image.BILINEAR, Image.BICUBIC))
            else:
                resample = _INTERP[self.interpolation]
            chosen.append((name, args, resample))
        return chosen

    def transform(self, results: Dict) -> Dict:
        """Augment ``results['imgs']``."""
        imgs = results.get('imgs')
        if not isinstance(imgs, (list, tuple)) or not imgs:
            raise KeyError("RandAugment needs results['imgs'] (a list of "
                           'H×W×3 uint8 frames, e.g. from ImageDecode)')
        chosen = self.sample_ops()
        if not chosen:
            return results
        out = []
        for frame in imgs:
            if frame.dtype != np.uint8 or frame.ndim != 3 \
                    or frame.shape[2] != 3:
                raise ValueError('RandAugment works on H×W×3 uint8 frames; '
                                 f'got {frame.dtype} {frame.shape}')
            img = Image.fromarray(frame)
            for name, args, resample in chosen:
                img = _apply(img, name, args, self.fill, resample)
            out.append(np.asarray(img, dtype=np.uint8).copy())
        results['imgs'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(policy={self.policy!r}, '
                f'prob={self.prob}, fill={self.fill}, '
                f'interpolation={self.interpolation!r})')
