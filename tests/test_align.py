import numpy as np
import pytest

from retrieval.encoder.states import TokenStates
from retrieval.ranking.align import alignment, token_weights


def test_question_weights_leave_out_function_words_and_punctuation():
    tokens = ("▁who", "▁chair", "ed", "▁the", "▁6", "th", "▁AM", "CC", "?")
    weights = token_weights(tokens)
    assert weights.tolist() == pytest.approx([0, 1 / 6, 1 / 6, 0, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0])
    assert token_weights(["##ed", "Ġthe", "ใคร"]).tolist() == pytest.approx([0.5, 0, 0.5])
    assert token_weights(("▁the", "?")).tolist() == pytest.approx([0.5, 0.5])  # none left


def test_alignment_is_the_weighted_mean_of_each_question_tokens_best_match():
    question = TokenStates(("a", "b"), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    root = np.sqrt(0.5)
    sentence = TokenStates(("x", "y"), np.array([[root, root, 0.0], [0.0, 0.0, 1.0]]))
    # "a" best meets x (0.707), "b" best meets x (0.707)
    assert alignment(question, np.array([0.5, 0.5]), sentence) == pytest.approx(root)
    other = TokenStates(("z",), np.array([[0.0, 1.0, 0.0]]))
    assert alignment(question, np.array([0.25, 0.75]), other) == pytest.approx(0.75)
    empty = TokenStates((), np.zeros((0, 3)))
    assert alignment(question, np.array([0.5, 0.5]), empty) == 0.0
