"""Projective geometry for labels: world triangles → camera → clipped → rasterized silhouettes (no Blender).

The render's Object Index pass only shows what is visible. The amodal (full) silhouette of an object,
also where it is occluded or outside the frame, is computed here from the object's own triangles with
the same pinhole camera (``CameraSpec``), so no second render is needed.

Conventions (as ``simgen.spec``): OpenCV camera axes (x right, y down, z forward), continuous pixel
coordinates in which pixel (i, j) spans [i, i+1) x [j, j+1). Rasterization rule: a pixel is covered
when its center lies inside (or on an edge of) a projected triangle, the same rule a renderer's
center sample follows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from simgen.spec import CameraSpec

CHUNK = 1 << 21  # pixel candidates tested at once (bounds peak memory to ~100 MB)
GUARD = 2.0  # how many image sizes beyond each border the full silhouette is measured
MAX_CANVAS = 4.0  # full-resolution canvas limit, as a multiple of the image's pixel count


@dataclass
class ObjectGeometry:
    """The triangles of one labelled instance in world space (all its parts merged) and its model frame.

    ``model_to_world`` maps mesh-local coordinates (those of the unit-size primitive or of the mesh
    file) to world coordinates; it includes the object's scale and size factor.
    """

    vertices: np.ndarray  # N x 3 float64, world coordinates
    triangles: np.ndarray  # M x 3 int64 indices into vertices
    model_to_world: np.ndarray  # 4 x 4

    def local_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds (min, max) of the vertices in mesh-local coordinates."""
        local = transform_points(np.linalg.inv(self.model_to_world), self.vertices)
        return local.min(axis=0), local.max(axis=0)


@dataclass
class Silhouette:
    """The projected full silhouette of one object.

    mask, depth: H x W, the silhouette inside the image and the object's nearest depth per pixel
        (meters along the optical axis, inf where not covered).
    full_area, inside_area: pixels of the whole silhouette (on the image's pixel grid, extending past
        its borders up to ``GUARD`` image sizes) and of its part inside the image, both measured on the
        same canvas; ``scale`` < 1 means that canvas had a reduced resolution (very large extents).
    bbox: [x, y, w, h] tight pixel bounds of the whole silhouette; may extend past the image.
    """

    mask: np.ndarray
    depth: np.ndarray
    full_area: float
    inside_area: float
    bbox: list[int]
    scale: float = 1.0

    @property
    def truncation(self) -> float:
        """Fraction of the full silhouette that lies outside the image."""
        return 0.0 if self.full_area <= 0 else float(max(0.0, 1.0 - self.inside_area / self.full_area))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 affine transform to N x 3 points."""
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The 8 corners of an axis-aligned box, x varying slowest (itertools.product order)."""
    return np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]] for i, j, k in _BITS])


_BITS = list(itertools.product((0, 1), repeat=3))


def camera_triangles(geometry: ObjectGeometry, camera: CameraSpec) -> np.ndarray:
    """T x 3 x 3 camera-space triangles, clipped to the camera's [clip_start, clip_end] depth range.

    Clipping (instead of dropping or projecting) triangles that cross the near plane keeps the parts
    in front of the camera exact; points behind it would otherwise project mirrored.
    """
    cam = transform_points(camera.world_to_opencv(), geometry.vertices)
    tris = cam[np.asarray(geometry.triangles, dtype=np.int64)]
    return clip_depth(tris, camera.clip_start, camera.clip_end)


