"""Counter-based random streams: every config field of image i draws from its own generator.

A stream is seeded by (dataset seed, image index, field path), so image i depends only on (seed, i): it
can be re-rendered alone, shards need no order, and switching one randomizer off leaves every other
field's draws unchanged. Randomizers, generators and the sampler all draw through a ``Sampler``.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from simgen.config.distributions import _Dist, sample_color, sample_rotation, sample_value

Vec3 = tuple[float, float, float]


def image_seed(dataset_seed: int, index: int) -> int:
    """A 31-bit seed for image ``index`` (also Cycles' noise seed), stable across machines."""
    return int(np.random.SeedSequence([dataset_seed, index]).generate_state(1)[0] & 0x7FFFFFFF)


class Sampler:
    """Draws config values for one image; each field path gets an independent, reproducible stream.

    Paths of per-instance fields look like ``objects[2]#1.material.base_color``; a distribution marked
    ``per: image`` drops the ``#k`` so all instances of the entry share one draw.
    """

    def __init__(self, dataset_seed: int, index: int, attempt: int = 0) -> None:
        self.dataset_seed = dataset_seed
        self.index = index
        self.attempt = attempt  # > 0: a redraw of the image (camera.min_objects_in_view)

    def rng(self, path: str) -> np.random.Generator:
        key = zlib.crc32(path.encode("utf-8"))
        entropy = [self.dataset_seed, self.index, key] + ([self.attempt] if self.attempt else [])
        return np.random.default_rng(np.random.SeedSequence(entropy))

    def _path(self, path: str, value: Any) -> str:
        if _shared_per_image(value) and "#" in path:
            head, _, tail = path.partition("#")
            return head + tail[tail.find(".") :] if "." in tail else head
        return path

    def value(self, path: str, value: Any) -> Any:
        return sample_value(value, self.rng(self._path(path, value)))

    def float(self, path: str, value: Any) -> float:
        return float(self.value(path, value))

    def vec3(self, path: str, value: Any) -> Vec3:
        drawn = self.value(path, value)
        return (float(drawn[0]), float(drawn[1]), float(drawn[2]))

    def color(self, path: str, value: Any) -> Vec3:
        return sample_color(value, self.rng(self._path(path, value)))

    def rotation(self, path: str, value: Any) -> Vec3:
        return sample_rotation(value, self.rng(self._path(path, value)))

    def index_of(self, path: str, count: int) -> int:
        """A uniform choice among ``count`` options (files of a folder, meshes of a list)."""
        return int(self.rng(path).integers(count))


def _shared_per_image(value: Any) -> bool:
    if isinstance(value, _Dist):
        return value.per == "image"
    if isinstance(value, list | tuple):
        return any(_shared_per_image(v) for v in value)
    return False
