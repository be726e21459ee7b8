"""Checking the files a config points at before anything renders: images decode, meshes are meshes.

Without these checks a corrupt texture renders as Blender's magenta, a truncated HDR as a black world,
and a 0-byte or garbage mesh fails half-way into a build. Images are decoded with OpenCV (EXR headers
with OpenEXR). Meshes are read with trimesh, which also gives their bounds without Blender, for the dry
draw of ``simgen validate``. Results are cached per (path, size, mtime) within a process.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from simgen.config.files import list_images

Y_UP_FORMATS = (
    ".obj",
    ".gltf",
    ".glb",
)  # Blender's importers turn these Y-up files Z-up: (x, y, z) → (x, -z, y)


def image_problem(path: str | Path) -> str | None:
    """Why an image file cannot be used (None if it decodes)."""
    path = Path(path)
    stat = path.stat()
    return _image_problem(str(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _image_problem(path: str, size: int, mtime: int) -> str | None:
    if size == 0:
        return "is an empty file"
    if path.lower().endswith(".exr"):
        return _exr_problem(path)
    import cv2

    cv2.setLogLevel(0)  # silent: the message below says what is wrong
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return "is not a readable image (corrupt, truncated or not an image)"
    return None


def _exr_problem(path: str) -> str | None:
    import OpenEXR

    try:
        with OpenEXR.File(path, separate_channels=True) as exr:
            if not any(part.channels for part in exr.parts):
                return "is an EXR file without channels"
    except Exception:  # OpenEXR raises assorted plain exceptions for broken files
        return "is not a readable EXR file (corrupt or truncated)"
    return None


def folder_problems(path: str | Path, field: str) -> list[str]:
    """One message per unreadable image of a file or folder choice."""
    problems = []
    for image in list_images(path):
        reason = image_problem(image)
        if reason:
            problems.append(f"{field}: {image} {reason}")
    return problems


def mesh_problem(path: str | Path) -> str | None:
    """Why a mesh file cannot be used (None if it holds triangles)."""
    try:
        bounds = mesh_file_bounds(str(path))
    except ValueError as exc:
        return str(exc)
    return None if bounds is not None else "holds no mesh geometry"


def mesh_file_bounds(path: str) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """(center, half extents) of a mesh file as Blender will import it (Y-up formats turned Z-up)."""
    stat = os.stat(path)
    return _mesh_bounds(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _mesh_bounds(
    path: str, size: int, mtime: int
) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    if size == 0:
        raise ValueError("is an empty file")
    import trimesh

    suffix = Path(path).suffix.lower()
    try:
        mesh = trimesh.load(path, force="mesh", process=False, file_type=suffix.lstrip(".") or None)
    except Exception as exc:  # trimesh raises whatever its parsers raise on garbage
        raise ValueError(f"is not a readable {suffix or 'mesh'} file ({type(exc).__name__}: {exc})") from None
    vertices = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))), dtype=float)
    if len(vertices) == 0 or len(getattr(mesh, "faces", ())) == 0:
        return None
    if not np.isfinite(vertices).all():
        raise ValueError("has vertices that are not finite numbers")
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    if Path(path).suffix.lower() in Y_UP_FORMATS:
        lo, hi = np.array([lo[0], -hi[2], lo[1]]), np.array([hi[0], -lo[2], hi[1]])
    center, half = (lo + hi) / 2, (hi - lo) / 2
    return (tuple(map(float, center)), tuple(map(float, half)))  # type: ignore[return-value]
