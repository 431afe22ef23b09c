# Copyright (c) mmsvf contributors. All rights reserved.
"""mmsvf registries: scope ``mmsvf``, children of MMEngine's root registries.

Types registered here build from any OpenMMLab scope as ``'mmsvf.Name'``;
mmsvf-scoped configs reach upstream types as ``'mmaction.X'``, ``'mmseg.X'`` or
``'mmpose.X'`` (use ``_scope_`` on a component whose *nested* parts must also
come from upstream; a type prefix does not carry to nested builds). The whole
policy is in docs/registry_and_scope.md; :func:`scoped` applies it where a
module builds its nested parts.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import (
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS,
)
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS,
                  locations=['mmsvf.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          locations=['mmsvf.models'])
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMENGINE_WEIGHT_INITIALIZERS,
                               locations=['mmsvf.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS,
                    locations=['mmsvf.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         locations=['mmsvf.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS,
                      locations=['mmsvf.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS,
                   locations=['mmsvf.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR,
                     locations=['mmsvf.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmsvf.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['mmsvf.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS,
                      locations=['mmsvf.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS,
                          locations=['mmsvf.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmsvf.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMENGINE_PARAM_SCHEDULERS,
                            locations=['mmsvf.engine'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       locations=['mmsvf.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       locations=['mmsvf.visualization'])

#: the scope of every registry above (the package name, as mmengine infers)
MMSVF_SCOPE = 'mmsvf'


def scoped(cfg, scope=MMSVF_SCOPE):
    """A copy of a nested component's config that builds in ``scope``.

    The one rule of docs/registry_and_scope.md for nested builds: a type
    prefix (``'mmsvf.X'``) does not carry its scope to the parts a component
    builds itself, so a component that builds parts from config names their
    scope with ``_scope_``: ``'mmsvf'`` for mmsvf parts (neurons, heads,
    data preprocessors), the upstream scope for upstream parts (e.g.
    ``'mmaction'`` for mmaction's losses). A ``_scope_`` the user gave wins;
    prefixed types (``'mmpose.X'``) still resolve in their own scope.

    Args:
        cfg (dict): The part's config (not modified).
        scope (str): Scope for its unprefixed types. Defaults to ``'mmsvf'``.

    Returns:
        dict: A shallow copy with ``_scope_`` set unless it had one.
    """
    cfg = dict(cfg)
    cfg.setdefault('_scope_', scope)
    return cfg
