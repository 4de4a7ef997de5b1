"""The files of a model directory (the seed's model contract), without importing MXNet.

``model-symbol.json`` + ``model-0000.params`` (written by ``net.export``),
``classes.txt`` and, written by ``python -m model export``, ``manifest.json``.
In ``model.tar.gz`` the manifest is ``model-manifest.json``: Multi Model Server,
which serves the archive in AWS's MXNet container, takes a ``manifest.json`` at
the archive's root for its own (legacy) model manifest and stops at start
(``NullPointerException ... LegacyManifest.migrate``).
"""

SYMBOL_FILE = "model-symbol.json"
PARAMS_FILE = "model-0000.params"
CLASSES_FILE = "classes.txt"
MANIFEST_FILE = "manifest.json"
#: The manifest's name inside model.tar.gz (see above).
ARCHIVE_MANIFEST_FILE = "model-manifest.json"
