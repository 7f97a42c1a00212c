"""Stage 3b alone: the order the question's date, occurrence and "latest" give the
candidates that match its topic, on made-up scores (no model)."""

import datetime as dt

from retrieval.question.query import parse_question
from retrieval.ranking.constants import Ranking
from retrieval.ranking.constraints import Release, order, published

TODAY = dt.date(2022, 3, 28)
R = Ranking()


def releases(*rows):
    return {c: Release(doc, dt.date.fromisoformat(day), title) for c, doc, day, title in rows}


def texts(table):
    return lambda ids: {c: table.get(c, "") for c in ids}


def with_others(scores, rel=None, n=10):
    """``scores`` among ``n`` far weaker candidates of other releases: the topic's
    margin is measured against the median candidate."""
    others = {100 + i: 0.60 for i in range(n)}
    if rel is not None:
        rel.update(releases(*[(c, f"o{c}", "2022-03-27", "other") for c in others]))
    return {**scores, **others}


def test_without_constraints_the_score_decides():
    scores = {1: 0.80, 2: 0.82, 3: 0.79}
    ranked, ok = order(scores, parse_question("who chaired it", TODAY), {}, texts({}), R)
    assert ranked == [2, 1, 3] and ok


def test_latest_puts_the_newest_of_the_topic_first_and_leaves_the_rest():
    rel = releases((1, "a", "2022-03-10", "weekly update"), (2, "b", "2022-03-24", "weekly update"),
                   (3, "c", "2022-03-27", "another topic"))  # fmt: skip
    scores = with_others({1: 0.85, 2: 0.84, 3: 0.62}, rel)
    ranked, _ = order(scores, parse_question("ยอดใช้จ่ายล่าสุดเท่าไร", TODAY), rel, texts({}), R)
    assert ranked[:3] == [2, 1, 3]  # 3 is newest but off the topic (beyond topic_margin)


def test_a_named_date_prefers_that_day_then_a_day_or_two_after():
    rel = releases((1, "a", "2022-03-15", "ครม."), (2, "b", "2022-03-23", "ครม."),
                   (3, "c", "2022-03-22", "ครม."))  # fmt: skip
    scores = with_others({1: 0.86, 2: 0.85, 3: 0.84}, rel)
    q = parse_question("ครม. วันที่ 22 มี.ค. 65 อนุมัติอะไร", TODAY)
    ranked, _ = order(scores, q, rel, texts({}), R)
    assert ranked[:3] == [3, 2, 1]


def test_a_release_naming_the_asked_date_in_its_text_counts_as_of_that_day():
    rel = releases((1, "a", "2022-03-24", "สรรพสามิต"), (2, "b", "2022-03-05", "สรรพสามิต"))
    scores = with_others({1: 0.84, 2: 0.85}, rel)
    q = parse_question("ช่วง 11-17 มี.ค. 65 กรมสรรพสามิตจับได้กี่คดี", TODAY)
    table = {1: "ผลการปราบปราม ระหว่างวันที่ 11 - 17 มีนาคม 2565 จับกุมได้ 2,000 คดี"}
    ranked, _ = order(scores, q, rel, texts(table), R)
    assert ranked[:2] == [1, 2]


def test_an_occurrence_demotes_look_alikes_and_refuses_when_only_they_are_left():
    rel = releases((1, "a", "2021-10-07", "การประชุม AMCC ครั้งที่ 5"),
                   (2, "b", "2021-10-07", "การประชุม AMCC ครั้งที่ 6"))  # fmt: skip
    scores = with_others({1: 0.86, 2: 0.85}, rel)
    ranked, ok = order(scores, parse_question("who chaired the 6th AMCC?", TODAY), rel,
                       texts({}), R)  # fmt: skip
    assert ranked[:2] == [2, 1] and ok
    _, ok = order(scores, parse_question("who chaired the 9th AMCC?", TODAY), rel, texts({}), R)
    assert not ok
    # a passage naming other occurrences of something, under a title naming none, is
    # not a look-alike of a series: the question is answered
    plain = releases((1, "a", "2021-10-07", "Super Bowl"), (2, "b", "2021-10-07", "Super Bowl"))
    table = {1: "ซูเปอร์โบว์ลครั้งที่ 33", 2: "ซูเปอร์โบว์ลครั้งที่ 33"}
    q = parse_question("แมนนิงอายุเท่าไรตอนเล่นซูเปอร์โบว์ลครั้งที่ 50", TODAY)
    _, ok = order(with_others({1: 0.86, 2: 0.85}, plain), q, plain, texts(table), R)
    assert ok


def test_releases_after_the_day_asked_are_left_out():
    rel = releases((1, "a", "2022-03-10", "x"), (2, "b", "2022-03-29", "x"))
    assert published({1: 0.8, 2: 0.9}, rel, TODAY) == {1: 0.8}
    assert published({1: 0.8, 2: 0.9}, rel, None) == {1: 0.8, 2: 0.9}
