# Copyright (c) mmsvf contributors. All rights reserved.
from .attention import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .neurons import *  # noqa: F401,F403
from .pose import *  # noqa: F401,F403
from .recognizers import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
