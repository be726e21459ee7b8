"""Asset files a config points at: image folders (textures, HDRs, backplates) and mesh suffixes."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".hdr", ".tif", ".tiff")
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".gltf", ".glb")


def list_images(path: str | Path) -> list[Path]:
    """Image files directly in a folder (sorted, so choices are reproducible), or the file itself."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def first_image(path: str | None) -> str | None:
    """The image a folder choice settles on when it is not randomized: the first in sorted order."""
    if path is None:
        return None
    files = list_images(path)
    return str(files[0]) if files else path
