"""Reading a question: its dates, occurrence, "latest", and completion from the turn
before."""

import datetime as dt

import pytest

from retrieval.question.conversation import Conversations, needs_subject
from retrieval.question.dates import DateError, find_dates, parse_day
from retrieval.question.occurrences import Occurrence, agreement, find_occurrences, renumber
from retrieval.question.query import parse_question

TODAY = dt.date(2022, 3, 17)  # a Thursday


def spans(text, today=TODAY):
    return [(r.first.isoformat(), r.last.isoformat()) for r in find_dates(text, today)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ครม. วันที่ 22 มี.ค. 65 อนุมัติงบกลาง", [("2022-03-22", "2022-03-22")]),
        ("12 ต.ค. 2564", [("2021-10-12", "2021-10-12")]),
        ("วันที่ ๑๒ ตุลาคม ๒๕๖๔", [("2021-10-12", "2021-10-12")]),
        ("ช่วง 11-17 มี.ค. 65 จับได้กี่คดี", [("2022-03-11", "2022-03-17")]),
        ("ตั้งแต่ 23/8/2566", [("2023-08-23", "2023-08-23")]),
        ("12/10/2564", [("2021-10-12", "2021-10-12")]),
        ("The cabinet meeting on March 1, 2022", [("2022-03-01", "2022-03-01")]),
        ("on 12 October 2021", [("2021-10-12", "2021-10-12")]),
        ("in October 2021", [("2021-10-01", "2021-10-31")]),
        ("ต.ค. 64", [("2021-10-01", "2021-10-31")]),
        ("on August 1", [("2021-08-01", "2021-08-01")]),  # no year: the last one passed
        ("เมื่อวานคลังรายงาน", [("2022-03-16", "2022-03-16")]),
        ("yesterday", [("2022-03-16", "2022-03-16")]),
        ("สัปดาห์ที่แล้ว", [("2022-03-07", "2022-03-13")]),
        ("last week", [("2022-03-07", "2022-03-13")]),
        ("เดือนนี้", [("2022-03-01", "2022-03-17")]),
        ("what did the cabinet approve last Tuesday?", [("2022-03-15", "2022-03-15")]),
        ("the 22nd AEC Council meeting", []),
        ("ครั้งที่ 4/2567", []),
    ],
)
def test_dates_in_thai_and_english(text, expected):
    assert spans(text) == expected


@pytest.mark.parametrize("text", ["31 กุมภาพันธ์ 2565", "30 Feb 2022", "2021-02-31", "32/1/2565"])
def test_a_date_that_does_not_exist_is_one_sentence(text):
    with pytest.raises(DateError, match="no such date"):
        find_dates(text, TODAY)


def test_today_must_be_a_date():
    assert parse_day("2022-03-17") == TODAY
    for bad in ("2021-02-31", "yesterday", ""):
        with pytest.raises(DateError, match="YYYY-MM-DD"):
            parse_day(bad)


@pytest.mark.parametrize(
    "text, number, year",
    [
        ("who chaired the 6th AMCC?", 6, None),
        ("the sixth ASEAN Ministerial Conference", 6, None),
        ("การประชุม AMCC ครั้งที่ ๖", 6, None),
        ("คกง. ประชุมครั้งที่ 11/2566", 11, 2566),
        ("คณะทำงาน Cloud Service 1/2567", 1, 2567),
        ("รถไฟความเร็วสูง ระยะที่ 3", 3, None),
        ("รอบที่ 2", 2, None),
        ("group 5 of the evacuees", 5, None),
        ("คนละครึ่งเฟส 4", 4, None),
    ],
)
def test_occurrences(text, number, year):
    assert find_occurrences(text) == {Occurrence(number, year)}


def test_no_occurrence_in_dates_and_names():
    assert find_occurrences("COVID-19 on 2022-03-01, 12/10/2564") == set()


def test_agreement_demotes_only_look_alikes():
    six = {Occurrence(6)}
    assert agreement(six, {Occurrence(6)}) == 2
    assert agreement(six, set()) == 1
    assert agreement(six, {Occurrence(7)}) == 0
    assert agreement({Occurrence(11, 2566)}, {Occurrence(11, 2565)}) == 0
    assert agreement(set(), {Occurrence(7)}) == 1


def test_renumber_keeps_the_rest_of_the_question():
    assert renumber("who chaired the 6th AMCC?", 7) == "who chaired the 7th AMCC?"
    assert renumber("ใครเป็นประธาน AMCC ครั้งที่ 6", 7) == "ใครเป็นประธาน AMCC ครั้งที่ 7"
    assert renumber("the sixth meeting", 2) == "the 2nd meeting"


def test_latest_words():
    for text in ("ข่าวล่าสุดเรื่องวัคซีน", "ความคืบหน้าโครงการ", "What is the latest total?",
                 "How many so far?", "the most recent envoy"):  # fmt: skip
        assert parse_question(text, TODAY).latest, text
    assert not parse_question("who chaired the 6th AMCC?", TODAY).latest


def test_a_follow_up_is_completed_and_a_standalone_question_is_not():
    first = parse_question("who chaired the 6th AMCC?", TODAY)
    follow = parse_question("and the 7th?", TODAY, first)
    assert follow.text == "who chaired the 7th AMCC?"
    assert follow.completed_from == "who chaired the 6th AMCC?"
    assert follow.occurrences == {Occurrence(7)}
    thai = parse_question("นายกฯ เปิดเที่ยวบินปฐมฤกษ์สนามบินเบตงวันไหน", TODAY)
    runway = parse_question("แล้วรันเวย์ยาวเท่าไหร่", TODAY, thai)
    assert runway.text.startswith("นายกฯ เปิดเที่ยวบินปฐมฤกษ์สนามบินเบตงวันไหน")
    assert runway.asked == "แล้วรันเวย์ยาวเท่าไหร่"
    alone = parse_question("How many smart cities has the government declared?", TODAY, first)
    assert alone.completed_from is None
    assert alone.text == alone.asked
    assert not needs_subject("ใครเป็นอธิบดีคนแรกของกรมโลกร้อน")


def test_the_thing_the_question_before_named_points_back_to_it():
    expo = parse_question("Which Thai province will host the World Horticultural Expo?", TODAY)
    size = parse_question("How big will the expo site be?", TODAY, expo)
    assert size.completed_from == expo.text
    # a question with its own date or name stands alone, though it shares "the cabinet"
    march = parse_question("What did the cabinet approve on March 8?", TODAY)
    cabinet = parse_question("What did the cabinet approve on March 1?", TODAY, march)
    assert cabinet.completed_from is None
    assert parse_question("Who chaired the ASEAN summit?", TODAY, expo).completed_from is None
    # "the" thing the question before did not name
    assert parse_question("How big is the airport?", TODAY, expo).completed_from is None


def test_a_follow_up_keeps_the_dates_of_the_turn_before():
    first = parse_question("ครม. วันที่ 22 มี.ค. 65 อนุมัติอะไร", TODAY)
    follow = parse_question("แล้วใช้งบเท่าไร", TODAY, first)
    assert [d.first for d in follow.dates] == [dt.date(2022, 3, 22)]


def test_conversations_forget_after_their_time_and_on_request():
    talks = Conversations(ttl=60)
    q = parse_question("who chaired the 6th AMCC?", TODAY)
    talks.remember(("chat", 1), q)
    assert talks.previous(("chat", 1)) is q
    assert talks.previous(("chat", 2)) is None
    talks.forget(("chat", 1))
    assert talks.previous(("chat", 1)) is None
    gone = Conversations(ttl=0)
    gone.remember(1, q)
    assert gone.previous(1) is None
