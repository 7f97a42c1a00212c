from __future__ import annotations

import math

import pytest

from retrieval.text.grams import gram_bm25


def test_grams_are_lower_case_runs_with_spaces_collapsed():
    """ "AMCC  6" is "amcc 6" to the grams, on either side."""
    texts = ["amcc 6 seen", "AMCC\n  6 held", "amcc6", "other words"]
    scores = gram_bm25("AMCC  6", texts)
    assert scores == gram_bm25("amcc 6", texts)
    assert scores[0] == pytest.approx(scores[1]) and scores[0] > scores[2] > scores[3] == 0.0
    assert gram_bm25("ab", texts) == [0.0] * 4  # shorter than a gram
    fossil = gram_bm25("ฟอสซิล", ["ฟอสซิล", "ซิลฟอส", "ฟอ"])
    assert fossil[0] > fossil[1] > fossil[2] == 0.0  # 4 grams held against 1 ("ซิล")


def test_a_spelling_variant_still_matches_by_its_shared_runs():
    """The question's "ฟอซซิล" is the passages' "ฟอสซิล": no word in common, but the
    runs of three characters they share find the passage about fossils."""
    texts = [
        "ซากฟอสซิลทีโนฟอราพบได้ยากมาก",
        "ทีโนฟอราอาศัยอยู่ในทะเลทั่วโลก",
        "การประชุมจัดขึ้นที่กรุงเทพมหานคร",
    ]
    scores = gram_bm25("ซากฟอซซิลทีโนฟอรามีอายุเท่าใด", texts)
    assert scores[0] > scores[1] > scores[2] == 0.0


def test_document_frequencies_come_from_the_texts_themselves():
    """A gram every text holds weighs little, one a single text holds weighs the most:
    among passages on one topic, what tells them apart decides. The score is BM25's
    (k1 1.2, b 0.75) with each gram's count and the texts' lengths in grams."""
    texts = ["xyz abc", "xyz def", "xyz ghi"]
    only_common, rare = gram_bm25("xyz", texts), gram_bm25("abc", texts)
    assert only_common[0] == only_common[1] == only_common[2] > 0
    assert rare[0] > 2 * only_common[0] and rare[1] == rare[2] == 0.0
    # one gram held once by one of three texts of equal length: idf x (k1 + 1) / (1 + k1)
    assert rare[0] == pytest.approx(math.log(1 + (3 - 1 + 0.5) / (1 + 0.5)))


def test_nothing_to_score():
    assert gram_bm25("question", []) == []
    assert gram_bm25("qq", ["some text"]) == [0.0]  # shorter than a gram
    assert gram_bm25("zzz", ["some text", "other"]) == [0.0, 0.0]


def test_overlapping_occurrences_count_and_texts_do_not_run_into_each_other():
    """ "ๆๆๆๆ" holds "ๆๆๆ" twice; the end of one text and the start of the next make
    no gram together."""
    texts = ["aaๆๆๆๆ", "xx", "ab c"]
    once, twice = gram_bm25("ๆๆๆ", ["ๆๆๆ", "ๆๆๆๆ", "zz"])[:2]
    assert twice > once > 0
    assert gram_bm25("ๆxx", texts) == [0.0, 0.0, 0.0]  # would span texts 1 and 2
    assert gram_bm25("b c", texts)[2] > 0
    with pytest.raises(ValueError):
        gram_bm25("abcd", texts, n=4)


def test_thai_digits_in_a_passage_match_the_questions_arabic_ones():
    """The question is searched with Arabic digits (``normalise_query``); a passage's
    "๖" is read as "6", as the word BM25 reads it."""
    texts = ["การประชุมครั้งที่ ๖", "การประชุมครั้งที่ 5"]
    sixth, fifth = gram_bm25("ครั้งที่ 6", texts)
    assert sixth > fifth > 0
    assert gram_bm25("ครั้งที่ 6", texts) == gram_bm25("ครั้งที่ 6", ["การประชุมครั้งที่ 6", texts[1]])


def test_gram_shares_are_each_texts_bm25_over_the_best_ones():
    from retrieval.text.grams import gram_shares

    texts = ["ฟอสซิลทีโนฟอรา", "ฟอสซิล", "ทะเล"]
    scores = gram_bm25("ซากฟอสซิลทีโนฟอรา", texts)
    assert gram_shares("ซากฟอสซิลทีโนฟอรา", texts) == pytest.approx([s / max(scores) for s in scores])
    assert max(gram_shares("ซากฟอสซิลทีโนฟอรา", texts)) == 1.0
    assert gram_shares("zzz", ["some text", "other"]) == [0.0, 0.0]  # no gram held
    assert gram_shares("question", []) == []
