"""Atomic file writes (temp file + fsync + rename) so a killed build never leaves a half-written file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np
import OpenEXR

from simgen.errors import SimgenError

SPECIAL_ROOTS = ("/proc", "/sys", "/dev")


def check_output_dir(out: str | Path, option: str = "--out") -> Path:
    """``out`` as a folder simgen can create and write in, or one clear error naming ``option`` (before
    anything runs: a bad output path found after minutes of work loses them)."""
    text = str(out)
    if not text.strip():
        raise SimgenError(f"{option}: the output folder is an empty path")
    path = Path(os.path.abspath(text))
    if any(path == Path(root) or Path(root) in path.parents for root in SPECIAL_ROOTS):
        raise SimgenError(
            f"{option} {text}: {path} is a system folder (devices or kernel files), not a place for a dataset"
        )
    if path.exists() and not path.is_dir():
        raise SimgenError(f"{option} {text}: {path} is a file, not a folder")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise SimgenError(f"{option} {text}: {existing} is a file, so no folder can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SimgenError(f"{option} {text}: no permission to write in {existing}")
    return path


def check_output_file(out: str | Path, option: str = "--out", example: str = "out.json") -> Path:
    """``out`` as a file simgen can write (its folder exists or can be made), or one clear error naming
    ``option``; ``example`` is the file name suggested when ``out`` is a folder."""
    path = Path(os.path.abspath(str(out)))
    if path.is_dir():
        raise SimgenError(f"{option} {out}: is a folder; give the file to write, e.g. {path / example}")
    existing = next(p for p in path.parents if p.exists())
    if not existing.is_dir():
        raise SimgenError(f"{option} {out}: {existing} is a file, so nothing can be written under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SimgenError(f"{option} {out}: no permission to write in {existing}")
    return path


def json_digest(value: Any) -> str:
    """A short, stable digest of JSON-able data (key order does not matter): the fingerprints that
    decide whether stored results (an eval run, a tuning study) belong to the inputs at hand."""
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def _publish(tmp: str, path: Path) -> None:
    """Give the temp file normal permissions (mkstemp makes it 0600) and rename it into place."""
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    with _atomic_file(path, "wb") as handle:
        handle.write(data)


def atomic_writer(path: str | Path) -> contextlib.AbstractContextManager[TextIO]:
    """A text file written in pieces (bounded memory) and published whole at the end, or not at all."""
    return _atomic_file(path, "w")


@contextlib.contextmanager
def _atomic_file(path: str | Path, mode: str) -> Iterator[Any]:
    """A temp file next to ``path``, fsynced and renamed over it on success, removed on any failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def compact_json(value: Any) -> str:
    """One JSON value as ``write_json_atomic`` writes it; ValueError for NaN or infinity."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise ValueError("a value is not a finite number (NaN or infinity)") from None


def write_json_atomic(path: str | Path, data: Any, indent: int | None = None) -> None:
    """Valid JSON only: a NaN or infinity anywhere is an error, never a bare ``NaN`` in the file."""
    try:
        text = json.dumps(data, indent=indent, separators=None if indent else (",", ":"), allow_nan=False)
    except ValueError:
        raise SimgenError(
            f"{path}: refusing to write a value that is not a finite number (NaN or infinity)"
        ) from None
    write_text_atomic(path, text)


def write_image_atomic(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an RGB uint8 (H x W x 3) or a uint8/uint16 single-channel image; format from the suffix."""
    write_bytes_atomic(path, encode_image(path, image, jpeg_quality))


def encode_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> bytes:
    """An image's file bytes, format from the suffix of ``path`` (in memory, so a worker can ship them)."""
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
    return encoded.tobytes()


def encode_exr(channels: dict[str, np.ndarray]) -> bytes:
    """float32 channels (e.g. {"Z": depth}) as the bytes of a ZIP-compressed single-part EXR."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    data = {name: np.ascontiguousarray(arr, dtype=np.float32) for name, arr in channels.items()}
    stream = io.BytesIO()
    with OpenEXR.File(header, data) as exr:
        exr.write(stream)
    return stream.getvalue()


def read_image(path: str | Path, unchanged: bool = False) -> np.ndarray:
    """Read an image (RGB order for color images); a clear error for missing or corrupt files."""
    path = Path(path)
    flag = cv2.IMREAD_UNCHANGED if unchanged else cv2.IMREAD_COLOR
    image = cv2.imread(str(path), flag) if path.is_file() else None
    if image is None:
        reason = "file not found" if not path.is_file() else "not a readable image (corrupt or truncated?)"
        raise SimgenError(f"{path}: {reason}")
    return image[:, :, ::-1].copy() if image.ndim == 3 and not unchanged else image


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of an image file from its header (PNG, JPEG), else by decoding; None if unreadable."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:2] == b"\xff\xd8":
        found = _jpeg_size(head)
        if found:
            return found
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return None if image is None else (int(image.shape[1]), int(image.shape[0]))


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's start-of-frame marker (in the first bytes read)."""
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            return int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(
                data[pos + 5 : pos + 7], "big"
            )
        pos += 2 + length
    return None


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


