"""The transformer of a sentence-transformers model, run by OpenVINO on the CPU.

sentence-transformers still tokenises, adds prompts, batches, pools and normalises;
only the model's forward pass (the Hugging Face module inside its ``Transformer``
module) is replaced by the same network compiled by OpenVINO: faster than torch on a
CPU in every precision, and a question in half the time or less (short inputs padded
to recurring shapes, below). Its vectors agree with fp32 torch's to cosine 0.998 or
better, so they share the embedding cache and the index (docs/performance.md).

The network is converted once per model and versions and kept as an IR file (weights
stored as fp16: half the disk and memory, compute in bf16/fp32 regardless) under
``<cache_dir>/openvino/``. Precision ``int8`` quantises that copy once more (NNCF
post-training quantisation, calibrated on the committed ``calibration.jsonl``);
``encoder.choice`` decides where it serves.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import openvino as ov
import torch

from retrieval.encoder.model_install import files_stamp, versions

log = logging.getLogger(__name__)
CALIBRATION = Path(__file__).with_name("calibration.jsonl")
MARKER = "prakat-ir.json"  # names the model a converted copy belongs to
INT8_RECIPE = 3  # bump when _quantize changes: a new int8 copy is made
CONVERTERS = ("torch", "transformers")  # their versions trace the network
# Small inputs (a question, an answer's candidate sentences: up to PAD_UP_TO tokens in
# all) are padded to a multiple of LENGTH_STEP tokens, so that their shapes recur and
# find their compiled kernels in OpenVINO's runtime cache (RUNTIME_CACHE shapes): a
# question of a length not seen before took 11-14 ms, one of a known length 3-4 ms
# (docs/performance.md). Indexing batches (16 x ~150 tokens) are left as they are:
# padding them cost throughput, and one compilation per batch is a small share.
LENGTH_STEP = 16
PAD_UP_TO = 1024
RUNTIME_CACHE = 64


@functools.lru_cache(maxsize=1)
def core() -> ov.Core:
    """The process's one OpenVINO ``Core``: its methods are thread-safe and it serves
    every model, and a ``Core`` made and dropped per model load (the tests' in-process
    commands load one each) is a pattern other projects have met segfaults with
    (ultralytics/ultralytics#25864, openvinotoolkit/openvino#35338)."""
    return ov.Core()


def ir_dir(cache_dir: str | Path, model_id: str, source: str = "") -> Path:
    """Where the converted network of ``model_id`` lives: a new folder whenever the
    versions that trace and convert it or the model's weight files (size, time) change."""
    built = [f"{k}={v}" for k, v in versions(CONVERTERS).items()]
    raw = "|".join([model_id, ov.__version__, *built, *files_stamp(source)])
    key = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return Path(os.path.expanduser(str(cache_dir))) / "openvino" / key


def _save_atomically(network, target: Path, marker: dict | None = None) -> None:
    """Write ``network`` as ``target/model.xml`` (+ .bin, + ``marker`` as MARKER) or
    not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        ov.save_model(network, str(tmp / "model.xml"), compress_to_fp16=True)
        if marker:
            (tmp / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        try:
            tmp.rename(target)
        except OSError:  # another process finished first: use its copy
            if not (target / "model.xml").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _convert(hf_model, tokenizer, target: Path, model_id: str) -> None:
    """Trace the Hugging Face encoder into an OpenVINO IR at ``target`` (atomic)."""

    class Hidden(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask)[0]

    example = tokenizer(["passage: a short example"], return_tensors="pt")
    shapes = [("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)]
    with torch.inference_mode(), warnings.catch_warnings():
        # tracing notes that attention-mask checks become constants: true for an encoder
        warnings.simplefilter("ignore")
        network = ov.convert_model(
            Hidden(hf_model.eval()),
            example_input=(example["input_ids"], example["attention_mask"]),
            input=shapes,
        )
    _save_atomically(network, target, {"model": model_id})


def prune(folder: Path, model_id: str) -> list[Path]:
    """Remove the copies ``folder`` replaces: other converted copies of the same model
    (made before its files or OpenVINO changed) and copies an older prakat left
    without a marker, with their int8 copies and compiled networks (~550 MB each).
    Copies of other models stay. Returns what was removed."""
    removed = []
    for other in folder.parent.iterdir():
        if other == folder or other.name.startswith(".") or not other.is_dir():
            continue  # ".convert-*": another process is writing it
        try:
            owner = json.loads((other / MARKER).read_text(encoding="utf-8")).get("model")
        except (OSError, ValueError):
            owner = None  # an older prakat's copy, or its shared compiled cache
        if owner in (None, model_id):
            shutil.rmtree(other, ignore_errors=True)
            removed.append(other)
    return removed


def calibration_batches(tokenizer, prompts: dict[str, str], batch_size: int = 8) -> list[dict]:
    """The committed calibration texts, with the model's prompts, as network inputs."""
    rows = [json.loads(line) for line in CALIBRATION.read_text(encoding="utf-8").splitlines()]
    texts = [prompts[row["kind"]] + row["text"] for row in rows]
    texts.sort(key=len)  # batches of like lengths, as the product embeds them
    batches = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i : i + batch_size], padding=True, truncation=True,
                        max_length=512, return_tensors="np")  # fmt: skip
        batches.append({k: enc[k].astype("int64") for k in ("input_ids", "attention_mask")})
    return batches


