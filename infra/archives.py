"""Build the deployable archives: ``model.tar.gz`` for SageMaker and the Lambda's zip.

Both are byte-for-byte reproducible (sorted entries, fixed timestamps), so an
unchanged model or handler gives an unchanged asset and ``pulumi up`` has
nothing to do.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess  # nosec B404: runs pip, with a fixed argument list
import sys
import tarfile
import zipfile

from inference.model_files import ARCHIVE_MANIFEST_FILE, CLASSES_FILE, MANIFEST_FILE, PARAMS_FILE, SYMBOL_FILE
from infra.settings import ROOT

BUILD_DIR = os.path.join(ROOT, ".build")
#: Where archives are written instead of .build/ (tests point it at a temporary folder).
BUILD_DIR_ENV = "ACTIVITY_DETECTION_BUILD_DIR"


def build_dir() -> str:
    return os.environ.get(BUILD_DIR_ENV) or BUILD_DIR


#: (file in the model directory, name in model.tar.gz). The manifest is renamed: MMS, AWS's model
#: server, takes a root ``manifest.json`` for its own legacy manifest and stops at start.
MODEL_FILES = (
    (SYMBOL_FILE, SYMBOL_FILE),
    (PARAMS_FILE, PARAMS_FILE),
    (CLASSES_FILE, CLASSES_FILE),
    (MANIFEST_FILE, ARCHIVE_MANIFEST_FILE),
)
#: The module AWS's MXNet container loads (``SAGEMAKER_PROGRAM``), at the top of code/.
ENTRY_MODULE = "sagemaker_entry.py"
#: The shared contracts the endpoint imports (Python 3.8 code; the vermin test covers them).
MODEL_CONTRACTS = ("__init__.py", "mpegts.py", "endpoint.py", "environment.py", "s3keys.py")
FIXED_MTIME = 315532800  # 1980-01-01, the earliest time a zip can hold


#: The model's Python dependencies beyond the container's (see inference/requirements.txt).
REQUIREMENTS = os.path.join(ROOT, "inference", "requirements.txt")
#: Wheels for the container's Python, cached here once fetched (never committed).
WHEELS_DIR_ENV = "ACTIVITY_DETECTION_WHEELS_DIR"
CONTAINER_PYTHON = ("3.8", "manylinux2014_x86_64")


def _package_files(package: str, suffixes: tuple[str, ...] = (".py", ".txt")) -> list[tuple[str, str]]:
    """(path on disk, path in archive) for every file of a package with one of ``suffixes``, sorted."""
    found = []
    base = os.path.join(ROOT, package)
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(suffixes):
                path = os.path.join(folder, name)
                found.append((path, os.path.relpath(path, ROOT)))
    return found


def model_archive_entries(model_dir: str) -> list[tuple[str, str]]:
    """What goes into model.tar.gz: model files at the root, the inference code under code/."""
    entries = []
    for name, archived in MODEL_FILES:
        path = os.path.join(model_dir, name)
        if not os.path.exists(path):
            if name == MANIFEST_FILE:
                continue
            raise FileNotFoundError(
                f"{path} is missing: run `python -m model export --source gluoncv --out {model_dir}` "
                "(or --source params / random, see README)"
            )
        entries.append((path, archived))
    for path, relative in _package_files("inference", (".py",)):
        if os.path.basename(path) != ENTRY_MODULE:
            entries.append((path, "code/" + relative))
    for name in MODEL_CONTRACTS:
        entries.append((os.path.join(ROOT, "contracts", name), "code/contracts/" + name))
    entries.append((os.path.join(ROOT, "inference", ENTRY_MODULE), "code/" + ENTRY_MODULE))
    entries.append((REQUIREMENTS, "code/requirements.txt"))
    for path in vendored_wheels():
        entries.append((path, "code/wheels/" + os.path.basename(path)))
    return entries


def _pinned_requirements() -> list[str]:
    """The requirement lines of inference/requirements.txt (options and comments dropped)."""
    with open(REQUIREMENTS) as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith("-")]


def vendored_wheels() -> list[str]:
    """The wheels ``code/requirements.txt`` installs in the container, fetched once from PyPI.

    For the container's CPython 3.8 on manylinux2014 x86_64, binary only, without
    dependencies (the container has numpy); cached in ``.build/wheels``.
    """
    folder = os.environ.get(WHEELS_DIR_ENV) or os.path.join(BUILD_DIR, "wheels")
    os.makedirs(folder, exist_ok=True)
    wanted = [line.split(";", 1)[0].strip() for line in _pinned_requirements()]
    found = []
    for requirement in wanted:
        name, _, version = requirement.partition("==")
        prefix = f"{name.replace('-', '_')}-{version}-"
        matches = sorted(f for f in os.listdir(folder) if f.startswith(prefix) and f.endswith(".whl"))
        if not matches:
            python_version, platform = CONTAINER_PYTHON
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--python-version", python_version, "--platform", platform, "--dest", folder, requirement],
                check=True,
            )
            matches = sorted(f for f in os.listdir(folder) if f.startswith(prefix) and f.endswith(".whl"))
            if not matches:
                raise FileNotFoundError(f"pip download of {requirement} left no wheel in {folder}")
        found.append(os.path.join(folder, matches[-1]))
    return found


def _fingerprint(entries: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for path, name in entries:
        stat = os.stat(path)
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def build_model_archive(model_dir: str, out_dir: str | None = None) -> str:
    """Write (or reuse) ``model-<fingerprint>.tar.gz`` and return its path."""
    out_dir = out_dir or build_dir()
    entries = model_archive_entries(model_dir)
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"model-{_fingerprint(entries)}.tar.gz")
    if os.path.exists(target):
        return target
    partial = f"{target}.{os.getpid()}.partial"  # concurrent builds (two test runs) never share one
    with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, name in entries:
                info = tar.gettarinfo(path, arcname=name)
                info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
                info.mode = 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
    os.replace(partial, target)
    _prune(out_dir, "model-", target)
    return target


def _prune(out_dir: str, prefix: str, keep: str) -> None:
    """Old archives are dead weight (about 100 MB each for the model): keep the newest only."""
    for name in os.listdir(out_dir):
        path = os.path.join(out_dir, name)
        if name.startswith(prefix) and path != keep and not name.endswith(".partial"):
            os.remove(path)


#: Packages the Lambda imports; its handler is lambdas.validate_segment.handler.handler.
LAMBDA_PACKAGES = ("lambdas", "contracts")
LAMBDA_HANDLER = "lambdas.validate_segment.handler.handler"
#: Pure-Python libraries the Lambda imports beyond the runtime's boto3 and the Powertools layer,
#: copied from this environment (requirements.txt): the m3u8 playlist parser.
LAMBDA_VENDORED = ("m3u8",)


def _vendored_files(package: str) -> list[tuple[str, str]]:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{package} is not installed: pip install -c constraints.txt -r requirements.txt")
    base = list(spec.submodule_search_locations)[0]
    found = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found.append((path, os.path.join(package, os.path.relpath(path, base))))
    return found


def lambda_archive_bytes() -> bytes:
    buffer = io.BytesIO()
    files = [f for package in LAMBDA_PACKAGES for f in _package_files(package)]
    files += [f for package in LAMBDA_VENDORED for f in _vendored_files(package)]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, relative in files:
            info = zipfile.ZipInfo(relative, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())
    return buffer.getvalue()


def build_lambda_archive(out_dir: str | None = None) -> str:
    out_dir = out_dir or build_dir()
    data = lambda_archive_bytes()
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, f"validate-segment-{hashlib.sha256(data).hexdigest()[:16]}.zip")
    if not os.path.exists(target):
        with open(target, "wb") as handle:
            handle.write(data)
        _prune(out_dir, "validate-segment-", target)
    return target
