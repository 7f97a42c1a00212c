"""Following a topic, below the bot: which releases a topic is matched to (the real
model, index and store over the test releases) and the follows.sqlite bookkeeping."""

from __future__ import annotations

import pytest

from bot.follows import Follows, TooManyTopics, queue_new
from corpus.loader import load_path
from retrieval.ranking.topics import TopicMatcher
from tests.conftest import sample_file
from tests.test_bot import runtime as runtime  # noqa: F401 (the fixture)

VACCINE, FLOOD = "47004", "46520"  # AstraZeneca vaccines from Japan; flooded rural roads
TOPICS = ["AstraZeneca vaccines", "น้ำท่วม ถนน"]


def matcher_of(runtime, threshold):  # noqa: F811
    index, _ = runtime.load_index()
    return TopicMatcher(runtime.store, runtime.embedder, index, threshold=threshold)


def test_each_topic_is_matched_to_the_release_about_it_and_no_other(runtime):  # noqa: F811
    # seven releases make a small scale: the default threshold assumes an archive
    matcher = matcher_of(runtime, threshold=1.5)
    releases = matcher.indexed(runtime.store.doc_ids())
    matches = matcher.match(TOPICS, releases)
    assert {(m.topic, m.doc_id) for m in matches} == {(TOPICS[0], VACCINE), (TOPICS[1], FLOOD)}
    vaccine = next(m for m in matches if m.doc_id == VACCINE)
    assert "AstraZeneca" in vaccine.sentence
    scored = {(topic, r.doc_id) for topic, r, _, _ in matcher.scores(TOPICS, releases)}
    # a Thai release that does not name the Thai topic is never a candidate
    assert (TOPICS[1], "46681") not in scored and (TOPICS[1], FLOOD) in scored


def test_a_release_not_added_yet_scores_as_it_will_once_added(runtime):  # noqa: F811
    matcher = matcher_of(runtime, threshold=1.5)
    doc = load_path(sample_file(FLOOD))
    (fresh,) = matcher.unindexed([doc], runtime.settings.chunking)
    (stored,) = matcher.indexed([FLOOD])
    # the same passages; their vectors differ by the batch they were embedded in
    a = {t: s for t, _, s, _ in matcher.scores(TOPICS, [fresh])}
    b = {t: s for t, _, s, _ in matcher.scores(TOPICS, [stored])}
    assert a.keys() == b.keys() and all(abs(a[t] - b[t]) < 0.05 for t in a)


def test_no_topic_or_no_release_matches_nothing(runtime):  # noqa: F811
    matcher = matcher_of(runtime, threshold=-100)
    releases = matcher.indexed([VACCINE])
    assert matcher.match(["", "   "], releases) == []
    assert matcher.match(TOPICS, []) == []
    assert matcher.indexed(["no-such-release"]) == []


def test_follows_are_per_user_capped_and_kept(tmp_path):
    path = tmp_path / "follows.sqlite"
    follows = Follows(path)
    first = follows.follow(7, 7, "  ข้าว \n ราคา ", "th", cap=2)
    assert first.topic == "ข้าว ราคา"
    assert follows.follow(7, 7, "ข้าว ราคา", "en", cap=2).follow_id == first.follow_id
    follows.follow(7, 7, "rice exports", "en", cap=2)
    with pytest.raises(TooManyTopics):
        follows.follow(7, 7, "a third topic", "en", cap=2)
    follows.follow(8, 8, "rice exports", "en", cap=2)  # another user's cap is their own
    assert not follows.unfollow(8, first.follow_id)  # not theirs
    follows.close()

    again = Follows(path)  # a restart keeps them
    assert [f.topic for f in again.of_user(7)] == ["ข้าว ราคา", "rice exports"]
    assert again.of_user(7)[0].lang == "en"
    assert again.unfollow(7, first.follow_id)
    assert [f.topic for f in again.of_user(7)] == ["rice exports"]
    assert again.unfollow_chat(8) == 1 and again.of_user(8) == []


def test_new_releases_are_queued_once_and_only_while_someone_follows(runtime, tmp_path):  # noqa: F811
    path = tmp_path / "follows.sqlite"
    queue_new(path, runtime.store, ["new-1"])
    follows = Follows(path)
    assert follows.pending() == []  # nobody follows: nothing to tell
    follows.follow(7, 7, "rice", "en", cap=10)
    queue_new(path, runtime.store, ["new-1", "new-2", "new-1", VACCINE])  # VACCINE is held
    assert follows.pending() == ["new-1", "new-2"]
    follows.mark_told(7, ["new-1"])
    assert follows.told(7, ["new-1", "new-2"]) == {"new-1"}
    follows.done(["new-1"])
    assert follows.pending() == ["new-2"]