def _quantize(source: Path, tokenizer, prompts: dict[str, str], target: Path) -> None:
    """Post-training int8 quantisation of the IR at ``source`` into ``target`` (atomic):
    the linear layers' weights and inputs, symmetric ("performance" preset: faster
    than "mixed" at the same agreement with fp32, docs/performance.md)."""
    import nncf

    nncf.set_log_level(logging.WARNING)  # not a line per layer
    log.warning("making the int8 copy of the embedding model (once, about a minute)")
    batches = calibration_batches(tokenizer, prompts)
    # NNCF's progress bars print to stdout, where `--json` output goes: stderr instead
    with contextlib.redirect_stdout(sys.stderr):
        network = nncf.quantize(
            core().read_model(str(source / "model.xml")),
            nncf.Dataset(batches),
            model_type=nncf.ModelType.TRANSFORMER,
            preset=nncf.QuantizationPreset.PERFORMANCE,
            subset_size=len(batches),  # all of them
            # The word-embedding table stays fp16: quantised, the CPU plugin unpacks it
            # to fp32 when compiling (+300 MB of memory, +0.9 s of start-up). The
            # attention's query and key stay unquantised: their int8 product is damaged
            # on CPUs without VNNI, and gains nothing measurable with it
            # (docs/performance.md).
            ignored_scope=nncf.IgnoredScope(
                types=["Gather", "ScaledDotProductAttention"], validate=False
            ),
            fast_bias_correction=True,
        )
    _save_atomically(network, target)


def int8_dir(folder: Path) -> Path:
    """Where the int8 copy of the IR at ``folder`` lives: new whenever NNCF or the
    calibration texts change."""
    from importlib.metadata import version  # not nncf itself: slow to import

    raw = f"{INT8_RECIPE}|{version('nncf')}|".encode() + CALIBRATION.read_bytes()
    return folder / f"int8-{hashlib.sha256(raw).hexdigest()[:12]}"


def copy_folder(st_model, precision: str, cache_dir: str | Path, model_id: str) -> Path:
    """Where ``attach`` finds (or makes) the network of ``precision`` for ``st_model``."""
    source = getattr(st_model[0].model, "name_or_path", "")
    converted = ir_dir(cache_dir, model_id, source)
    return int8_dir(converted) if precision == "int8" else converted


def attach(
    st_model,
    precision: str,
    cache_dir: str | Path,
    model_id: str,
    *,
    prompts: dict[str, str] | None = None,
    bf16: bool = True,
) -> Path:
    """Make ``st_model`` (a SentenceTransformer whose first module is its Transformer)
    run its forward pass in OpenVINO; returns the folder of the network it runs. The
    torch module it replaces is no longer referenced by ``st_model``. ``precision`` is
    fp32, bf16 or int8 (the layers int8 leaves alone run in bf16 where ``bf16`` says the
    CPU has it); ``prompts`` ({"query": ..., "passage": ...}) shape int8's calibration
    texts."""
    transformer = st_model[0]
    hf_model = transformer.model
    folder = converted = copy_folder(st_model, "fp32", cache_dir, model_id)
    if not (converted / "model.xml").exists():
        _convert(hf_model, st_model.tokenizer, converted, model_id)
        for old in prune(converted, model_id):
            log.warning("removed an outdated OpenVINO copy of the model: %s", old)
    if precision == "int8":
        folder = int8_dir(converted)
        if not (folder / "model.xml").exists():
            prompts = prompts or {"query": "", "passage": ""}
            _quantize(converted, st_model.tokenizer, prompts, folder)
            for stale in converted.glob("int8-*"):  # made with another NNCF or calibration
                if stale != folder:
                    shutil.rmtree(stale, ignore_errors=True)
    hint = "bf16" if precision == "bf16" or (precision == "int8" and bf16) else "f32"
    compiled = core().compile_model(
        str(folder / "model.xml"),
        "CPU",
        {"INFERENCE_PRECISION_HINT": hint,
         # OpenVINO keeps the compiled network (~215 MB) and reads it back at the next
         # start, faster than compiling it again
         "CACHE_DIR": str(converted / "compiled"),  # goes with its copy when pruned
         "PERFORMANCE_HINT": "LATENCY",
         # kernels kept per input shape (default 5,000): unpadded, every question had
         # a new length and the cache only grew the bot (~80 MB over 122 questions)
         "CPU_RUNTIME_CACHE_CAPACITY": RUNTIME_CACHE},
    )  # fmt: skip
    pad_id = getattr(st_model.tokenizer, "pad_token_id", None) or 0
    transformer.model = OpenVINOEncoder(hf_model.config, compiled, pad_id)
    return folder


class OpenVINOEncoder(torch.nn.Module):
    """Stands where sentence-transformers expects the Hugging Face model: takes
    ``input_ids`` and ``attention_mask`` tensors, returns ``last_hidden_state``.
    Safe to call from several threads (one inference request per call)."""

    def __init__(self, config, compiled, pad_id: int = 0) -> None:
        super().__init__()
        self.config = config
        self.compiled = compiled
        self.pad_id = pad_id

    def forward(self, input_ids, attention_mask, **_ignored):
        ids, mask = input_ids.cpu().numpy(), attention_mask.cpu().numpy()
        rows, length = ids.shape
        padded = _round_up(length, LENGTH_STEP)
        if padded != length and rows * length <= PAD_UP_TO:
            # masked positions: the real tokens' states are exactly those of the unpadded
            # input (tests/test_model_install.py)
            ids = np.pad(ids, [(0, 0), (0, padded - length)], constant_values=self.pad_id)
            mask = np.pad(mask, [(0, 0), (0, padded - length)])
        request = self.compiled.create_infer_request()
        out = next(iter(request.infer({"input_ids": ids, "attention_mask": mask}).values()))
        return {"last_hidden_state": torch.from_numpy(out[:, :length].copy())}


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step
