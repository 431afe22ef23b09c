# Copyright (c) mmsvf contributors. All rights reserved.
from .annotation_checks import *  # noqa: F401,F403
from .audio_transforms import *  # noqa: F401,F403
from .checked_video_dataset import *  # noqa: F401,F403
from .clip_sampling import *  # noqa: F401,F403
from .clip_seg_transforms import *  # noqa: F401,F403
from .image_folder_dataset import *  # noqa: F401,F403
from .mmhpsd import *  # noqa: F401,F403
from .pose_transforms import *  # noqa: F401,F403
from .rand_augment import *  # noqa: F401,F403
from .video_seg_dataset import *  # noqa: F401,F403
