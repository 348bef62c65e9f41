"""What the offline ranking reads from one sentence: is it dull, does it open cleanly, is it a hook.

Word lists, not a model: each list names the phrases speakers actually use for the thing, so a
miss is a missing phrase that can be added (and a test written for it). Used by offline.py.
"""

from __future__ import annotations

import re

# Function words: never key terms, never the noun a demonstrative points at.
STOPWORDS = frozenset("""
a about above across after again against all almost also always am an and another any are aren't around
as at away back be because been before being below between both but by can can't cannot could couldn't
did didn't do does doesn't doing don't down during each even ever every few for from further get gets
getting go goes going gonna got had hadn't has hasn't have haven't having he he'd he'll he's her here
here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
just kind know let let's like lot lots made make makes many may maybe me mean might more most much must
mustn't my myself need next no nor not now of off oh ok okay often on once one only or other ought our
ours ourselves out over own pretty quite really right said same say says see shan't she she'd she'll
she's should shouldn't so some something still such sure take than that that's the their theirs them
themselves then there there's these they they'd they'll they're they've thing things think this those
though through to too uh um under until up upon us very without within along toward towards onto
into across among beside besides inside outside want was wasn't way we we'd we'll we're we've
well were weren't what what's when when's where where's which while who who's whom why why's will with
won't would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves
""".split())

# Passages a short must never hold: they mean nothing outside the talk they were said in.
# Matched as whole words on the lower-cased sentence; the key is the kind reported.
DULL_PHRASES: dict[str, tuple[str, ...]] = {
    "mic check": ("can you hear me", "can everyone hear me", "can everybody hear me", "hear me okay",
                  "hear me ok", "is this on", "is this thing on", "mic check", "check the microphone",
                  "check my microphone", "check the mic", "testing one two", "testing, one", "am i muted",
                  "is my mic", "is the sound okay", "is the audio okay", "sound check"),
    "screen sharing": ("share my screen", "sharing my screen", "screen share", "see my screen",
                       "see my slides", "see the slides", "share the slides", "next slide", "my slides now",
                       "can you see this", "let me share", "stop sharing", "screen sharing"),
    "sponsor read": ("sponsored by", "sponsor", "sponsors", "promo code", "discount code", "use the code",
                     "use code", "brought to you by", "link in the description", "in the description below",
                     "percent off", "affiliate link", "first order"),
    "housekeeping": ("housekeeping", "restroom", "restrooms", "bathroom", "bathrooms", "wifi password",
                     "short break", "coffee break", "slides will be", "recording will be",
                     "session is being recorded", "being recorded", "fire exit", "put your phones",
                     "mute your", "in the chat", "questions at the end", "any questions", "before we wrap up",
                     "quick reminder", "before we start", "before we begin", "a quick note"),
    "subscribe request": ("subscribe", "subscribed", "like and subscribe", "hit the bell", "ring the bell",
                          "notification bell", "smash that like", "like button", "follow me on",
                          "leave a comment", "share this video", "never miss"),
    "greeting or thanks": ("hello everyone", "hi everyone", "hey everyone", "hello everybody", "hi everybody",
                           "welcome everyone", "welcome to the show", "welcome to the channel",
                           "welcome back", "good morning", "good afternoon", "good evening",
                           "thanks for coming", "thank you for coming", "thanks for watching",
                           "thank you for watching", "thanks for listening", "thank you for listening",
                           "thanks for joining", "thank you for joining", "thanks again", "thank you so much",
                           "see you next", "see you all", "goodbye", "bye bye", "that's all for today",
                           "that is all for today", "that's it for today", "have a great", "my name is"),
}
_DULL_RE = {kind: re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
            for kind, phrases in DULL_PHRASES.items()}

# A clip that opens with one of these continues a thought begun before it ("So that's why...").
DANGLING_OPENERS = frozenset(["so", "and", "but", "or", "because", "also", "then", "which", "plus", "however",
                              "therefore", "thus", "anyway", "that's why", "this is why", "that is why",
                              "which is why", "as i said", "like i said", "as well"])
