"""What the LLM segmenter sends and what it accepts: one candidate in, a title and a kind out.

The program proposes the candidates (stages.segment.offline.shortlist); a model never writes a
time, a sentence number or a quote. Measured on real small models (SmolLM2-135M to
Qwen2.5-Coder-1.5B): sentence numbers and quotes were unusable, position bias chose among
listed passages, but one short request per candidate asking for a title and a kind from a
fixed list was usable in every reply. So:

- label: one request per candidate; the reply is {"title", "kind"}, `kind` an enum, so a grammar
  (llama.cpp) or strict mode (OpenAI) makes every reply a valid label. A dull kind vetoes.
- rank (llm_choose=yes, for strong models): the reply is a list of candidate ids (an enum), so
  every pick is valid by construction; the candidates are listed in a shuffled order per request.

Schemas stay inside what OpenAI's strict mode accepts (enum, minItems/maxItems; no maxLength):
output length is bounded by max_tokens instead.
"""

from __future__ import annotations

import hashlib
import random

from clipforge.stages.segment.features import DULL_PHRASES, title_problem

KINDS = ("insight", "story", "how-to", "fact", "opinion", "joke", "question and answer")
DULL_KINDS = tuple(DULL_PHRASES)  # mic check, screen sharing, sponsor read, housekeeping, ...
# {"title": "...", "kind": "..."} with a title of up to 8 words is ~25 tokens in common tokenizers;
# the rest is slack. A model looping inside the title string stops here (finish_reason "length").
LABEL_MAX_TOKENS = 48
RANK_ROUNDS = 3   # rank requests per run, each with its own shuffled order; positions averaged


def label_schema() -> dict:
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "a short catchy title of 2 to 6 words, in your own words"},
            "kind": {"type": "string", "enum": [*KINDS, *DULL_KINDS]},
        },
        "required": ["title", "kind"],
        "additionalProperties": False,
    }


# No example values: a small model copies an example verbatim.
LABEL_SYSTEM = """\
You name short video clips cut from a longer talk.
You get the transcript of one clip. Reply with JSON only: an object with exactly two keys.
"title": a short catchy title of 2 to 6 words that says what the clip is about, in your own words; \
do not copy the clip's first words.
"kind": what the clip is, one of: {kinds}.
Use {dull} when the clip is mostly that: such clips are not shown."""


def label_messages(text: str) -> list[dict]:
    system = LABEL_SYSTEM.format(kinds=", ".join(KINDS + DULL_KINDS),
                                 dull=", ".join(f'"{k}"' for k in DULL_KINDS))
    return [{"role": "system", "content": system},
            {"role": "user", "content": "Transcript of the clip:\n" + " ".join(text.split())}]


def check_label(reply: dict, text: str) -> tuple[str, str, str | None]:
    """(title, kind, what is wrong with the title or None); the schema check has already passed."""
    title = " ".join(str(reply["title"]).split()).strip(" \"'")
    return title, reply["kind"], title_problem(title, text)


def rank_schema(ids: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {"order": {"type": "array", "items": {"type": "string", "enum": list(ids)},
                                 "minItems": len(ids), "maxItems": len(ids)}},
        "required": ["order"],
        "additionalProperties": False,
    }


def rank_max_tokens(n: int) -> int:
    return 24 + 6 * n  # '"c12", ' is at most ~5 tokens


RANK_SYSTEM = """\
You choose which short video clips to publish. You get candidate clips cut from one talk, \
each with its id, a title and its transcript.
Rank all of them from best to worst as a stand-alone short video: a complete thought with a \
hook that makes sense without the rest of the talk.
Reply with JSON only: an object whose only key "order" lists every candidate id once, best first."""


def shuffled(ids: list[str], texts: list[str], round_: int) -> list[int]:
    """A shuffled order of the candidates for rank request `round_`: seeded from the candidates
    themselves, so a resumed run sends the same request (and the ledger answers it) while every
    round lists them differently and position bias cannot choose."""
    seed = hashlib.sha256("\x00".join([*ids, *texts, str(round_)]).encode()).digest()
    order = list(range(len(ids)))
    random.Random(seed).shuffle(order)
    if round_ > 0 and len(order) > 1 and order == shuffled(ids, texts, round_ - 1):
        order = order[1:] + order[:1]  # never the same order twice in a row
    return order


def rank_messages(items: list[tuple[str, str, str]]) -> list[dict]:
    """items: (id, title, text) in the order to list them."""
    listing = "\n\n".join(f"id {cid}: {title}\n{' '.join(text.split())}" for cid, title, text in items)
    return [{"role": "system", "content": RANK_SYSTEM},
            {"role": "user", "content": f"{len(items)} candidates:\n\n{listing}"}]


def check_rank(reply: dict, ids: list[str]) -> list[str]:
    """The ids in the reply's order, each once; ids it left out follow in the given order."""
    seen = list(dict.fromkeys(c for c in reply["order"] if c in ids))
    return seen + [c for c in ids if c not in seen]
