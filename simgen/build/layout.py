"""Where a dataset's files go inside its output folder.

config.yaml          resolved config (defaults filled, asset paths absolute)
config.hash          which config the folder belongs to
images/000000.png    RGB
instances/000000.png uint16 instance ids (0 = background)       [outputs.instances]
semantic/000000.png  uint16 category ids (0 = background)       [outputs.semantic]
depth/000000.exr     float32 meters along the optical axis       [outputs.depth]
normals/000000.exr   float32 camera-space normals                [outputs.normals]
records/000000.json  labels + sampled FrameSpec + timings; written last, so it marks the image done
annotations.json     COCO, merged from the records once every image is done
manifest.json        provenance: versions, device, config hash, per-image seed and timing
"""

from __future__ import annotations

from pathlib import Path


def frame_stem(index: int) -> str:
    return f"{index:06d}"


def record_path(out_dir: Path, index: int) -> Path:
    return out_dir / "records" / f"{frame_stem(index)}.json"
