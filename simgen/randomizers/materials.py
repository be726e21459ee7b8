"""materials: Principled BSDF values, procedural and image textures, material pools, per instance.

objects:
  - category: cube
    material:
      base_color: {hsv: [{uniform: [0, 1]}, 0.8, 0.8]}
      roughness: {uniform: [0.1, 0.9]}
      texture: {type: {choice: [noise, checker]}, color: [0.1, 0.1, 0.1], scale: {loguniform: [2, 20]}}
  - category: can
    material: {choice: [{metallic: 1.0}, {texture: {type: image, images: ../assets/textures}}]}

Acts on every object instance (``material:`` of an object entry and of ``distractors:``) and on the
colored parts of generators (their ``*_color`` slots).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from simgen.config.base import StrictModel
from simgen.config.distributions import (
    Choice,
    ColorValue,
    FloatValue,
    _tag,
    freeze,
    literal_choice,
    nonnegative,
    positive,
    ranged,
)
from simgen.config.files import first_image
from simgen.randomizers.base import FrameDraw, Randomizer, revalidate
from simgen.randomizers.world import choose_file
from simgen.spec import DecalSpec, MaterialSpec, TextureSpec

if TYPE_CHECKING:
    from simgen.config.schema import SceneConfig

TEXTURES = ("noise", "checker", "voronoi", "wave", "brick", "magic", "gradient", "image")


class Texture(StrictModel):
    """A procedural pattern that blends the base color with ``color``, or an image (Blender shader nodes).

    The color rule, one for diffuse and emission: a procedural pattern mixes ``base_color`` and
    ``color``; an image is multiplied by ``color`` (default white: the image as it is) and
    ``base_color`` is not used. Emission (``material.emission``) glows in that same surface color."""

    type: literal_choice(*TEXTURES)  # type: ignore[valid-type]
    color: ColorValue | None = Field(
        None,
        description="Procedural: the second color, mixed in by the pattern (default [0.1, 0.1, 0.1]). "
        "Image: a tint the image is multiplied by (default white).",
    )
    scale: positive(FloatValue) = Field(
        5.0,
        description="Pattern scale: repeats across the object's own extent (so it grows with the object).",
    )
    size: positive(FloatValue) | None = Field(
        None,
        description="World-space pattern size in meters instead of scale: one image (type image) or about "
        "one pattern feature per `size` meters, whatever the object's size or scale (tiles, carpet, wood).",
    )
    distortion: nonnegative(FloatValue) = 0.0
    bump: ranged(FloatValue, 0, 1) = Field(0.0, description="Bump strength from the same pattern (0 = flat).")
    images: str | None = Field(None, description="type image: an image file or a folder to choose from.")
    mapping: Literal["box", "uv"] = Field(
        "box",
        description="box: projected along the object's own axes (no UVs needed; each face of a cube-like "
        "object or generator shows the image centered on the face, one image per scale-th of the object or "
        "per `size` meters); uv: the mesh's own UV map (textured mesh files, generator labels).",
    )

    @model_validator(mode="after")
    def _images_for_image_type(self) -> Texture:
        types = self.type.choice if isinstance(self.type, Choice) else [self.type]
        if "image" in types and not self.images:
            raise ValueError("texture type image needs images: a file or folder of images")
        return self


PATTERN_COLOR = (0.1, 0.1, 0.1)
IMAGE_TINT = (1.0, 1.0, 1.0)


DECAL_FACES = ("+x", "-x", "+y", "-y", "+z", "-z")


class Decal(StrictModel):
    """An image painted on one face of the object's bounding box (a logo, a label, a warning sign).

    It sits centered on the face, upright when the face is seen from outside (side faces: image up =
    +z; the top and bottom: image up = +y), square in the object's own (unscaled) coordinates and
    ``size`` of the face; the image's alpha lets the surface show through. Paint only: labels and masks
    are the object's own."""

    images: str = Field(description="An image file, or a folder to choose one from per instance.")
    face: literal_choice(*DECAL_FACES) = Field("-y", description="Which face: +x, -x, +y, -y, +z or -z.")  # type: ignore[valid-type]
    size: ranged(FloatValue, 0, 1, open_low=True) = Field(0.5, description="Side as a fraction of the face.")


