"""Our own talks (tests/media/talk_*.opus, made by tools/make_talks.py): which section a clip holds.

Each script section is a topic or a dull passage (mic check, sponsor read, ...). Whisper mangles
espeak's words now and then ("cats bear" for "cats purr"), so a clip's sentences are matched to
the script sentence sharing most words with them.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

from tests.helpers import MEDIA, Project

TALKS = ("talk_cues", "talk_plain")


@dataclass(frozen=True, kw_only=True)
class Section:
    kind: str  # "topic" or "dull"
    sentences: tuple[str, ...]


def script(name: str) -> list[Section]:
    out = []
    for block in (MEDIA / f"{name}.txt").read_text().split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if lines:
            out.append(Section(kind=lines[0].removeprefix("# ").strip(), sentences=tuple(lines[1:])))
    return out


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def sentences_of(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if tokens(s)]


def section_of(sentence: str, sections: list[Section]) -> int:
    """Index of the section whose script sentence shares most words with `sentence`."""
    words = tokens(sentence)
    return max((len(words & tokens(s)) / len(words | tokens(s)), k)
               for k, sec in enumerate(sections) for s in sec.sentences)[1]


def clip_problems(clip: dict, sections: list[Section]) -> list[str]:
    """What a viewer would object to: a dull passage, two topics, a title that is no title or is copied."""
    found = {section_of(s, sections) for s in sentences_of(clip["text"])}
    problems = []
    if any(sections[k].kind == "dull" for k in found):
        problems.append(f"holds a dull passage: {clip['text']!r}")
    if len(found) != 1:
        problems.append(f"spans sections {sorted(found)}: {clip['text']!r}")
    title = clip["title"]
    if len(re.findall(r"[A-Za-z]{3,}", title)) < 1:
        problems.append(f"title {title!r} has no real word")
    words = re.findall(r"[a-z0-9']+", title.lower())
    if len(words) >= 2 and re.findall(r"[a-z0-9']+", clip["text"].lower())[:len(words)] == words:
        problems.append(f"title {title!r} copies the clip's opening words")
    return problems


def talk_project(project: Project, name: str) -> list[str]:
    """Put a talk into the project; returns the option that makes it the input."""
    shutil.copy(MEDIA / f"{name}.opus", project.path / f"{name}.opus")
    return [f"input={name}.opus"]