_EXR_MAGIC = b"\x76\x2f\x31\x01"
_EXR_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}


def exr_file_is_complete(path: str | Path) -> bool:
    """True if an EXR file is whole: every chunk of its offset table lies inside the file, the last one
    ending exactly at the end (catches truncation without decoding, and without OpenEXR's console noise).
    Multi-part, tiled or unknown layouts fall back to decoding every channel."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    try:
        layout = _exr_scanline_layout(data)
    except ValueError:  # the header itself is cut short
        return False
    if layout is None:
        return _exr_decodes(path)
    table, chunks = layout
    if len(data) < table + 8 * chunks:
        return False
    ends = []
    for k in range(chunks):
        offset = int.from_bytes(data[table + 8 * k : table + 8 * k + 8], "little")
        if not table + 8 * chunks <= offset <= len(data) - 8:
            return False
        ends.append(offset + 8 + int.from_bytes(data[offset + 4 : offset + 8], "little", signed=True))
    return max(ends) == len(data) and all(end <= len(data) for end in ends)


def _exr_scanline_layout(data: bytes) -> tuple[int, int] | None:
    """(offset table position, chunk count) of a single-part scanline EXR; None for anything else."""
    if data[:4] != _EXR_MAGIC or len(data) < 8 or int.from_bytes(data[4:8], "little") & 0x1E00:
        return None  # not EXR, or tiled / long names / deep / multi-part
    pos, attrs = 8, {}
    while pos < len(data) and data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        size = int.from_bytes(data[type_end + 1 : type_end + 5], "little")
        attrs[data[pos:name_end]] = data[type_end + 5 : type_end + 5 + size]
        pos = type_end + 5 + size
    window, compression = attrs.get(b"dataWindow", b""), attrs.get(b"compression", b"")
    if pos >= len(data):
        raise ValueError("truncated EXR header")
    if len(window) != 16 or len(compression) != 1:
        return None
    lines = _EXR_LINES_PER_CHUNK.get(compression[0])
    if lines is None:
        return None
    y_min, y_max = (int.from_bytes(window[i : i + 4], "little", signed=True) for i in (4, 12))
    return pos + 1, -(-(y_max - y_min + 1) // lines)


def read_exr_channels(path: str | Path) -> dict[str, np.ndarray]:
    """Every channel of every part of an EXR file, by name; SimgenError naming the file if it does not
    decode (depth, normals, flow and disparity maps, and Blender's multilayer passes)."""
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            return {name: channel.pixels for part in exr.parts for name, channel in part.channels.items()}
    except Exception as exc:  # OpenEXR raises plain exceptions (IndexError, RuntimeError) for broken files
        raise SimgenError(f"{path}: not a readable EXR file ({exc})") from None


def _exr_decodes(path: str | Path) -> bool:
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            return all(c.pixels is not None for part in exr.parts for c in part.channels.values())
    except Exception:  # OpenEXR raises plain exceptions (IndexError, RuntimeError) for broken files
        return False


def link_or_copy_atomic(src: str | Path, dst: str | Path) -> None:
    """Put ``src``'s content at ``dst`` atomically: a hard link when possible (same filesystem), else a copy.

    Safe to hard-link: simgen never writes into an existing file, it replaces it by rename.
    """
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{os.getpid()}.link.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(src, tmp)
    except OSError:  # other filesystem, or links not allowed: copy instead
        write_bytes_atomic(dst, Path(src).read_bytes())
        return
    os.replace(tmp, dst)


def is_temp_name(name: str) -> bool:
    """Names of the temp files above (``.<target>.<random>.tmp[.exr]``), left behind by a killed writer."""
    return name.startswith(".") and (name.endswith(".tmp") or name.endswith(".tmp.exr"))


def link_image(src: Path, dst: Path) -> None:
    """A relative symlink at ``dst`` to ``src`` (a copy where links are unsupported), for export folders."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    try:
        dst.symlink_to(os.path.relpath(src.resolve(), dst.parent.resolve()))
    except OSError:
        shutil.copyfile(src, dst)