class Material(StrictModel):
    """Principled BSDF parameters; ``emission`` > 0 makes the surface glow in its own color (the base
    color, or the texture's result: see Texture)."""

    base_color: ColorValue = (0.8, 0.8, 0.8)
    roughness: ranged(FloatValue, 0, 1) = 0.5
    metallic: ranged(FloatValue, 0, 1) = 0.0
    emission: nonnegative(FloatValue) = Field(
        0.0, description="Emission strength, glowing in the surface color (base color or texture result)."
    )
    transmission: ranged(FloatValue, 0, 1) = Field(
        0.0, description="0 opaque .. 1 glass-like (translucent dice, bottles)."
    )
    texture: Texture | None = None
    decal: Decal | None = Field(None, description="An image on one face of the object (paint only).")


MaterialValue = Annotated[
    Union[Annotated[Material, Tag("const")], Annotated[Choice[Material], Tag("choice")]],  # noqa: UP007
    Discriminator(
        lambda v: "choice" if _tag(v) == "choice" else "const",
        custom_error_type="material",
        custom_error_message="expected a material mapping or a pool {choice: [material, ...]}",
    ),
]


def pool_fields(value: Material | Choice[Material], field: str) -> list[tuple[str, Material]]:
    """The material, or every material of a pool, with its field path (for messages)."""
    if isinstance(value, Choice):
        return [(f"{field}.choice[{k}]", m) for k, m in enumerate(value.choice)]
    return [(field, value)]


def sample_material(material: Material | Choice[Material], s: Any, p: str) -> MaterialSpec:
    """One instance's material: a pool member first, then its values (streams under ``p``)."""
    if isinstance(material, Choice):
        material = material.sample(s.rng(f"{p}.choice"))
    return MaterialSpec(
        base_color=s.color(f"{p}.base_color", material.base_color),
        roughness=s.float(f"{p}.roughness", material.roughness),
        metallic=s.float(f"{p}.metallic", material.metallic),
        emission=s.float(f"{p}.emission", material.emission),
        texture=_sample_texture(material.texture, s, f"{p}.texture"),
        transmission=s.float(f"{p}.transmission", material.transmission),
        decal=None if material.decal is None else _sample_decal(material.decal, s, f"{p}.decal"),
    )


def _sample_decal(d: Decal, s: Any, p: str) -> DecalSpec:
    return DecalSpec(
        image=choose_file(s, f"{p}.images", d.images) or d.images,
        face=str(s.value(f"{p}.face", d.face)),
        size=s.float(f"{p}.size", d.size),
    )


def _sample_texture(t: Texture | None, s: Any, p: str) -> TextureSpec | None:
    if t is None:
        return None
    texture_type = str(s.value(f"{p}.type", t.type))
    color = t.color if t.color is not None else IMAGE_TINT if texture_type == "image" else PATTERN_COLOR
    return TextureSpec(
        type=texture_type,
        color=s.color(f"{p}.color", color),
        scale=s.float(f"{p}.scale", t.scale),
        size=None if t.size is None else s.float(f"{p}.size", t.size),
        distortion=s.float(f"{p}.distortion", t.distortion),
        bump=s.float(f"{p}.bump", t.bump),
        image=choose_file(s, f"{p}.images", t.images) if texture_type == "image" else None,
        mapping=t.mapping,
    )


def frozen_material(value: Material | Choice[Material]) -> Material:
    """A material with nothing left to draw: the most likely pool member, centered, first images."""
    material = freeze(value)
    if material.texture is not None and material.texture.images:
        texture = material.texture.model_copy(update={"images": first_image(material.texture.images)})
        material = material.model_copy(update={"texture": texture})
    if material.decal is not None:
        decal = material.decal.model_copy(update={"images": first_image(material.decal.images)})
        material = material.model_copy(update={"decal": decal})
    return material


