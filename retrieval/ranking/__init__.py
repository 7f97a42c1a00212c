"""From a question to ranked passages and the answer sentence."""
