"""MOTChallenge tracking ground truth: one sequence folder per clip and camera.

    mot/
      clip000000-left/
        seqinfo.ini          name, frameRate, seqLength, imWidth, imHeight, imExt
        gt/gt.txt            frame, id, x, y, w, h, conf, class, visibility (one line per box)
        img1/000001.png      links to the dataset's images, frames numbered from 1

``id`` is the object's instance id, the same over the clip (and in every camera of a rig); ``conf`` is 1,
or 0 for ignore regions (MOT evaluation leaves those out); ``class`` is the category id; ``visibility``
the visible share of the object (1 without amodal labels). Scenes without ``sequence:`` give one-frame
sequences.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from simgen.fileio import link_image, write_text_atomic
from simgen.labels import ImageRecord
from simgen.writers.base import LabelSet, WriteOptions, Writer, by_index, staged_folder


def sequence_name(record: ImageRecord) -> str:
    camera = record.rig["name"] if record.rig else "camera"
    return f"clip{record.clip:06d}-{camera}"


def gt_lines(record: ImageRecord) -> Iterable[str]:
    frame = record.frame + 1
    for inst in record.instances:
        x, y, w, h = inst.bbox
        visibility = 1.0 if inst.visibility is None else inst.visibility
        conf = 0 if inst.iscrowd else 1
        box = f"{x:g},{y:g},{w:g},{h:g}"
        yield f"{frame},{inst.instance_id},{box},{conf},{inst.category_id},{visibility:.6g}\n"


def seqinfo(name: str, record: ImageRecord, length: int, ext: str) -> str:
    fps = (record.sequence or {}).get("fps") or 1
    return (
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps:g}\nseqLength={length}\n"
        f"imWidth={record.width}\nimHeight={record.height}\nimExt={ext}\n"
    )


class MotWriter(Writer):
    name = "mot"
    summary = "MOTChallenge gt.txt + seqinfo.ini per clip and camera (track ids stable over each clip)"
    default_out = "mot"

    def write(self, labels: LabelSet, out: Path, options: WriteOptions) -> list[Path]:
        with staged_folder(out) as staging:
            lines: dict[str, list[str]] = {}
            first: dict[str, ImageRecord] = {}
            for record in by_index(labels.records):
                name = sequence_name(record)
                first.setdefault(name, record)
                frame = record.frame + 1
                suffix = Path(record.file_name).suffix
                link_image(labels.root / record.file_name, staging / name / "img1" / f"{frame:06d}{suffix}")
                lines.setdefault(name, []).extend(gt_lines(record))
            for name, record in first.items():
                length = (record.sequence or {}).get("frames") or 1
                ext = Path(record.file_name).suffix
                write_text_atomic(staging / name / "seqinfo.ini", seqinfo(name, record, length, ext))
                write_text_atomic(staging / name / "gt" / "gt.txt", "".join(lines[name]))
        return [out]