class MaterialsRandomizer(Randomizer):
    name = "materials"
    summary = (
        "Principled BSDF ranges (color, roughness, metallic, emission); procedural textures (noise, checker, "
        "voronoi, wave, brick, magic, gradient) with random scale, colors, distortion, bump; image textures "
        "from a folder; material pools `{choice: [...]}`; the floor is an object too"
    )
    config_keys = "`material:` on any object"
    demo = "scenes/demos/materials.yaml"

    def sample(self, draw: FrameDraw) -> None:
        for inst in draw.instances:
            inst.spec.material = sample_material(inst.material, draw.streams, f"{inst.path}.material")

    def off(self, config: SceneConfig) -> SceneConfig:
        """Object and distractor materials and generator colors at their centers, first images of folders.

        The most likely member of a material pool stands for the pool.
        """
        from simgen.generators import get_generator

        objects = []
        for obj in config.objects:
            update: dict[str, Any] = {"material": frozen_material(obj.material)}
            if obj.generator is not None:
                colors = get_generator(obj.generator.type).slot_colors.values()
                update["generator"] = obj.generator.model_copy(
                    update={c: freeze(getattr(obj.generator, c)) for c in colors}
                )
            objects.append(obj.model_copy(update=update))
        update = {"objects": objects}
        if config.distractors is not None:
            distractors = config.distractors.model_copy(
                update={"material": frozen_material(config.distractors.material)}
            )
            update["distractors"] = distractors
        return revalidate(config.model_copy(update=update), "without materials")


# -- Blender back-end hook ----------------------------------------------------------------------------
_UNBUILT = "<no graph yet>"
TEXTURE_NODES = {
    "noise": ("ShaderNodeTexNoise", "Fac"),
    "checker": ("ShaderNodeTexChecker", "Fac"),
    "voronoi": ("ShaderNodeTexVoronoi", "Distance"),
    "wave": ("ShaderNodeTexWave", "Fac"),
    "brick": ("ShaderNodeTexBrick", "Fac"),
    "magic": ("ShaderNodeTexMagic", "Fac"),
    "gradient": ("ShaderNodeTexGradient", "Fac"),
}


