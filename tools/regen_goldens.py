"""Write the structure goldens of tests/golden/ again from a fresh build of the shipped data.

    python tools/regen_goldens.py

One sheet per language (ATMP) and the bundle: every structure element with its role,
language, ActualText/Alt and the text poppler reads (see ``dump`` in tests/tagged.py).
Review the diff like code: it is what a screen reader is given.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from nexusreports.pipeline import BuildOptions, build  # noqa: E402
from tagged import dump  # noqa: E402
from test_accessibility import GOLDEN, GOLDENS  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as out:
        build(BuildOptions(data_dir=ROOT / "data", templates_dir=ROOT / "templates",
                           out_dir=Path(out), formats=("pdf",)))
        GOLDEN.mkdir(exist_ok=True)
        for name, output in sorted(GOLDENS.items()):
            (GOLDEN / name).write_text(dump(Path(out) / output), encoding="utf-8")
            print(f"wrote {(GOLDEN / name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
