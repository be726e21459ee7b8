"""Label rules computed from an object's final pose (after sampling and physics), never hard-coded.

die_face_up: the category of a die is the number on the face pointing towards world +Z. The die
generator's layout is +Z → 1, -Z → 6, +X → 2, -X → 5, +Y → 3, -Y → 4 (opposite faces sum to 7).
"""

from __future__ import annotations

import numpy as np

from simgen.config.schema import RULE_CATEGORIES
from simgen.spec import FrameSpec, euler_xyz_to_matrix

DIE_FACE_BY_AXIS = {(2, 1): 1, (2, -1): 6, (0, 1): 2, (0, -1): 5, (1, 1): 3, (1, -1): 4}


def die_face_up(rotation_deg: tuple[float, float, float]) -> int:
    """The pip count on the face whose outward normal is closest to world +Z."""
    up_in_object = euler_xyz_to_matrix(rotation_deg).T @ np.array([0.0, 0.0, 1.0])
    axis = int(np.argmax(np.abs(up_in_object)))
    return DIE_FACE_BY_AXIS[(axis, 1 if up_in_object[axis] > 0 else -1)]


def apply_category_rules(spec: FrameSpec, category_names: list[str]) -> None:
    """Set category and category_id of every object whose category follows a rule, from its pose."""
    ids = {name: i + 1 for i, name in enumerate(category_names)}
    for obj in spec.objects:
        if obj.category_rule == "die_face_up":
            name = RULE_CATEGORIES["die_face_up"][die_face_up(obj.rotation_deg) - 1]
            obj.category, obj.category_id = name, ids[name]