class BlenderMaterials:
    """Keeps each object's material slots matching their MaterialSpecs (the back-end calls ``sync``).

    A slot's node graph is rebuilt only when its texture type changes; values are set in place.
    """

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.built: dict[tuple[int, int], Any] = {}  # (object, slot) → (texture type, mapping) of its graph

    def forget(self) -> None:
        """The objects were rebuilt: every graph must be built again."""
        self.built = {}

    def sync(
        self, material: Any, spec: MaterialSpec, key: tuple[int, int], object_scale: Any = (1.0, 1.0, 1.0)
    ) -> None:
        """Make ``material`` match ``spec``; ``object_scale`` (the object's scale in Blender) turns a
        world-space ``texture.size`` into the mapping's scale."""
        graph = (spec.texture.type, spec.texture.mapping) if spec.texture else None
        decal_face = spec.decal.face if spec.decal else None
        if self.built.get(key, _UNBUILT) != (graph, decal_face):
            build_material_nodes(material, *(graph or (None, "box")))
            if decal_face:
                add_decal_nodes(material, decal_face)
            self.built[key] = (graph, decal_face)
        self._set(material, spec)
        if spec.decal:
            nodes = material.node_tree.nodes
            nodes["decal"].image = self.ctx.load_image(spec.decal.image)
            nodes["decal_scale"].outputs[0].default_value = 1.0 / spec.decal.size
            for socket_name in ("Base Color", "Emission Color"):  # a plain surface: its color is the mix's A
                mix = nodes[f"decal_over {socket_name}"]
                if not mix.inputs["A"].links:
                    mix.inputs["A"].default_value = (*spec.base_color, 1.0)
        tex = spec.texture
        if tex is not None and tex.size:
            # object coordinates are the unscaled mesh's: scaling them by scale / size makes one unit of
            # the mapped space span `size` meters in the world
            material.node_tree.nodes["mapping"].inputs["Scale"].default_value = tuple(
                float(s) / tex.size for s in object_scale
            )
            if "Scale" in material.node_tree.nodes["texture"].inputs:
                material.node_tree.nodes["texture"].inputs["Scale"].default_value = 1.0

    def _set(self, material: Any, spec: MaterialSpec) -> None:
        nodes = material.node_tree.nodes
        bsdf = nodes["bsdf"]
        color = (*spec.base_color, 1.0)
        bsdf.inputs["Base Color"].default_value = color
        bsdf.inputs["Roughness"].default_value = spec.roughness
        bsdf.inputs["Metallic"].default_value = spec.metallic
        bsdf.inputs["Emission Color"].default_value = color
        bsdf.inputs["Emission Strength"].default_value = spec.emission
        bsdf.inputs["Transmission Weight"].default_value = spec.transmission
        material.diffuse_color = color  # viewport color, handy when inspecting a saved .blend
        tex = spec.texture
        if tex is None:
            return
        if tex.type == "image":
            nodes["texture"].image = self.ctx.load_image(tex.image or "")
            nodes["tint"].inputs["B"].default_value = (*tex.color, 1.0)
            nodes["mapping"].inputs["Scale"].default_value = (tex.scale,) * 3
            nodes["bump"].inputs["Strength"].default_value = tex.bump
            return
        mix = nodes["mix"]
        mix.inputs["A"].default_value = color
        mix.inputs["B"].default_value = (*tex.color, 1.0)
        texture = nodes["texture"]
        if "Scale" in texture.inputs:
            texture.inputs["Scale"].default_value = tex.scale
            nodes["mapping"].inputs["Scale"].default_value = (1.0, 1.0, 1.0)
        else:  # gradient has no scale of its own
            nodes["mapping"].inputs["Scale"].default_value = (tex.scale,) * 3
        if "Distortion" in texture.inputs:
            texture.inputs["Distortion"].default_value = tex.distortion
        nodes["bump"].inputs["Strength"].default_value = tex.bump


# face → (object axis index, sign, u from (axis, flip), v from (axis, flip)) in Generated coordinates
_DECAL_AXES = {
    "-y": (1, -1, (0, False), (2, False)),
    "+y": (1, 1, (0, True), (2, False)),
    "+x": (0, 1, (1, False), (2, False)),
    "-x": (0, -1, (1, True), (2, False)),
    "+z": (2, 1, (0, False), (1, False)),
    "-z": (2, -1, (0, False), (1, True)),
}


