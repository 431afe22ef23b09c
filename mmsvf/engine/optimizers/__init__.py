# Copyright (c) mmsvf contributors. All rights reserved.
from .lamb import Lamb

__all__ = ['Lamb']
