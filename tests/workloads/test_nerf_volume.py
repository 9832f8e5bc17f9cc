import base64
import re
import struct
import zlib

import numpy as np
import pytest

from rtnerf.workloads.nerf.volume import (
    SIGMA_MAX,
    blur,
    load_scene,
    read_off,
    read_vti,
    voxelize_mesh,
)

CUBE_V = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
# Outward-consistent triangles of the cube [-1, 1]^3 (vertex index = 4x + 2y + z).
CUBE_F = np.array(
    [
        [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # x = -1, x = +1
        [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # y = -1, y = +1
        [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # z = -1, z = +1
    ]
)  # fmt: skip


def test_read_off_comments_quads_and_header(tmp_path):
    p = tmp_path / "m.off"
    p.write_text("OFF # a comment\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n3 0 1 3\n")
    v, f = read_off(p)
    assert v.shape == (4, 3) and v[2].tolist() == [1, 1, 0]
    assert f.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 3]]


def test_read_off_errors(tmp_path):
    p = tmp_path / "bad.off"
    p.write_text("PLY\n")
    with pytest.raises(ValueError, match=r"^`path` must be an OFF file"):
        read_off(p)
    p.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    with pytest.raises(ValueError, match=r"^`path` must be a complete OFF file"):
        read_off(p)
    p.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n")
    with pytest.raises(ValueError, match="face index out of range"):
        read_off(p)


def _vti(values: np.ndarray, block: int = 16) -> str:
    """A VTK ImageData file as VTK writes it: zlib blocks, UInt32 header, one base64 run."""
    raw = values.tobytes()
    blocks = [raw[i : i + block] for i in range(0, len(raw), block)]
    comp = [zlib.compress(b) for b in blocks]
    last = len(blocks[-1])
    header = struct.pack(f"<{3 + len(comp)}I", len(comp), block, last, *[len(c) for c in comp])
    b64 = base64.b64encode(header).decode() + base64.b64encode(b"".join(comp)).decode()
    nz, ny, nx = values.shape
    return (
        '<?xml version="1.0"?>\n<VTKFile type="ImageData" version="1.0" '
        'byte_order="LittleEndian" header_type="UInt32" compressor="vtkZLibDataCompressor">\n'
        f'<ImageData WholeExtent="0 {nx - 1} 0 {ny - 1} 0 {nz - 1}" Origin="0 0 0" '
        'Spacing="1 1 1.5">\n<Piece>\n<PointData Scalars="s">\n'
        f'<DataArray type="UInt8" Name="s" format="binary">\n  {b64}\n</DataArray>\n'
        "</PointData>\n</Piece>\n</ImageData>\n</VTKFile>\n"
    )


def test_read_vti_roundtrip(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 30, (3, 4, 5), dtype=np.uint8)
    p = tmp_path / "f.vti"
    p.write_text(_vti(values))
    got, spacing = read_vti(p)
    np.testing.assert_array_equal(got, values)
    assert spacing == (1.0, 1.0, 1.5)
    p.write_text(re.sub("ImageData", "PolyData", _vti(values)))
    with pytest.raises(ValueError, match="ImageData"):
        read_vti(p)


def test_voxelize_cube_fills_inside():
    n = 17  # vertices at -1.5 + 3 i / 16
    occ = voxelize_mesh(CUBE_V * 0.9, CUBE_F, n)
    x = np.linspace(-1.5, 1.5, n)
    inside = np.abs(x) < 0.9 - 1e-9
    expect = inside[:, None, None] & inside[None, :, None] & inside[None, None, :]
    # Every interior vertex is filled; only vertices next to the surface may be added.
    assert occ[expect].all()
    near = np.abs(x) < 0.9 + 3 / 16
    allowed = near[:, None, None] & near[None, :, None] & near[None, None, :]
    assert not occ[~allowed].any()


def test_voxelize_open_mesh_votes():
    # Without the top face the z parity breaks; the x and y votes still fill the inside.
    occ = voxelize_mesh(CUBE_V * 0.9, CUBE_F[:10], 17)
    assert occ[8, 8, 8] and occ[8, 8, 4]


def test_blur_preserves_mass():
    v = np.zeros((9, 9, 9), np.float32)
    v[4, 4, 4] = 1
    b = blur(v, 0.8)
    assert b.sum() == pytest.approx(1.0, rel=1e-5) and b[4, 4, 4] < 1


def test_test_scene():
    s = load_scene("test", 16)
    assert s.sigma.shape == (16, 16, 16) and s.rgb.shape == (16, 16, 16, 3)
    assert s.sigma.max() == pytest.approx(SIGMA_MAX) and s.sigma.min() == 0
    assert s.rgb.min() >= 0.05 and s.rgb.max() <= 0.95
    with pytest.raises(ValueError, match=r"^`name` must be one of"):
        load_scene("lego", 16)
