"""The layout rules a newcomer relies on, checked rather than hoped for."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (REPO / "sdk" / "src", REPO / "services" / "src")
MAX_LINES = 400  # a module a reader can hold in their head


def test_no_module_of_the_installed_packages_is_over_400_lines() -> None:
    sizes = {
        path.relative_to(REPO): len(path.read_text().splitlines())
        for package in PACKAGES
        for path in package.rglob("*.py")
    }
    assert len(sizes) > 50  # the walk found the packages
    too_long = {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}, f"split these modules (at most {MAX_LINES} lines): {too_long}"


def test_demo_and_test_tooling_stay_out_of_the_installed_packages() -> None:
    for package in PACKAGES:
        names = {path.name for path in package.rglob("*.py")}
        assert not names & {"demo.py", "local_federation.py"}
    assert (REPO / "tooling" / "demo.py").is_file()
