"""The answer sentence's pure parts: where a Thai question's answer lies from the
sentence restating it, and the question words' weights among the sentences."""

from __future__ import annotations

import math

import pytest

from retrieval.ranking.answer import among_sentences, answer_side
from retrieval.ranking.answer_types import may_answer, question_type
from retrieval.text.words import word_tokens


@pytest.mark.parametrize(
    ("question", "sentence", "side"),
    [
        # ends with the question's last content word before its question word: the
        # answer follows ("มี" says nothing of where it goes and is passed over)
        ("คณะรัฐมนตรีมีมติเห็นชอบอะไร", "ที่ประชุมคณะรัฐมนตรีวันนี้มีมติเห็นชอบ", 1),
        ("เครื่องจักรมีกี่กระบอกสูบ", "ประสิทธิภาพของเครื่องจักร", 1),
        # a question word newmm leaves inside a longer word still marks the place
        ("ช่องเขาไรน์มีชื่อเสียงเพราะอะไร", "ช่องเขาไรน์เป็นที่รู้จักและมีชื่อเสียง", 1),
        # the question word is the subject; the sentence starts with its predicate
        ("พรรคใดมีฐานเสียงมากในภาคอีสาน", "มีฐานเสียงมากในภาคอีสานเช่นกัน", -1),
        # ... but not where the word after it opens a relative clause or a phrase
        ("โรงงานประเภทใดที่วิคตอเรียกำลังจะเสียไป", "ที่วิคตอเรียมีโรงงานผลิตรถยนต์", 0),
        ("แม่น้ำไรน์ไหลไปยังทิศใดระหว่างยุคน้ำแข็ง", "ระหว่างช่วงเวลานี้แม่น้ำไรน์ไหลไปยังทิศตะวันตก", 0),
        # the sentence goes on past the word before the question word: it holds the answer
        ("คณะรัฐมนตรีมีมติเห็นชอบอะไร", "คณะรัฐมนตรีมีมติเห็นชอบโครงการสะพาน", 0),
        # a yes/no question has no place for an answer
        ("คณะรัฐมนตรีเห็นชอบโครงการหรือไม่", "คณะรัฐมนตรีเห็นชอบโครงการ", 0),
        ("ไม่มีคำถาม", "ไม่มีคำถาม", 0),
    ],
)
def test_a_sentence_restating_a_thai_question_up_to_its_question_word_points_beside_it(
    question, sentence, side
):
    assert answer_side(word_tokens(question), word_tokens(sentence)) == side


def test_an_empty_sentence_or_question_points_nowhere():
    assert answer_side([], word_tokens("มีมติเห็นชอบ")) == 0
    assert answer_side(word_tokens("เห็นชอบอะไร"), []) == 0


def test_a_question_word_every_sentence_holds_weighs_least_among_them():
    """Corpus IDF times BM25's IDF among the sentences: log(1 + (N - n + 0.5) / (n + 0.5))."""
    sentences = [{"อัลเลน", "เล่น"}, {"อัลเลน", "แซ็ค", "136"}, {"อัลเลน", "ทีม"}]
    weights = among_sentences({"อัลเลน": 5.0, "แซ็ค": 3.0, "ไม่มี": 2.0}, sentences)
    assert weights["อัลเลน"] == pytest.approx(5.0 * math.log(1 + 0.5 / 3.5))
    assert weights["แซ็ค"] == pytest.approx(3.0 * math.log(1 + 2.5 / 1.5))
    assert weights["ไม่มี"] == pytest.approx(2.0 * math.log(1 + 3.5 / 0.5))
    assert weights["แซ็ค"] > weights["อัลเลน"]  # rarer in the corpus, rarer here too


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("ใครเป็นประธานการประชุม AMCC ครั้งที่ 6", "person"),
        ("ประชุมครั้งนี้จัดขึ้นเมื่อไร", "date"),
        ("มีผู้เข้าร่วมประชุมกี่ประเทศ", "number"),
        ("งบประมาณทั้งหมดเท่าไหร่", "number"),
        ("how many countries took part?", "number"),
        # "เกี่ยว" (about) spells กี่ (how many) inside it: 32 XQuAD-th questions were
        # typed as asking for a number and answered only by sentences holding one
        ("ร่างพระราชบัญญัติที่ไม่ใช่ของรัฐบาลมักเกี่ยวข้องกับเรื่องใด", None),
        ("การประชุมเกี่ยวกับอะไร", None),
        ("มีกี่โครงการที่เกี่ยวกับน้ำ", "number"),
        ("ประชุมกลุ่มย่อยครั้งที่ 4 จัดที่จังหวัดไหน", "place"),
        ("In which country was the 42nd ASEAN Summit held?", "place"),
        # a plain "where" may be a building or a street; การเมือง is politics
        ("Where was the Summer Theatre located?", None),
        ("พรรคการเมืองใดครองพื้นที่เขตด้านในของเมลเบิร์น", None),
    ],
)
def test_question_type(question, kind):
    assert question_type(question) == kind


def test_a_question_about_something_is_not_answered_only_by_numbers():
    sentences = ["ที่ประชุมหารือเรื่องการค้าชายแดน", "ผู้เข้าร่วม 300 คนจาก 10 ประเทศ"]
    assert may_answer("การประชุมเกี่ยวกับเรื่องใด", sentences) == [True, True]
    assert may_answer("มีผู้เข้าร่วมกี่คน", sentences) == [False, True]


def test_a_which_province_question_is_answered_by_a_sentence_naming_another_place():
    """A province, a country (not Thailand) or ณ (at) before a place; ณ before a day
    and the places the question names do not count."""
    sentences = [
        "อธิบดีเป็นประธานเปิดการประชุมของคณะทำงานในประเทศไทย",
        "ข้อมูล ณ วันที่ 24 มีนาคม 2565",
        "ณ ห้องบอลรูม 1 โรงแรมอมารี พัทยา จังหวัดชลบุรี",
        "การประชุมครั้งที่ 42 จัดที่อินโดนีเซีย",
    ]
    assert may_answer("ประชุมจัดที่จังหวัดไหน", sentences) == [False, False, True, True]
    assert may_answer("ประชุมที่อินโดนีเซียจัดที่เมืองไหน", sentences) == [False, False, True, False]


def test_royal_nouns_name_no_person():
    sentences = ["พระบรมราชโองการโปรดเกล้าฯ ตั้งกรมใหม่", "น.ส.ไตรศุลี ไตรสรณกุล รองโฆษก"]
    assert may_answer("ใครเป็นรองโฆษก", sentences) == [False, True]
