# Copyright (c) mmsvf contributors. All rights reserved.
