"""Package layout: one import name, ``gatewaysim``, over the repository's top-level folders.

The repository keeps ``simulator/``, ``models/`` and ``properties/`` at the top, where a reader
looks for them; they install as ``gatewaysim.simulator``, ``gatewaysim.models`` and
``gatewaysim.properties``, so nothing we ship collides with a user's own ``models`` package.
Every other setting lives in ``pyproject.toml``; only this mapping needs code, because the
sub-packages under each folder (a new pack, say) are found, not listed.
"""

from setuptools import find_packages, setup

ROOTS = {
    "gatewaysim": "gatewaysim",
    "gatewaysim.simulator": "simulator",
    "gatewaysim.models": "models",
    "gatewaysim.properties": "properties",
}

packages: list[str] = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir=ROOTS,
    # py.typed marks the distribution as typed; each pack ships its README.
    package_data={"": ["py.typed", "README.md", "*.schema.json", "equivalent_mutants.json"]},
)
