"""A back-end for fault-injection tests: the Blender back-end, but the worker dies once at one image.

Used through the back-end switch every worker honours:
    SIMGEN_BACKEND=faulty_backend:CrashOnceBackend  SIMGEN_TEST_CRASH=INDEX:MARKER
(with this folder on PYTHONPATH). The first worker to render image INDEX creates MARKER and exits hard
(no cleanup, like a segfault or an OOM kill); later attempts find MARKER and render normally.
"""

from __future__ import annotations

import os
from typing import Any

from simgen.backend.blender import BlenderBackend


class CrashOnceBackend(BlenderBackend):
    def render(self, spec: Any) -> Any:
        target, _, marker = os.environ.get("SIMGEN_TEST_CRASH", "").partition(":")
        if target == str(spec.index):
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os._exit(70)
        return super().render(spec)
