"""Writes a section into docs/BENCHMARKS.md, replacing the section with the same "## "
heading (the section's first line) or appending it. Used by the benchmark scripts.

Usage: python3 tests/bench/write_section.py "$section"   (from the repository root)
"""
import pathlib
import re
import sys

section = sys.argv[1].strip() + "\n"
heading = section.splitlines()[0]
path = pathlib.Path("docs/BENCHMARKS.md")
text = path.read_text() if path.exists() else (
    "# Benchmarks\n\nFigures measured on this machine by the scripts named in each section.\n")
pattern = re.compile(re.escape(heading) + r"\n.*?(?=\n## |\Z)", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text, count=1)
else:
    text = text.rstrip() + "\n\n" + section
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(text)
