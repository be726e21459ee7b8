#!/usr/bin/env bash
# Re-render the README's contact sheets: every example scene, 6 images each (a few minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/images
clip_images() {  # images in one clip of a sequence:/rig: scene (0 for still scenes)
  .venv/bin/python -c "import sys; from simgen.config import load_config; from simgen.clips import images_per_clip; c = load_config(sys.argv[1]); print(images_per_clip(c) if c.sequence or c.rig else 0)" "$1"
}
for config in scenes/*.yaml scenes/demos/*.yaml; do
  name=$(basename "$config" .yaml)
  per_clip=$(clip_images "$config")
  if (( per_clip > 0 )); then  # one whole clip at the scene's own size, its first frames, and a GIF
    .venv/bin/simgen render "$config" --out "out/figures/$name" -n "$per_clip" --no-progress
    .venv/bin/simgen preview "out/figures/$name" --out "docs/images/$name.png" --tile-width 320 --max-images 12
    .venv/bin/simgen preview "out/figures/$name" --clip 0 --out "docs/images/$name.gif" --tile-width 320
    continue
  fi
  size=()
  [[ "$config" == scenes/demos/* ]] && size=(--set "render.resolution=[240,180]")
  .venv/bin/simgen render "$config" --out "out/figures/$name" -n 6 --no-progress "${size[@]}" --set render.samples=8
  .venv/bin/simgen preview "out/figures/$name" --out "docs/images/$name.png" --tile-width 320
done
