# Copyright (c) mmsvf contributors. All rights reserved.
import datetime
import importlib
import warnings

from mmengine import DefaultScope

#: modules whose import registers every mmsvf type
MMSVF_MODULES = ('mmsvf.models', 'mmsvf.datasets', 'mmsvf.evaluation',
                 'mmsvf.engine', 'mmsvf.visualization')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmsvf's modules (and make ``mmsvf`` the default scope).

    Upstream toolboxes register themselves lazily through the ``locations=``
    of their own registries, so only mmsvf's modules are imported here.

    Args:
        init_default_scope (bool): Whether to set ``mmsvf`` as the default
            scope (a unique instance name is used when another scope is
            current, as mmdet/mmyolo do).
    """
    for name in MMSVF_MODULES:
        importlib.import_module(name)
    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('mmsvf')
        if never_created:
            DefaultScope.get_instance('mmsvf', scope_name='mmsvf')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmsvf':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmsvf", '
                          '`register_all_modules` will force the current '
                          'default scope to be "mmsvf".')
            new_instance_name = f'mmsvf-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmsvf')
