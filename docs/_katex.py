"""MkDocs hook: KaTeX for the formulas, from Debian's libjs-katex when installed (the site then renders
its math offline); without it the formulas show as their TeX source."""
from __future__ import annotations

import shutil
from pathlib import Path

KATEX = Path("/usr/share/javascript/katex")


def on_post_build(config, **kwargs) -> None:
    if KATEX.is_dir():
        shutil.copytree(KATEX, Path(config["site_dir"]) / "javascripts" / "katex", symlinks=False, dirs_exist_ok=True)
