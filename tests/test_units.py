"""The unit registries: every randomizer, generator and writer is one self-contained unit that the
schema, sampler, ablation, docs and CLI all read, and no unit needs Blender to be imported."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

from simgen.config.reference import readme_with_blocks
from simgen.config.schema import SceneConfig
from simgen.generators import REGISTRY as GENERATORS
from simgen.randomizers import REGISTRY as RANDOMIZERS
from simgen.writers import REGISTRY as WRITERS


def test_readme_tables_are_generated_from_the_registries() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme == readme_with_blocks(readme), "regenerate: python -m simgen.config.reference README.md"


def test_every_randomizer_section_is_a_scene_config_field() -> None:
    fields = set(SceneConfig.model_fields)
    for randomizer in RANDOMIZERS.values():
        if randomizer.SECTIONS is not None:
            assert set(randomizer.SECTIONS.model_fields) <= fields, randomizer.name


def test_every_randomizer_documents_itself_and_has_a_demo_scene() -> None:
    for randomizer in RANDOMIZERS.values():
        assert randomizer.summary and randomizer.config_keys and randomizer.off_summary()
        assert randomizer.demo and (ROOT / randomizer.demo).is_file(), randomizer.name


def test_every_generator_is_in_the_schema_and_colors_its_slots_by_name() -> None:
    generator_types = SceneConfig.model_json_schema()["$defs"]
    for generator in GENERATORS.values():
        assert generator.Params.__name__ in generator_types
        assert generator.material_slots[0] == "body"
        for slot, color in generator.slot_colors.items():
            assert slot in generator.material_slots and color in generator.Params.model_fields
        drawn = set(generator.Drawn.__dataclass_fields__) - {"type", "seed"}
        assert drawn == set(generator.Params.model_fields) - {"type"}, generator.name


def test_export_offers_exactly_the_registered_formats() -> None:
    from simgen.cli import build_parser

    parser = build_parser()
    export = parser._subparsers._group_actions[0].choices["export"]  # type: ignore[union-attr]
    choices = next(a.choices for a in export._actions if a.dest == "format")
    assert list(choices) == list(WRITERS)


def test_no_unit_imports_blender() -> None:
    """Config, sampling, labels, writers and every unit import without bpy: only the back-end needs it."""
    code = (
        "import sys, simgen.cli, simgen.sampling, simgen.build, simgen.randomizers, simgen.generators, "
        "simgen.writers, simgen.labels, simgen.audit, simgen.ablation; "
        "print(sorted(m for m in ('bpy', 'bmesh', 'mathutils') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
