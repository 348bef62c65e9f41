"""Which stretches of heard speech no word covers: the decoder's drops that are decoded again."""

import pytest

from clipforge.stages.coverage import uncovered

# speech segments (VAD), word spans, the stretches that count as dropped
CASES = [
    ("every stretch covered", [(0.0, 3.0)], [(0.1, 1.0), (1.1, 2.9)], []),
    ("a whole sentence dropped", [(0.0, 3.0), (4.0, 6.5)], [(0.1, 1.0), (1.1, 2.9)], [(4.0, 6.5)]),
    ("a short breath is not a drop", [(0.0, 3.0), (3.5, 4.0)], [(0.1, 2.9)], []),
    ("a phrase dropped inside a long segment", [(0.0, 8.0)], [(0.1, 2.0), (6.0, 7.9)], [(2.3, 5.7)]),
    ("word slack covers a late or early word time", [(0.0, 2.0)], [(0.25, 1.0), (1.0, 1.75)], []),
    ("drops on both sides of a pause with no word between are one stretch",
     [(0.0, 1.0), (1.3, 2.0)], [(5.0, 6.0)], [(0.0, 2.0)]),
    ("a word between two holes keeps them apart", [(0.0, 1.2), (1.3, 3.0)], [(1.15, 1.35)],
     [(0.0, 0.85), (1.65, 3.0)]),
    ("no speech, no drop", [], [(0.0, 1.0)], []),
    ("no words at all: all speech is dropped", [(0.5, 2.0)], [], [(0.5, 2.0)]),
]


@pytest.mark.parametrize("name,speech,words,expected", CASES, ids=[c[0] for c in CASES])
def test_uncovered(name, speech, words, expected):
    assert uncovered(speech, words) == expected


def test_min_gap_counts_speech_time_not_the_pause_between():
    # Two 0.6-s holes 5 s apart with nothing said between: 1.2 s of speech without words.
    assert uncovered([(0.0, 0.6), (5.6, 6.2)], [], min_gap=1.0) == [(0.0, 6.2)]
    assert uncovered([(0.0, 0.4), (5.6, 6.0)], [], min_gap=1.0) == []
