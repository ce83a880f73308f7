"""Installed package versions, for the records of a run."""

import sys


def module_version(module):
    """str or None. The version of the package imported as `module`.

    Read from the module when it is loaded, else from its installed
    distribution's metadata: recording a version never imports a package
    (importing torch on the jax backend cost about 3 s in every training
    process). None when it is not installed.
    """
    loaded = sys.modules.get(module)
    version = getattr(loaded, "__version__", None)
    if version:
        return str(version)
    from importlib import metadata

    try:
        return metadata.version(module.replace("_", "-"))
    except metadata.PackageNotFoundError:
        pass
    for name in metadata.packages_distributions().get(module, ()):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None
