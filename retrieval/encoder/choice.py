"""Which encoder serves here: chosen by what the CPU computes fast, checked against the
unquantised model before it serves, and recorded with the CPU and its measured speed.

``auto`` prefers, on a CPU: OpenVINO int8 where the CPU has VNNI or AMX, OpenVINO bf16
where it has bf16 arithmetic, OpenVINO fp32, then torch fp32 (the reference, which
needs no check). Each copy is checked on ``check_texts.jsonl`` (Thai, English,
full-width, digits, long and short) against torch fp32 in the same process: below
``MIN_COSINE`` it does not serve, and the next option is tried. The record
(``<cache_dir>/encoders/<key>.json``) keeps one entry per CPU kind, so a later load on
the same kind serves its copy at once, and a copy moved to another CPU is checked there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.encoder.cpu import CpuKind, this_cpu
from retrieval.encoder.model_install import files_stamp, versions

log = logging.getLogger(__name__)
CHECK_TEXTS = Path(__file__).with_name("check_texts.jsonl")
# The lowest cosine to the unquantised model's vector a served copy may give on any
# check text: int8 without damage gives 0.998, with the damage of an AVX2 CPU 0.991.
MIN_COSINE = 0.995
RECORDED = ("torch", "transformers", "sentence-transformers", "openvino", "nncf")


@dataclass(frozen=True)
class Option:
    backend: str  # torch or openvino
    precision: str  # fp32, bf16 or int8

    @property
    def name(self) -> str:
        return f"{self.backend}-{self.precision}"

    @property
    def label(self) -> str:
        return f"{'OpenVINO' if self.backend == 'openvino' else 'torch'} {self.precision}"

    @classmethod
    def parse(cls, name: str) -> Option:
        backend, precision = name.split("-", 1)
        return cls(backend, precision)


PRECISIONS = ("auto", "fp32", "bf16", "int8")
BACKENDS = ("auto", "torch", "openvino")
REFERENCE = Option("torch", "fp32")
_ORDER = [Option("openvino", p) for p in ("int8", "bf16", "fp32")] + [
    Option("torch", "bf16"),
    REFERENCE,
]


def check_config(backend: str, precision: str, device: str) -> None:
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


def auto_options(device: str, cpu: CpuKind, have_openvino: bool) -> list[Option]:
    """What ``auto`` tries, best first: only what is exact and fast on this device."""
    if device.startswith("cuda"):
        return [Option("torch", "bf16"), REFERENCE]
    fast = []
    for option in _ORDER:
        if option.backend == "openvino" and not have_openvino:
            continue
        if option.precision == "int8" and not cpu.int8_fast:
            continue
        if option.precision == "bf16" and not cpu.bf16:
            continue
        fast.append(option)
    return fast


def options(
    backend: str, precision: str, device: str, cpu: CpuKind, have_openvino: bool
) -> tuple[list[Option], str]:
    """The options to try in order (the configured ones, then ``auto``'s as fallbacks)
    and a warning when the configured one is slow on this CPU ("" when not)."""
    fast = auto_options(device, cpu, have_openvino)
    if backend == "auto" and precision == "auto":
        return fast, ""
    wanted = [
        o
        for o in _ORDER
        if backend in ("auto", o.backend) and precision in ("auto", o.precision)
        and (device == "cpu" or o.backend == "torch")
        and (o.backend == "torch" or have_openvino)
    ]  # fmt: skip
    wanted.sort(key=lambda o: o not in fast)  # the fast ones first, else the order
    warning = ""
    if wanted and wanted[0] not in fast:
        why = {"int8": "without VNNI or AMX int8 is slower than fp32",
               "bf16": "it has no bf16 arithmetic"}.get(wanted[0].precision, "")  # fmt: skip
        if why:
            warning = f"{wanted[0].label} is slow on this CPU ({why}); precision auto avoids it"
    return wanted + [o for o in fast if o not in wanted], warning


def reason(option: Option, cpu: CpuKind, configured: bool) -> str:
    """Why ``option`` serves, in a clause."""
    if configured:
        return "as configured in embedding.backend and embedding.precision"
    if option.precision == "int8":
        return "the CPU has VNNI or AMX: int8 is exact and fastest here"
    if option.precision == "bf16":
        return "no VNNI or AMX, so int8 would be slower; bf16 arithmetic is native"
    if option.backend == "openvino":
        return "no VNNI, AMX or bf16 arithmetic: int8 would be slower than fp32"
    return "the unquantised model: OpenVINO is not installed or no faster copy passed"


def check_texts() -> list[tuple[str, str]]:
    """The fixed texts every copy is checked on: (kind, text), kind passage or query."""
    rows = [json.loads(line) for line in CHECK_TEXTS.read_text(encoding="utf-8").splitlines()]
    return [(row["kind"], row["text"]) for row in rows]


def record_path(cache_dir: str | Path, signature: str, model_path: str) -> Path:
    """Where the record of this model, built from these files under these versions, is
    kept: a new one whenever any of those or the check changes."""
    raw = (
        "|".join(
            [signature, str(MIN_COSINE), *files_stamp(model_path)]
            + [f"{k}={v}" for k, v in versions(RECORDED).items()]
        )
        + hashlib.sha256(CHECK_TEXTS.read_bytes()).hexdigest()
    )
    key = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return Path(os.path.expanduser(str(cache_dir))) / "encoders" / f"{key}.json"


def read_record(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def entry_key(kind: CpuKind, config: str) -> str:
    """One entry per kind of CPU and configuration (``backend/precision``)."""
    return f"{kind.key} {config}"


def recorded(path: Path, kind: CpuKind, config: str) -> dict | None:
    """The entry of ``config`` on ``kind`` in the record at ``path``, if any."""
    return read_record(path).get("cpus", {}).get(entry_key(kind, config))


def write_entry(path: Path, kind_key: str, entry: dict, signature: str) -> None:
    """Put ``entry`` into the record under ``kind_key`` (atomic; other entries kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = read_record(path) or {"model": signature, "versions": versions(RECORDED)}
        record.setdefault("cpus", {})[kind_key] = entry
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def measure(st_model, texts: list[tuple[str, str]], prompts: dict[str, str], autocast=None):
    """The check texts' unit vectors through ``st_model`` as it runs now, and its speed
    on them: passages in batches of 16 (tokens/s), questions one at a time (ms)."""
    passages = [t for kind, t in texts if kind == "passage"]
    queries = [t for kind, t in texts if kind == "query"]

    def encode(batch: list[str], prompt: str) -> np.ndarray:
        with autocast() if autocast else contextlib.nullcontext():
            return st_model.encode(batch, prompt=prompt, batch_size=16, show_progress_bar=False,
                                   normalize_embeddings=True, convert_to_numpy=True)  # fmt: skip

    vectors = np.concatenate(
        [encode(passages, prompts["passage"]), encode(queries, prompts["query"])]
    )  # the first pass is also the warm-up
    tokens = sum(
        min(len(ids), st_model.max_seq_length)
        for ids in st_model.tokenizer([prompts["passage"] + p for p in passages])["input_ids"]
    )
    started = time.perf_counter()
    encode(passages, prompts["passage"])
    seconds = time.perf_counter() - started
    query_ms = []
    for q in queries:
        started = time.perf_counter()
        encode([q], prompts["query"])
        query_ms.append((time.perf_counter() - started) * 1000)
    return vectors, {
        "tokens_per_s": round(tokens / seconds),
        "query_ms": round(statistics.median(query_ms), 1),
    }


def describe(entry: dict) -> list[str]:
    """A record entry as lines for `prakat model install` and `prakat index status`."""
    served = Option.parse(entry["served"])
    check = entry["checks"].get(entry["served"], {})
    reference = entry["checks"].get(REFERENCE.name, {})
    cpu = entry["cpu"]
    limit = f", capped at {cpu['isa_limit']}" if cpu.get("isa_limit") else ""
    lines = [
        f"Encoder:   {served.label} ({entry['reason']})",
        f"CPU:       {cpu['model']} ({' '.join(cpu['flags']) or 'no AVX2'}{limit})",
    ]
    if served != REFERENCE and "min_cosine" in check:
        lines.append(
            f"Checked:   lowest cosine {check['min_cosine']:.4f} to the unquantised model on "
            f"{entry['texts']} texts (needs {MIN_COSINE})"
        )
    for name, result in entry["checks"].items():
        if not result.get("passed", True):
            lines.append(
                f"Refused:   {Option.parse(name).label}, lowest cosine {result['min_cosine']:.4f}"
            )
    if "tokens_per_s" in check:
        speed = f"Speed:     {check['tokens_per_s']:,} tokens/s, a question in "
        speed += f"{check['query_ms']} ms"
        if served != REFERENCE and "tokens_per_s" in reference:
            speed += (
                f" (torch fp32: {reference['tokens_per_s']:,} tokens/s, {reference['query_ms']} ms)"
            )
        lines.append(speed)
    return lines


def copy_id(folder: Path) -> str:
    """Tells one made OpenVINO copy from another made later in the same place."""
    st = (folder / "model.bin").stat()
    return f"{folder.name}:{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class Served:
    option: Option
    entry: dict


def device_kind(device: str) -> CpuKind:
    """The CPU, or for a GPU its name: what a record entry is kept for."""
    if device.startswith("cuda"):
        import torch

        return CpuKind(torch.cuda.get_device_name(0), ("cuda",))
    return this_cpu()


def serve(st_model, *, backend: str, precision: str, device: str, cache_dir: str,
          signature: str, model_path: str, prompts: dict[str, str],
          attach, folder_for, autocast_for) -> Served:  # fmt: skip
    """Make ``st_model`` (loaded in torch fp32) run the encoder chosen for this device:
    the recorded one where this kind of CPU has a record for this configuration, else
    the first of ``options`` that passes the check. ``attach(option)`` puts an OpenVINO
    copy in place (returns its folder), ``folder_for(option)`` says where it lives,
    ``autocast_for(option)`` gives torch bf16 its context (or None)."""
    import importlib.util

    kind = device_kind(device)
    have_openvino = importlib.util.find_spec("openvino") is not None
    tried, warning = options(backend, precision, device, kind, have_openvino)
    if warning:
        log.warning(warning)
    path = record_path(cache_dir, signature, model_path)
    config = f"{backend}/{precision}"
    entry = recorded(path, kind, config)
    if entry:
        option = Option.parse(entry["served"])
        if option.backend == "torch":
            return Served(option, entry)
        folder = folder_for(option)
        if (folder / "model.bin").exists() and copy_id(folder) == entry.get("copy"):
            attach(option)
            return Served(option, entry)

    checks: dict[str, dict] = {}
    served, copy, texts = REFERENCE, None, []
    if tried[0] != REFERENCE:  # the reference itself needs no check
        texts = check_texts()
        served, copy = _first_passing(st_model, tried, texts, prompts, checks,
                                      attach, autocast_for)  # fmt: skip
    if served == tried[0]:
        why = reason(served, kind, configured=config != "auto/auto")
    else:
        configured = "the configured " if config != "auto/auto" else ""
        why = f"{configured}{tried[0].label} did not pass here; the next that did"
    entry = {"cpu": kind.as_dict(), "config": config, "served": served.name, "reason": why,
             "checks": checks, "texts": len(texts), "copy": copy,
             "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    write_entry(path, entry_key(kind, config), entry, signature)
    return Served(served, entry)


def _first_passing(st_model, tried, texts, prompts, checks, attach, autocast_for):
    """Check ``tried`` in order against torch fp32 (``st_model`` as loaded), noting each
    result in ``checks``; returns the first option that passed, and its copy's id."""
    torch_module = st_model[0].model
    reference, speed = measure(st_model, texts, prompts)
    checks[REFERENCE.name] = {"min_cosine": 1.0, "passed": True, **speed}
    for option in tried:
        if option == REFERENCE:
            break
        try:
            folder = attach(option) if option.backend == "openvino" else None
        except Exception as exc:  # conversion depends on the model and the libraries
            log.warning("%s could not be made (%s: %s); trying the next encoder",
                        option.label, type(exc).__name__, exc)  # fmt: skip
            continue
        vectors, speed = measure(st_model, texts, prompts, autocast_for(option))
        low = float(np.min(np.sum(vectors * reference, axis=1)))
        checks[option.name] = {"min_cosine": round(low, 5), "passed": low >= MIN_COSINE, **speed}
        if low >= MIN_COSINE:
            return option, folder and copy_id(folder)
        log.warning("%s is damaged on this CPU (lowest cosine %.4f to the unquantised model, "
                    "needs %s): not served", option.label, low, MIN_COSINE)  # fmt: skip
        st_model[0].model = torch_module
    return REFERENCE, None
