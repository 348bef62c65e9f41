"""B-roll matching and placement (stages.broll): limits as tables, stemming, and folder scanning."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from clipforge.errors import ClipforgeError, ErrorCode
from clipforge.records import Word
from clipforge.stages.broll import NO_MATCH, Asset, BrollOptions, keywords, plan_broll, scan_assets, stem


def say(text: str, start: float = 0.0, pace: float = 0.5) -> list[Word]:
    """Whisper-like words (leading space) every `pace` seconds, each lasting 0.4 s."""
    return [Word(f" {w}", start + i * pace, start + i * pace + 0.4) for i, w in enumerate(text.split())]


# 24 words over 12 s; "bread" at 4.0 s, "bicycle" at 8.5 s.
TALK = say("so today we are going to bake some bread with flour and water then we ride a bicycle "
           "around town and look at the sky")
BREAD = Asset(path="/b/bread.jpg", kind="image", tags=("bread", "loaf"))
BIKE = Asset(path="/b/bike.mp4", kind="video", duration=10.0, tags=("bicycle", "wheel"))
CAT = Asset(path="/b/cat.jpg", kind="image", tags=("cat",))


def starts(words):
    return {round(w.start, 3) for w in words}


def ends(words):
    return {round(w.end, 3) for w in words}


@pytest.mark.parametrize("a,b", [("breads", "bread"), ("baking", "bake"), ("baked", "bakes"), ("skies", "sky"),
                                 ("running", "run"), ("bicycles", "bicycle"), ("falling", "falls"),
                                 ("Bread's", "bread"), ("loaves", "loaves")])
def test_stem_pairs_meet(a, b):
    assert stem(a) == stem(b)


def test_keywords_drop_stopwords_and_keep_times():
    kws = keywords(say("and then we bake the breads"))
    assert [(k.text, k.stem) for k in kws] == [("bake", stem("bake")), ("breads", "bread")]
    assert kws[1].start == pytest.approx(2.5)


def test_matching_asset_chosen_over_non_matching():
    plan = plan_broll(words=TALK, clip_duration=12.0, assets=[CAT, BREAD])
    assert [i["asset"] for i in plan["inserts"]] == ["/b/bread.jpg"]
    assert "bread" in plan["inserts"][0]["why"]


def test_no_match_plans_nothing():
    assert plan_broll(words=TALK, clip_duration=12.0, assets=[CAT])["inserts"] == []
    assert plan_broll(words=TALK, clip_duration=12.0, assets=[CAT])["note"] == NO_MATCH
    assert plan_broll(words=TALK, clip_duration=12.0, assets=[])["note"] == NO_MATCH


@pytest.mark.parametrize("opts,expect", [
    # (options, [(asset, start, end)]): "bread" at 4.0 s, "bicycle" at 8.0 s, a 12 s clip
    (BrollOptions(max_share=1.0), [("/b/bread.jpg", 4.0, 6.9), ("/b/bike.mp4", 8.0, 10.9)]),
    (BrollOptions(max_inserts=1), [("/b/bread.jpg", 4.0, 6.9)]),
    (BrollOptions(max_inserts=0), []),
    (BrollOptions(max_len=1.5), [("/b/bread.jpg", 4.0, 5.4), ("/b/bike.mp4", 8.0, 9.4)]),
    # max_share 0.3 of 12 s = 3.6 s in all: the second insert gets what is left (0.7 s) < min_len: dropped
    (BrollOptions(max_share=0.3), [("/b/bread.jpg", 4.0, 6.9)]),
    (BrollOptions(max_share=0.5), [("/b/bread.jpg", 4.0, 6.9), ("/b/bike.mp4", 8.0, 10.9)]),
    (BrollOptions(max_share=0.25), [("/b/bread.jpg", 4.0, 6.9)]),
    # protecting the first 5 s moves "bread" to the first word start after it
    (BrollOptions(protect=5.0, max_share=0.5), [("/b/bread.jpg", 5.0, 7.9), ("/b/bike.mp4", 8.0, 10.9)]),
    (BrollOptions(mode="pip", max_inserts=1), [("/b/bread.jpg", 4.0, 6.9)]),
])
def test_limits(opts, expect):
    words = say("today we talk about how we bake fresh bread at home and then we go on bicycle in the park all day")
    plan = plan_broll(words=words, clip_duration=12.0, assets=[BREAD, BIKE], opts=opts)
    got = [(i["asset"], i["start"], i["end"]) for i in plan["inserts"]]
    assert got == [(a, pytest.approx(s), pytest.approx(e)) for a, s, e in expect]
    covered = sum(i["end"] - i["start"] for i in plan["inserts"])
    assert covered <= opts.max_share * 12.0 + 1e-9
    for ins in plan["inserts"]:
        assert ins["start"] >= opts.protect and ins["mode"] == opts.mode
        assert opts.min_len <= ins["end"] - ins["start"] <= opts.max_len + 1e-9
        assert round(ins["start"], 3) in starts(words) and round(ins["end"], 3) in ends(words)
    spans = sorted((i["start"], i["end"]) for i in plan["inserts"])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_no_overlap_when_two_assets_match_the_same_word():
    loaf = Asset(path="/b/loaf.png", kind="image", tags=("bread",))
    words = say("we bake bread " + "and more words follow here for a good while longer " * 3)
    plan = plan_broll(words=words, clip_duration=20.0, assets=[BREAD, loaf], opts=BrollOptions(protect=0.5))
    spans = sorted((i["start"], i["end"]) for i in plan["inserts"])
    assert len(spans) == 1  # "bread" is said once; the second asset has no free moment of its own
    assert len({i["asset"] for i in plan["inserts"]}) == len(plan["inserts"])


def test_short_video_caps_the_insert():
    short = Asset(path="/b/bike.mp4", kind="video", duration=1.6, tags=("bicycle",))
    words = say("first we talk a while and then we ride the bicycle through the park for quite a long time")
    plan = plan_broll(words=words, clip_duration=15.0, assets=[short])
    (ins,) = plan["inserts"]
    assert ins["end"] - ins["start"] <= 1.6 and ins["kind"] == "video"


def test_extra_terms_match_but_rank_below_spoken_matches():
    sky = Asset(path="/b/clouds.jpg", kind="image", tags=("clouds",))
    plan = plan_broll(words=TALK, clip_duration=12.0, assets=[sky, BREAD], opts=BrollOptions(max_inserts=1),
                      extra_terms=["clouds"])
    assert plan["inserts"][0]["asset"] == "/b/bread.jpg"
    plan = plan_broll(words=TALK, clip_duration=12.0, assets=[sky], extra_terms=["fluffy clouds"])
    assert plan["inserts"][0]["start"] >= 2.0 and "proposed" in plan["inserts"][0]["why"]


@pytest.mark.parametrize("kw", [dict(max_inserts=-1), dict(min_len=4.0), dict(max_share=1.5), dict(mode="zoom"),
                                dict(protect=-1)])
def test_bad_options(kw):
    with pytest.raises(ClipforgeError) as err:
        BrollOptions(**kw)
    assert err.value.code is ErrorCode.BAD_OPTION


def test_scan_assets_reads_tags_and_probes(tmp_path):
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :, 1] = 180
    cv2.imwrite(str(tmp_path / "fresh_bread-loaf 02.jpg"), img)
    (tmp_path / "fresh_bread-loaf 02.txt").write_text("Baking, sourdough\nkitchen\n")
    cv2.imwrite(str(tmp_path / "sky.png"), img)
    (tmp_path / "sky.tags").write_text("clouds blue")
    (tmp_path / "notes.txt").write_text("not an asset")
    (tmp_path / "._sky.png").write_bytes(b"\0\5resource fork")
    assets = scan_assets(tmp_path)
    assert [a.kind for a in assets] == ["image", "image"]
    bread, sky = assets
    assert bread.path == str((tmp_path / "fresh_bread-loaf 02.jpg").resolve())
    assert bread.tags == ("fresh", "bread", "loaf", "baking", "sourdough", "kitchen")
    assert sky.tags == ("sky", "clouds", "blue") and sky.duration is None


def test_scan_rejects_a_fake_video(tmp_path):
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "clip.mp4").write_text("just text\n")
    with pytest.raises(ClipforgeError) as err:
        scan_assets(tmp_path)
    assert err.value.code is ErrorCode.BROLL_INVALID and "clip.mp4" in err.value.message


@pytest.mark.parametrize("setup", ["missing", "empty", "only_text"])
def test_scan_rejects_unusable_folders(tmp_path, setup):
    folder = tmp_path / "broll"
    if setup != "missing":
        folder.mkdir()
    if setup == "only_text":
        (folder / "readme.txt").write_text("hello")
    with pytest.raises(ClipforgeError) as err:
        scan_assets(folder)
    assert err.value.code is ErrorCode.BROLL_INVALID and "broll" in err.value.message
