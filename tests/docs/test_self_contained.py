"""The repository explains itself: no page of the README or docs/ sends a reader to a document outside it (the
contract files the project was specified in are not shipped), and every relative link leads to a file that exists."""

from __future__ import annotations

import re

from tests.docs.reference import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_OUTSIDE = re.compile(r"\b(?:API|SPEC|DESIGN)\.md\b|/work/shared")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_no_page_cites_a_document_outside_the_repository():
    """A newcomer with only the repository could not open API.md: the pages link the reference instead."""
    found = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]
    assert not found, "pages cite documents that are not in the repository:\n" + "\n".join(found)


def test_every_relative_link_leads_to_a_file_of_the_repository():
    broken = []
    for page in PAGES:
        for target in _LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: ({target})")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)
