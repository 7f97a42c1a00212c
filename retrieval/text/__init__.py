"""Thai and English text: normalising, sentences, words, the CRF, chunks, character grams."""
