"""Scene configuration: schema, distributions and loading (no Blender needed)."""

from simgen.config.loader import config_hash, config_to_dict, dump_config_yaml, load_config, validate_config
from simgen.config.schema import SceneConfig

__all__ = [
    "SceneConfig",
    "config_hash",
    "config_to_dict",
    "dump_config_yaml",
    "load_config",
    "validate_config",
]
