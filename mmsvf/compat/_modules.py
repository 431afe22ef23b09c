# Copyright (c) mmsvf contributors. All rights reserved.
"""Probes and stand-in modules shared by the workarounds of this package."""
import importlib.machinery
import importlib.util
import types

__all__ = ['package_dir', 'placeholder_module']


def package_dir(name):
    """Folder of an installed package, or None when it is not installed.

    Found through the import system without importing the package, so a
    probe never triggers the failing upstream import it guards against.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def placeholder_module(name, doc, attrs=None, package=False):
    """An empty module object, marked ``__mmsvf_placeholder__``.

    Args:
        name (str): Full module name.
        doc (str): Its docstring.
        attrs (dict, optional): Attributes to set on it.
        package (bool): Give it an empty ``__path__`` (a package).

    Returns:
        types.ModuleType: The module (not yet in ``sys.modules``).
    """
    module = types.ModuleType(name, doc)
    # a real spec with a None loader: importlib and ``pkgutil.find_loader``
    # treat it as a module without a loader instead of failing on it
    module.__spec__ = importlib.machinery.ModuleSpec(
        name, None, is_package=package)
    if package:
        module.__path__ = []
    module.__mmsvf_placeholder__ = True
    for key, value in (attrs or {}).items():
        setattr(module, key, value)
    return module
