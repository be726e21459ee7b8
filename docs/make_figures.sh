#!/usr/bin/env bash
# Re-render the README's contact sheets: every example scene, 6 images each (a few minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/images
for config in scenes/*.yaml scenes/demos/*.yaml; do
  name=$(basename "$config" .yaml)
  size=()
  [[ "$config" == scenes/demos/* ]] && size=(--set "render.resolution=[240,180]")
  .venv/bin/simgen render "$config" --out "out/figures/$name" -n 6 --no-progress "${size[@]}" --set render.samples=8
  .venv/bin/simgen preview "out/figures/$name" --out "docs/images/$name.png" --tile-width 320
done
