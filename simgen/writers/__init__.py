"""Dataset writers: turn ImageRecords into on-disk label formats (no Blender needed)."""
