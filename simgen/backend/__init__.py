"""Renderer back-ends. Only ``simgen.backend.blender`` imports ``bpy``; import it lazily."""

from simgen.backend.result import RenderResult

__all__ = ["RenderResult"]
