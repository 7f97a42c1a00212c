"""A text's tokens with their last-layer states, as the encoder gives them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TokenStates:
    """A text's tokens (the tokenizer's pieces) and their unit last-layer states
    (``float32 [n, dim]``), prompt and special tokens left out."""

    tokens: tuple[str, ...]
    states: np.ndarray