# A pronoun whose referent sits in the sentence before ("It has eight arms.").
PRONOUN_OPENERS = frozenset("it its it's this that these those they them their he she his her".split())
DEMONSTRATIVES = frozenset("this that these those".split())
THAT_CLAUSE = frozenset("think thought know knew say said says believe mean means show shows showed found find "
                        "so such realize realized notice noticed remember hope sure fact guess feel felt".split())
# Openings of a hook: a dare, a reveal, a strong claim.
HOOK_OPENERS = frozenset("why how what imagine here's picture nobody everyone never stop listen "
                         "secret truth surprisingly actually".split())
STRONG_WORDS = frozenset("never always every nobody everyone most biggest smallest fastest oldest first only "
                         "secret surprising surprisingly actually myth wrong truth even".split())
TITLE_WORDS = 10  # more is not a title
NUMBER_WORDS = frozenset("two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
                         "sixty seventy eighty ninety hundred hundreds thousand thousands million millions "
                         "billion billions percent half".split())


def dull_kind(text: str) -> str:
    """The dull kind a sentence belongs to ("" for none)."""
    low = " ".join(text.lower().replace("’", "'").split())
    low = re.sub(r"[^\w' ]+", " ", low)
    low = " ".join(low.split())
    return next((kind for kind, rx in _DULL_RE.items() if rx.search(low)), "")


def lead_in(lead: tuple[str, ...], words: frozenset[str]) -> bool:
    """Whether the first one to three tokens form one of `words`."""
    return any(" ".join(lead[:n]) in words for n in (1, 2, 3) if len(lead) >= n)


def dangling(lead: tuple[str, ...]) -> bool:
    return lead_in(lead, DANGLING_OPENERS)


def pronoun_open(lead: tuple[str, ...]) -> bool:
    return bool(lead) and lead[0] in PRONOUN_OPENERS


def refers_back(tokens: tuple[str, ...]) -> bool:
    """A pronoun, or a demonstrative before a noun ("trap that gas"), early in the sentence: its
    referent is in the sentence before."""
    if pronoun_open(tokens[:1]):
        return True
    return any(t in DEMONSTRATIVES and nxt not in STOPWORDS and nxt.isalpha()
               and not (t == "that" and prev in THAT_CLAUSE)  # "think that octopuses..." opens a clause
               for prev, t, nxt in zip(tokens[0:5], tokens[1:6], tokens[2:7]))


def has_number(tokens: tuple[str, ...]) -> bool:
    return any(t.isdigit() or t.rstrip("%").replace(".", "", 1).isdigit() or t in NUMBER_WORDS for t in tokens)


def hook(*, question: bool, tokens: tuple[str, ...]) -> float:
    """0..1: a question opens best, then a number, then a strong claim."""
    if question:
        return 1.0
    if has_number(tokens):
        return 0.7
    if tokens and (tokens[0] in HOOK_OPENERS or any(t in STRONG_WORDS for t in tokens)):
        return 0.6
    return 0.0


def closes(text: str) -> bool:
    """Whether a sentence ends a thought: a full stop or exclamation, not a question, comma or colon."""
    t = text.rstrip().rstrip("\"')]”’")
    return t.endswith((".", "!", "…")) and not t.endswith(("...", ":"))


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def title_problem(title: str, text: str) -> str | None:
    """Why a title is unusable (None when it is fine): no real words, too long, or the clip's opening copied."""
    words = _tokens(title)
    if not any(len(w) >= 3 and w.isalpha() for w in words):
        return "no real words"
    if len(words) > TITLE_WORDS:
        return f"{len(words)} words"
    opening = _tokens(text)[:len(words) + 4]
    # The clip's own first words ("Why Do Volcanoes Erupt" for "Why do volcanoes erupt? Deep...")
    # or a run of 3+ words lifted from its opening: that is the transcript, not a title.
    if len(words) >= 2 and opening[:len(words)] == words:
        return "copies the clip's opening words"
    if len(words) >= 3 and any(opening[k:k + len(words)] == words for k in range(len(opening))):
        return "copies the clip's opening words"
    return None