def projected_triangles(geometry: ObjectGeometry, camera: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """(T x 3 x 2 pixel coordinates, T x 3 inverse depths) of the clipped triangles.

    Fast path: when every vertex lies within the depth range, vertices are projected once and shared by
    their triangles; otherwise triangles are clipped first (``camera_triangles``).
    """
    cam = transform_points(camera.world_to_opencv(), geometry.vertices)
    tri_index = np.asarray(geometry.triangles, dtype=np.int64)
    k_matrix = camera.intrinsics()
    z = cam[:, 2]
    if len(cam) and z.min() >= camera.clip_start and z.max() <= camera.clip_end:
        return project_camera_points(cam, k_matrix)[tri_index], (1.0 / z)[tri_index]
    tris = clip_depth(cam[tri_index], camera.clip_start, camera.clip_end)
    if len(tris) == 0:
        return np.zeros((0, 3, 2)), np.zeros((0, 3))
    return project_camera_points(tris, k_matrix), 1.0 / tris[:, :, 2]


def clip_depth(tris: np.ndarray, near: float, far: float) -> np.ndarray:
    """Clip T x 3 x 3 triangles to near <= z <= far (Sutherland-Hodgman), re-triangulated as fans."""
    z = tris[:, :, 2]
    inside = (z >= near) & (z <= far)
    keep = inside.all(axis=1)
    out = (z < near).all(axis=1) | (z > far).all(axis=1)
    parts = [tris[keep]]
    for tri in tris[~keep & ~out]:
        poly = _clip_plane(list(tri), lambda p: p[2] - near)
        poly = _clip_plane(poly, lambda p: far - p[2])
        parts.extend(np.array([poly[0], poly[k], poly[k + 1]])[None] for k in range(1, len(poly) - 1))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _clip_plane(poly: list[np.ndarray], dist) -> list[np.ndarray]:
    """Keep the part of a convex polygon where ``dist(p) >= 0``."""
    out: list[np.ndarray] = []
    for a, b in zip(poly, poly[1:] + poly[:1], strict=True):
        da, db = dist(a), dist(b)
        if da >= 0:
            out.append(a)
        if (da >= 0) != (db >= 0):
            out.append(a + (b - a) * (da / (da - db)))
    return out


def project_camera_points(points: np.ndarray, k_matrix: np.ndarray) -> np.ndarray:
    """(..., 3) camera-space points (z > 0) → (..., 2) continuous pixel coordinates."""
    uvw = points @ k_matrix.T
    return uvw[..., :2] / uvw[..., 2:3]


@dataclass
class Canvas:
    """A pixel grid: canvas pixel (c, r) has its center at image coordinates x0 + (c + 0.5) / scale."""

    x0: float
    y0: float
    width: int
    height: int
    scale: float = 1.0


def rasterize(
    uv: np.ndarray, inv_z: np.ndarray | None, canvas: Canvas
) -> tuple[np.ndarray, np.ndarray | None]:
    """Cover T x 3 x 2 triangles (image pixel coordinates) on ``canvas`` by the pixel-center rule.

    With ``inv_z`` (T x 3, 1/depth per vertex) also returns the nearest depth per pixel, interpolated
    perspective-correctly (1/z is linear in screen space). Vectorized: every pixel center inside a
    triangle's bounding box is tested against its three edge functions, in bounded chunks.
    """
    mask = np.zeros((canvas.height, canvas.width), dtype=bool)
    inv_buf = np.zeros(mask.shape, dtype=np.float64) if inv_z is not None else None
    if len(uv) == 0:
        return mask, _depth_from_inverse(inv_buf)
    pts = (uv - np.array([canvas.x0, canvas.y0])) * canvas.scale - 0.5  # pixel centers at integers
    area2 = _cross(pts[:, 1] - pts[:, 0], pts[:, 2] - pts[:, 0])
    lo = np.maximum(np.ceil(pts.min(axis=1)), 0).astype(np.int64)
    hi = np.minimum(np.floor(pts.max(axis=1)), [canvas.width - 1, canvas.height - 1]).astype(np.int64)
    size = np.maximum(hi - lo + 1, 0)
    counts = size[:, 0] * size[:, 1]
    good = np.flatnonzero((counts > 0) & (np.abs(area2) > 1e-12))
    for chunk in _chunks(good, counts[good]):
        _fill(mask, inv_buf, pts[chunk], area2[chunk], lo[chunk], size[chunk], counts[chunk], inv_z, chunk)
    return mask, _depth_from_inverse(inv_buf)


def _fill(
    mask: np.ndarray,
    inv_buf: np.ndarray | None,
    pts: np.ndarray,
    area2: np.ndarray,
    lo: np.ndarray,
    size: np.ndarray,
    counts: np.ndarray,
    inv_z: np.ndarray | None,
    chunk: np.ndarray,
) -> None:
    tri = np.repeat(np.arange(len(pts)), counts)
    local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    px = lo[tri, 0] + local % size[tri, 0]
    py = lo[tri, 1] + local // size[tri, 0]
    p = np.stack([px, py], axis=1).astype(np.float64)
    a, b, c = pts[tri, 0], pts[tri, 1], pts[tri, 2]
    sign = np.sign(area2[tri])
    w_a = _cross(c - b, p - b) * sign
    w_b = _cross(a - c, p - c) * sign
    w_c = _cross(b - a, p - a) * sign
    eps = -1e-9 * np.abs(area2[tri])
    inside = (w_a >= eps) & (w_b >= eps) & (w_c >= eps)
    mask[py[inside], px[inside]] = True
    if inv_buf is None or inv_z is None:
        return
    iz = inv_z[chunk][tri[inside]]
    norm = np.abs(area2[tri[inside]])
    inv = (w_a[inside] * iz[:, 0] + w_b[inside] * iz[:, 1] + w_c[inside] * iz[:, 2]) / norm
    np.maximum.at(inv_buf, (py[inside], px[inside]), inv)


def _chunks(index: np.ndarray, counts: np.ndarray):
    """Split ``index`` into runs whose pixel-candidate counts sum to about ``CHUNK`` (at least one each)."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(index):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + CHUNK, side="right")), start + 1)
        yield index[start:stop]
        start = stop


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _depth_from_inverse(inv_buf: np.ndarray | None) -> np.ndarray | None:
    if inv_buf is None:
        return None
    with np.errstate(divide="ignore"):
        return np.where(inv_buf > 0, 1.0 / inv_buf, np.inf).astype(np.float32)


def silhouette(geometry: ObjectGeometry, camera: CameraSpec) -> Silhouette:
    """The object's full projected silhouette: in-image mask and depth, extent, truncation.

    Rasterized once on a canvas around the silhouette's bounding box (clipped to the guard band) when
    that fits ``MAX_CANVAS`` image areas; otherwise the in-image part is rasterized at full resolution
    and the whole extent on a coarser canvas of that pixel budget.
    """
    if camera.distortion is not None:
        return _silhouette_through_lens(geometry, camera)
    width, height = camera.image_size
    uv, inv_z = projected_triangles(geometry, camera)
    mask = np.zeros((height, width), dtype=bool)
    depth = np.full((height, width), np.inf, dtype=np.float32)
    if len(uv) == 0:
        return Silhouette(mask, depth, 0.0, 0.0, [0, 0, 0, 0])
    ext = _extent_canvas(uv, width, height)
    if ext.scale == 1.0:
        full, full_depth = rasterize(uv, inv_z, ext)
        _paste(mask, full, ext)
        _paste(depth, full_depth, ext)
        inside, total = float(mask.sum()), float(full.sum())
    else:
        crop = _image_part(ext, width, height)
        part, part_depth = rasterize(uv, inv_z, crop)
        _paste(mask, part, crop)
        _paste(depth, part_depth, crop)
        full, _ = rasterize(uv, None, ext)
        inside = float(_inside_image(full, ext, width, height).sum()) / ext.scale**2
        total = float(full.sum()) / ext.scale**2
    return Silhouette(mask, depth, total, inside, _canvas_bbox(full, ext), ext.scale)


def _silhouette_through_lens(geometry: ObjectGeometry, camera: CameraSpec) -> Silhouette:
    """A distorted camera's silhouette: rasterized on the pinhole canvas the back-end renders, then
    resampled through the lens like the render. Truncation is the share of the silhouette outside what
    the lens sees (measured on the canvas); ``bbox`` is the in-image part's (nothing is defined beyond)."""
    from simgen.lens import canvas, footprint, remap_grid, resample

    render = canvas(camera)
    sil = silhouette(geometry, render)
    grid = remap_grid(camera, render)
    mask = resample(sil.mask, grid, smooth=False)
    depth = resample(sil.depth, grid, smooth=False)
    inside = float((sil.mask & footprint(camera, render)).sum())
    ys, xs = np.nonzero(mask)
    bbox = (
        [0, 0, 0, 0]
        if not len(xs)
        else [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]
    )
    return Silhouette(mask, depth, sil.full_area, min(inside, sil.full_area), bbox, sil.scale)


def _extent_canvas(uv: np.ndarray, width: int, height: int) -> Canvas:
    """A canvas over the silhouette's bounding box, clipped to the guard band around the image."""
    lo = np.floor(uv.reshape(-1, 2).min(axis=0))
    hi = np.ceil(uv.reshape(-1, 2).max(axis=0))
    guard_lo = np.array([-GUARD * width, -GUARD * height])
    guard_hi = np.array([(1 + GUARD) * width, (1 + GUARD) * height])
    lo = np.clip(lo, guard_lo, guard_hi - 1)
    hi = np.clip(hi, lo + 1, guard_hi)
    ext_w, ext_h = int(hi[0] - lo[0]), int(hi[1] - lo[1])
    budget = MAX_CANVAS * width * height
    if ext_w * ext_h <= budget:
        return Canvas(float(lo[0]), float(lo[1]), ext_w, ext_h, 1.0)
    scale = float(np.sqrt(budget / (ext_w * ext_h)))
    return Canvas(float(lo[0]), float(lo[1]), max(1, int(ext_w * scale)), max(1, int(ext_h * scale)), scale)


def _image_part(ext: Canvas, width: int, height: int) -> Canvas:
    """The full-resolution canvas of the image pixels that an extent canvas overlaps."""
    x0 = int(np.clip(ext.x0, 0, width))
    y0 = int(np.clip(ext.y0, 0, height))
    x1 = int(np.clip(ext.x0 + ext.width / ext.scale, x0, width))
    y1 = int(np.clip(ext.y0 + ext.height / ext.scale, y0, height))
    return Canvas(float(x0), float(y0), x1 - x0, y1 - y0, 1.0)


def _paste(target: np.ndarray, source: np.ndarray, canvas: Canvas) -> None:
    """Copy a full-resolution canvas (integer origin) into the image-sized ``target`` where they overlap."""
    x0, y0 = int(canvas.x0), int(canvas.y0)
    height, width = target.shape[:2]
    tx0, ty0 = max(x0, 0), max(y0, 0)
    tx1, ty1 = min(x0 + canvas.width, width), min(y0 + canvas.height, height)
    if tx1 > tx0 and ty1 > ty0:
        target[ty0:ty1, tx0:tx1] = source[ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0]


def _inside_image(full: np.ndarray, ext: Canvas, width: int, height: int) -> np.ndarray:
    """Pixels of an extent canvas whose centers fall inside the image."""
    xs = ext.x0 + (np.arange(ext.width) + 0.5) / ext.scale
    ys = ext.y0 + (np.arange(ext.height) + 0.5) / ext.scale
    cols = (xs >= 0) & (xs < width)
    rows = (ys >= 0) & (ys < height)
    return full & rows[:, None] & cols[None, :]


def _canvas_bbox(full: np.ndarray, ext: Canvas) -> list[int]:
    """Tight [x, y, w, h] of a canvas mask in image pixel units (rounded outward on coarse canvases)."""
    rows = np.flatnonzero(full.any(axis=1))
    cols = np.flatnonzero(full.any(axis=0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    x0 = int(np.floor(ext.x0 + cols[0] / ext.scale))
    y0 = int(np.floor(ext.y0 + rows[0] / ext.scale))
    x1 = int(np.ceil(ext.x0 + (cols[-1] + 1) / ext.scale))
    y1 = int(np.ceil(ext.y0 + (rows[-1] + 1) / ext.scale))
    return [x0, y0, x1 - x0, y1 - y0]


# -- pose and keypoints ---------------------------------------------------------------------------
def decompose(model_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4x4 model→world → (rotation 3x3, translation 3, scale 3) with M = T · R · diag(scale)."""
    linear = model_to_world[:3, :3]
    scale = np.linalg.norm(linear, axis=0)
    rot = linear / np.where(scale > 0, scale, 1.0)
    u, _, vt = np.linalg.svd(rot)  # nearest rotation (removes shear/rounding)
    rot = u @ vt
    if np.linalg.det(rot) < 0:  # a mirrored object: fold the reflection into the scale
        rot[:, 2] *= -1
        scale = scale * np.array([1.0, 1.0, -1.0])
    return rot, model_to_world[:3, 3].copy(), scale


def object_pose(geometry: ObjectGeometry, camera: CameraSpec) -> dict[str, list[float]]:
    """Model→camera pose (OpenCV camera): X_cam = R · (scale ⊙ X_model) + t, t in meters."""
    rot, trans, scale = decompose(geometry.model_to_world)
    w2c = camera.world_to_opencv()
    r_m2c = w2c[:3, :3] @ rot
    t_m2c = w2c[:3, :3] @ trans + w2c[:3, 3]
    return {
        "R": [round(float(v), 9) for v in r_m2c.ravel()],
        "t": [round(float(v), 9) for v in t_m2c],
        "scale": [round(float(v), 9) for v in scale],
    }


def box_3d(geometry: ObjectGeometry, camera: CameraSpec) -> dict[str, list[float]]:
    """The instance's oriented 3D box: its mesh's local bounding box placed by the model frame.

    ``center`` (m) and ``R`` (box axes → camera, 9 row-major) are in OpenCV camera axes, ``size`` the
    box's extents along its own axes (m), ``corners`` the 8 corners projected (x y pairs, pixels; corner
    order as ``box_corners``: x slowest), ``corners_depth`` their camera depths (<= 0: behind the camera).
    """
    lo, hi = geometry.local_bounds()
    rot, _, scale = decompose(geometry.model_to_world)
    w2c = camera.world_to_opencv()
    corners_world = transform_points(geometry.model_to_world, box_corners(lo, hi))
    corners_cam = transform_points(w2c, corners_world)
    center = transform_points(w2c, transform_points(geometry.model_to_world, (lo + hi) / 2))[0]
    safe = np.where(corners_cam[:, 2:3] > 1e-12, corners_cam, np.array([0.0, 0.0, 1.0]))
    return {
        "center": [round(float(v), 9) for v in center],
        "size": [round(float(v), 9) for v in (hi - lo) * np.abs(scale)],
        "R": [round(float(v), 9) for v in (w2c[:3, :3] @ rot).ravel()],
        "corners": [round(float(v), 3) for v in camera.project_camera(safe).ravel()],
        "corners_depth": [round(float(v), 6) for v in corners_cam[:, 2]],
    }


def keypoints_camera(
    local_points: np.ndarray, geometry: ObjectGeometry, camera: CameraSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Mesh-local keypoints → (K x 2 pixel coordinates, K camera depths); depth <= 0 is behind."""
    world = transform_points(geometry.model_to_world, local_points)
    cam = transform_points(camera.world_to_opencv(), world)
    z = cam[:, 2]
    safe = np.where(z[:, None] > 1e-12, cam, np.array([0.0, 0.0, 1.0]))
    return camera.project_camera(safe), z


def depth_tolerance(z: np.ndarray | float, fx: float, relative: float) -> np.ndarray | float:
    """How much nearer a surface must be to hide a point: a relative margin plus two pixel footprints.

    The footprint term absorbs surfaces seen at grazing angles next to silhouettes, where the rendered
    depth one pixel away can differ from the point's own depth by several footprints.
    """
    return np.asarray(z) * (relative + 2.0 / fx)


def keypoint_visibility(
    uv: np.ndarray,
    z: np.ndarray,
    depth: np.ndarray,
    camera: CameraSpec,
    relative_tolerance: float,
) -> np.ndarray:
    """COCO flags per keypoint: 0 outside the image (or behind the camera), 1 occluded, 2 visible.

    Decided from the render: a keypoint inside the image is visible when, somewhere in the 3x3 pixels
    around it, the rendered surface is not nearer than the keypoint (by ``depth_tolerance``) — i.e.
    nothing, neither another object nor the object's own front faces, hides it. The 3x3 window absorbs
    the sub-pixel jitter of the render's first sample near edges.
    """
    height, width = depth.shape
    flags = np.zeros(len(uv), dtype=np.int64)
    fx = float(camera.intrinsics()[0, 0])
    for k, ((u, v), zk) in enumerate(zip(uv, z, strict=True)):
        if zk <= 0 or not (0 <= u < width and 0 <= v < height):
            continue
        col, row = int(u), int(v)
        window = depth[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
        tol = float(depth_tolerance(zk, fx, relative_tolerance))
        unhidden = (window <= 0) | (window >= zk - tol)
        flags[k] = 2 if unhidden.any() else 1
    return flags
