"""Atomic file writes (temp file + fsync + rename) so a killed build never leaves a half-written file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import OpenEXR

from simgen.errors import SimgenError


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, data: Any, indent: int | None = None) -> None:
    write_text_atomic(path, json.dumps(data, indent=indent, separators=None if indent else (",", ":")))


def write_image_atomic(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an RGB uint8 (H x W x 3) or a uint8/uint16 single-channel image; format from the suffix."""
    path = Path(path)
    array = image[:, :, ::-1] if image.ndim == 3 else image  # OpenCV wants BGR
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        if path.suffix.lower() in (".jpg", ".jpeg")
        else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    ok, encoded = cv2.imencode(path.suffix, np.ascontiguousarray(array), params)
    if not ok:
        raise SimgenError(f"{path}: OpenCV could not encode this image")
    write_bytes_atomic(path, encoded.tobytes())


def write_exr_atomic(path: str | Path, channels: dict[str, np.ndarray]) -> None:
    """Write float32 channels (e.g. {"Z": depth}) as a ZIP-compressed single-part EXR."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.exr", dir=path.parent)
    os.close(fd)
    try:
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        data = {name: np.ascontiguousarray(arr, dtype=np.float32) for name, arr in channels.items()}
        with OpenEXR.File(header, data) as exr:
            exr.write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_exr(path: str | Path) -> dict[str, np.ndarray]:
    """All channels of a single- or multi-part EXR as float32 arrays keyed by channel name."""
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            return {n: c.pixels for part in exr.parts for n, c in part.channels.items()}
    except Exception as exc:  # OpenEXR raises plain exceptions for missing/corrupt files
        raise SimgenError(f"{path}: cannot read EXR file: {exc}") from None


def read_image(path: str | Path, unchanged: bool = False) -> np.ndarray:
    """Read an image (RGB order for color images); a clear error for missing or corrupt files."""
    path = Path(path)
    flag = cv2.IMREAD_UNCHANGED if unchanged else cv2.IMREAD_COLOR
    image = cv2.imread(str(path), flag) if path.is_file() else None
    if image is None:
        reason = "file not found" if not path.is_file() else "not a readable image (corrupt or truncated?)"
        raise SimgenError(f"{path}: {reason}")
    return image[:, :, ::-1].copy() if image.ndim == 3 and not unchanged else image


_PNG_END = b"IEND\xaeB`\x82"
_JPEG_END = b"\xff\xd9"


def image_file_is_complete(path: str | Path) -> bool:
    """True if a PNG/JPEG file ends with its format's end marker and decodes (catches truncated files)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            handle.seek(max(0, size - 16))
            tail = handle.read()
    except OSError:
        return False
    suffix = path.suffix.lower()
    if suffix == ".png" and not tail.endswith(_PNG_END):
        return False
    if suffix in (".jpg", ".jpeg") and not tail.rstrip(b"\x00").endswith(_JPEG_END):
        return False
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is not None
