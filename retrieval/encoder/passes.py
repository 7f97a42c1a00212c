"""Forward passes: sentence-transformers' ``encode`` in batches of like lengths, and
those that give more: passages given as input ids with their sentences' pooled
vectors, and texts with their token states."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.encoder.states import TokenStates
from retrieval.encoder.tokens import pool_spans


def encode(model, texts: Sequence[str], prompt: str, *, dim: int, batch_size: int, autocast,
           progress) -> np.ndarray:  # fmt: skip
    """Unit vectors of ``texts``, sorted by length so that each batch pads little;
    ``progress(n)`` after each batch, where given."""
    if not texts:
        return np.zeros((0, dim), np.float32)
    out = np.zeros((len(texts), dim), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        with autocast():
            out[idx] = model.encode([texts[i] for i in idx], prompt=prompt,
                                    batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)  # fmt: skip
        if progress:
            progress(len(idx))
    return out


def forward_ids(
    model,
    ids,
    rows,
    *,
    dim: int,
    extra: dict,
    pad: int,
    batch_size: int,
    device: str,
    autocast,
    progress,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Unit vectors of passages given as input ids (``extra``: other inputs the model
    takes, None for zeros), and where ``rows`` are given, a unit vector for each of
    their token ranges from the same pass (``tokens.pool_spans``)."""
    import torch

    out = np.zeros((len(ids), dim), np.float32)
    pooled: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    bs = batch_size
    for b in range(0, len(order), bs):
        idx = order[b : b + bs]
        width = max(len(ids[i]) for i in idx)
        input_ids = np.full((len(idx), width), pad, np.int64)
        mask = np.zeros((len(idx), width), np.int64)
        for row, i in enumerate(idx):
            input_ids[row, : len(ids[i])] = ids[i]
            mask[row, : len(ids[i])] = 1
        features = {
            "input_ids": torch.from_numpy(input_ids).to(device),
            "attention_mask": torch.from_numpy(mask).to(device),
        }
        for key, value in extra.items():
            features[key] = torch.zeros_like(features["input_ids"]) if value is None else value
        with torch.inference_mode(), autocast():
            outputs = model(features)
            vecs = outputs["sentence_embedding"]
        vecs = torch.nn.functional.normalize(vecs.float(), p=2, dim=1)
        out[idx] = vecs.cpu().numpy()
        if rows is not None:
            batch_rows = [rows[i] for i in idx]
            for i, spans in zip(
                idx, pool_spans(outputs["token_embeddings"], batch_rows), strict=True
            ):
                pooled[i] = spans
        if progress:
            progress(len(idx))
    return out, pooled


def token_states(
    model, texts: Sequence[str], prompt: str, *, dim: int, batch_size: int, device: str, autocast
) -> tuple[np.ndarray, list[TokenStates]] | None:
    """Unit vectors of ``texts`` and each one's tokens with their unit last-layer states,
    from one forward pass; None where the tokenizer gives no character offsets."""
    import torch

    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        return None
    vecs = np.zeros((len(texts), dim), np.float32)
    states: list[TokenStates] = [TokenStates((), np.zeros((0, dim), np.float32))] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    bs = batch_size
    for b in range(0, len(order), bs):
        idx = order[b : b + bs]
        enc = tokenizer(
            [prompt + texts[i] for i in idx],
            padding=True,
            truncation=True,
            max_length=model.max_seq_length,
            return_offsets_mapping=True,
            return_tensors="np",
        )
        features = {
            key: torch.from_numpy(enc[key].astype(np.int64)).to(device)
            for key in ("input_ids", "attention_mask", "token_type_ids")
            if key in enc
        }
        with torch.inference_mode(), autocast():
            outputs = model(features)
        vecs[idx] = (
            torch.nn.functional.normalize(outputs["sentence_embedding"].float(), p=2, dim=1)
            .cpu()
            .numpy()
        )
        tokens = outputs["token_embeddings"].float().cpu().numpy()
        for row, i in enumerate(idx):
            offsets = enc["offset_mapping"][row]
            # the text's own tokens: past the prompt, not special, not padding
            keep = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 1] > len(prompt))
            keep &= enc["attention_mask"][row].astype(bool)
            rows = tokens[row][keep]
            rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)
            pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"][row][keep].tolist())
            states[i] = TokenStates(tuple(pieces), rows.astype(np.float32))
    return vecs, states
