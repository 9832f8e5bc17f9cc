"""The built wheel contains every subpackage and imports without the source tree."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "rtnerf": "rtnerf",
    "rtl": "rtnerf.rtl",
    "sim": "rtnerf.sim",
    "models": "rtnerf.models",
    "workloads": "rtnerf.workloads",
}


def source_packages():
    names = []
    for folder, package in FOLDERS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            names.append(".".join([package, *rel.parts]))
    return names


@pytest.mark.slow
def test_wheel_has_and_imports_every_subpackage(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("rtnerf-*.whl")
    members = zipfile.ZipFile(wheel).namelist()
    packages = source_packages()
    for package in packages:
        assert f"{package.replace('.', '/')}/__init__.py" in members, package
    # A pure-Python wheel unpacked onto sys.path is an install (venvs made by uv have no pip).
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = (
        "import importlib, sys\n"
        f"for name in {packages!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(target)!r}), module.__file__\n"
        "from rtnerf.cli import main\n"
        "sys.exit(main(['blocks']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "adder_search_tree" in proc.stdout