def add_decal_nodes(material: Any, face: str) -> None:
    """Mix an image over the surface color on one face of the object's bounding box.

    Generated coordinates run 0..1 across the bounding box on each axis, so the decal is centered on the
    face whatever the mesh; the face is where the object-space normal points along the face's axis."""
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = nodes["bsdf"]
    axis, sign, (u_axis, u_flip), (v_axis, v_flip) = _DECAL_AXES[face]
    coords = nodes.new("ShaderNodeTexCoord")
    split, normal = nodes.new("ShaderNodeSeparateXYZ"), nodes.new("ShaderNodeSeparateXYZ")
    links.new(coords.outputs["Generated"], split.inputs["Vector"])
    links.new(coords.outputs["Normal"], normal.inputs["Vector"])
    scale = nodes.new("ShaderNodeValue")  # 1 / decal size, set per frame
    scale.name = "decal_scale"

    def math(op: str, a: Any, b: Any) -> Any:
        node = nodes.new("ShaderNodeMath")
        node.operation = op
        for socket, value in zip(node.inputs[:2], (a, b), strict=True):
            if isinstance(value, int | float):
                socket.default_value = value
            else:
                links.new(value, socket)
        return node.outputs[0]

    def centered(axis_index: int, flip: bool) -> Any:
        """(g - 0.5) / size + 0.5 of one Generated axis (mirrored where the face is seen from behind)."""
        g = math("SUBTRACT", 1.0, split.outputs[axis_index]) if flip else split.outputs[axis_index]
        return math("ADD", math("MULTIPLY", math("SUBTRACT", g, 0.5), scale.outputs[0]), 0.5)

    uv = nodes.new("ShaderNodeCombineXYZ")
    links.new(centered(u_axis, u_flip), uv.inputs["X"])
    links.new(centered(v_axis, v_flip), uv.inputs["Y"])
    image = nodes.new("ShaderNodeTexImage")
    image.name = "decal"
    image.extension = "CLIP"  # transparent outside the decal's square
    links.new(uv.outputs["Vector"], image.inputs["Vector"])
    facing = math("GREATER_THAN", math("MULTIPLY", normal.outputs[axis], float(sign)), 0.5)
    factor = math("MULTIPLY", facing, image.outputs["Alpha"])
    for socket_name in ("Base Color", "Emission Color"):
        target = bsdf.inputs[socket_name]
        mix = nodes.new("ShaderNodeMix")
        mix.data_type = "RGBA"
        mix.name = f"decal_over {socket_name}"
        links.new(factor, mix.inputs["Factor"])
        if target.links:
            links.new(target.links[0].from_socket, mix.inputs["A"])
        links.new(image.outputs["Color"], mix.inputs["B"])
        links.new(mix.outputs["Result"], target)


def build_material_nodes(material: Any, texture_type: str | None, mapping: str = "box") -> None:
    """(Re)build a Principled BSDF graph; with a texture, its pattern mixes two colors and drives bump.

    Texture coordinates: the object's own (box-projected for images), or its UV map (``mapping: uv``).
    """
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    bsdf = nodes.new("ShaderNodeBsdfPrincipled")
    bsdf.name = "bsdf"
    links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    if texture_type is None:
        return
    coords = nodes.new("ShaderNodeTexCoord")
    mapping_node = nodes.new("ShaderNodeMapping")
    mapping_node.name = "mapping"
    bump = nodes.new("ShaderNodeBump")
    bump.name = "bump"
    links.new(coords.outputs["UV" if mapping == "uv" else "Object"], mapping_node.inputs["Vector"])
    links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    if texture_type == "image":
        texture = nodes.new("ShaderNodeTexImage")
        texture.name = "texture"
        if mapping == "box":
            texture.projection = "BOX"  # no UVs needed: project from the object's own axes
            texture.projection_blend = 0.2
            # the object's center maps to the image's center, so every face of a box-like object shows
            # the image centered on the face (not its corner)
            mapping_node.inputs["Location"].default_value = (0.5, 0.5, 0.5)
        links.new(mapping_node.outputs["Vector"], texture.inputs["Vector"])
        tint = nodes.new("ShaderNodeMix")  # image x texture.color: the surface color and the glow
        tint.name = "tint"
        tint.data_type = "RGBA"
        tint.blend_type = "MULTIPLY"
        tint.inputs["Factor"].default_value = 1.0
        links.new(texture.outputs["Color"], tint.inputs["A"])
        links.new(tint.outputs["Result"], bsdf.inputs["Base Color"])
        links.new(tint.outputs["Result"], bsdf.inputs["Emission Color"])
        links.new(texture.outputs["Color"], bump.inputs["Height"])
        return
    node_type, output_name = TEXTURE_NODES[texture_type]
    texture = nodes.new(node_type)
    texture.name = "texture"
    mix = nodes.new("ShaderNodeMix")
    mix.name = "mix"
    mix.data_type = "RGBA"
    links.new(mapping_node.outputs["Vector"], texture.inputs["Vector"])
    links.new(texture.outputs[output_name], mix.inputs["Factor"])
    links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
    links.new(mix.outputs["Result"], bsdf.inputs["Emission Color"])
    links.new(texture.outputs[output_name], bump.inputs["Height"])
