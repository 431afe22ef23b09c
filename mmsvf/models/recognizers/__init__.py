# Copyright (c) mmsvf contributors. All rights reserved.
from .distill_recognizer import (
    DistillRecognizer3D,
    build_teacher,
    hard_distillation_loss,
)

__all__ = ['DistillRecognizer3D', 'build_teacher', 'hard_distillation_loss']
