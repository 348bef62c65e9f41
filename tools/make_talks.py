#!/usr/bin/env python3
"""Make tests/media/talk_*.opus: two spoken talks with dull passages between topics.

The sample signals every topic change the same way (a 1.2 s pause, content that starts at once).
These talks signal them in other ways, and put the passages a clip must never hold between
the content: a mic check, screen sharing, a sponsor read, housekeeping, subscribe requests,
greetings and thanks.

  talk_cues   ordinal words ("First", "Third"), "Our next topic is", short pauses (0.8 s)
  talk_plain  a question, a long pause, a change of vocabulary with no cue word at all

Each script is written beside its audio (talk_*.txt): sections separated by a blank line, each
opening with "# topic" or "# dull"; the tests read it to know which sentence belongs where.

    python3 tools/make_talks.py      # needs espeak-ng and sox (apt-get install espeak-ng sox)

Audio: espeak-ng en-us at 150 wpm (as tools/make_media.py), Opus mono 16 kHz 14 kb/s.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_media as mm  # noqa: E402  (same voice, same helpers)

# (kind, pause before the section in seconds, sentences)
TALKS: dict[str, list[tuple[str, float, list[str]]]] = {
    "talk_cues": [
        ("dull", 0.0, ["Hello everyone, and welcome to the show.",
                       "Can everyone hear me okay?",
                       "Let me just check the microphone. Testing, one, two, three."]),
        ("topic", 0.8, ["First, let's talk about octopus intelligence.",
                        "An octopus has about five hundred million neurons, and two thirds of them sit in its arms.",
                        "Each arm can taste, touch and make decisions without asking the brain.",
                        "In aquariums, octopuses have learned to unscrew jar lids from the inside to escape.",
                        "That is problem solving without a central brain in charge."]),
        ("dull", 0.8, ["Before we go on, this episode is sponsored by Nordwind backpacks.",
                       "Use the promo code SHOW for ten percent off your first order.",
                       "The link is in the description below."]),
        ("topic", 0.8, ["Our next topic is the history of the pencil.",
                        "Graphite was discovered in England in fifteen sixty five, in a valley called Borrowdale.",
                        "Shepherds used the black lumps of graphite to mark their sheep.",
                        "The graphite mine was so valuable that soldiers guarded its entrance.",
                        "Pencils are painted yellow because the finest graphite later came from China, "
                        "where yellow meant royalty."]),
        ("dull", 0.8, ["If you are enjoying this, please like and subscribe.",
                       "And hit the bell so you never miss a new episode."]),
        ("topic", 0.8, ["Third, why do cats purr?",
                        "A cat purrs by twitching the muscles of its voice box twenty five times a second.",
                        "Cats purr when they are content, but also when they are injured or giving birth.",
                        "Vibrations at those frequencies may even help bones and tissues heal faster.",
                        "So a purring cat might be healing itself."]),
        ("dull", 0.8, ["That's all for today.",
                       "Thank you so much for watching, and see you next week. Goodbye!"]),
    ],
    "talk_plain": [
        ("dull", 0.0, ["Good morning, everybody, and thanks for coming.",
                       "Let me share my screen.",
                       "Can you all see my slides now?",
                       "Okay, it looks like the screen share is working."]),
        ("topic", 0.8, ["Why do volcanoes erupt?",
                        "Deep under the crust, hot rock melts into magma that is lighter than the solid rock "
                        "around it.",
                        "Gas bubbles in the rising magma expand, like a shaken bottle of soda.",
                        "When that pressure beats the strength of the rock above, the mountain explodes.",
                        "Mount Saint Helens lost four hundred metres of its summit in nineteen eighty."]),
        ("dull", 2.5, ["A quick housekeeping note.",
                       "The restrooms are down the hall, and we will take a short break at eleven.",
                       "The slides will be emailed to everyone after the session."]),
        ("topic", 2.5, ["Honeybees dance to share directions.",
                        "A forager returns to the hive and waggles her body along a straight line.",
                        "The angle of the waggle, measured against the sun, points toward the flowers.",
                        "The length of the waggle tells the other bees how far away the nectar is.",
                        "Karl von Frisch won a Nobel Prize for decoding the bee dance."]),
        ("topic", 0.8, ["Glaciers carve valleys in slow motion.",
                        "A glacier grinds the bedrock beneath it with boulders frozen into its ice.",
                        "Over thousands of years that grinding turns narrow river canyons into wide U shaped valleys.",
                        "The fjords of Norway are glacial valleys that the sea flooded after the ice melted."]),
        ("dull", 0.8, ["Thanks again for listening, everyone.",
                       "Are there any questions before we wrap up? Have a great afternoon."]),
    ],
}
SENTENCE_PAUSE = 0.45


def script(sections) -> str:
    return "\n\n".join("\n".join([f"# {kind}", *sents]) for kind, _, sents in sections) + "\n"


def make_talk(name: str, sections, tmp: Path) -> None:
    parts = []
    for s, (_, before, sents) in enumerate(sections):
        for k, sentence in enumerate(sents):
            raw, padded = tmp / f"{name}_{s}_{k}_raw.wav", tmp / f"{name}_{s}_{k}.wav"
            mm.say(sentence, raw)
            lead = (mm.LEAD_IN if s == 0 else before) if k == 0 else 0.0
            # Trailing espeak silence stripped so the pauses are exactly the ones written above.
            mm.run(["sox", "-D", str(raw), str(padded), "reverse", "silence", "1", "0.02", "0.1%",
                    "reverse", "pad", str(lead), str(SENTENCE_PAUSE)])
            parts.append(str(padded))
    wav = tmp / f"{name}.wav"
    mm.run(["sox", "-D", *parts, "-r", "16000", "-c", "1", "-b", "16", str(wav)])
    mm.ff("-i", str(wav), "-c:a", "libopus", "-b:a", "14k", "-ac", "1", "-ar", "16000", *mm.BITEXACT,
          str(mm.MEDIA_DIR / f"{name}.opus"))
    (mm.MEDIA_DIR / f"{name}.txt").write_text(script(sections))
    print(f"{name}: {mm.wav_duration(wav):.1f} s", file=sys.stderr)


def main() -> None:
    mm.check_tools()
    with tempfile.TemporaryDirectory() as tmp:
        for name, sections in TALKS.items():
            make_talk(name, sections, Path(tmp))


if __name__ == "__main__":
    main()
