"""The floor pyproject.toml declares for mt-940 is a version our parser works with (defect 10).

``mt-940>=4.30`` was allowed while ``connectors/formats/mt940.py`` used ``mt940.Options``,
which first appears in 5.1: an install resolving to 4.30 failed on import. This test takes
the floor version from pyproject.toml, fetches exactly that wheel from the package index
(pip download, no dependencies) and parses every MT940 golden sample with it in a
subprocess; it fails if the floor is below what the code uses.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
CHECK = """
import json, sys
from pathlib import Path
import mt940
from connectors.formats import get_format
assert Path(mt940.__file__).is_relative_to(Path(sys.argv[1])), mt940.__file__
for sample in sorted(Path("fixtures/samples/mt940").iterdir()):
    if sample.name.endswith((".expected.jsonl", ".md")):
        continue
    got = "".join(
        json.dumps(r.to_json(), ensure_ascii=False) + "\\n"
        for r in get_format("mt940").parse(sample.read_bytes())
    )
    expected = sample.with_name(sample.stem + ".expected.jsonl").read_text("utf-8")
    assert got == expected, sample.name
print(mt940.__version__)
"""


def declared_floor(name: str) -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    for dep in deps:
        m = re.fullmatch(rf"{re.escape(name)}\s*>=\s*([0-9][0-9.]*)(,.*)?", dep.strip())
        if m:
            return m.group(1)
    raise AssertionError(f"{name} has no >= floor in pyproject.toml")


def test_floor_is_parsed_from_pyproject() -> None:
    assert re.fullmatch(r"\d+(\.\d+)+", declared_floor("mt-940"))


def test_mt940_parser_works_with_the_declared_floor(tmp_path: Path) -> None:
    floor = declared_floor("mt-940")
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest",
         str(tmp_path / "wheel"), f"mt-940=={floor}"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    require(fetched.returncode == 0, f"cannot fetch mt-940=={floor}: {fetched.stderr[-300:]}")
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"mt-940=={floor}: {done.stderr.strip().splitlines()[-1:]}"
    assert done.stdout.strip().startswith(floor)
