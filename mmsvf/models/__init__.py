# Copyright (c) mmsvf contributors. All rights reserved.
from .neurons import *  # noqa: F401,F403
