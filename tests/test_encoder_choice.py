"""The encoder chosen for the CPU it runs on, and checked against the unquantised model.

What the product serves is compared with torch fp32 (the unquantised model) whichever
encoder this CPU gets; each encoder is forced where the CPU allows it; the AVX2 path
runs on any CPU through oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA=AVX2) in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from retrieval.encoder import choice
from retrieval.encoder.choice import REFERENCE, Option, auto_options, options
from retrieval.encoder.cpu import CpuKind, read_cpu, this_cpu
from retrieval.encoder.embedder import Embedder, EmbedderConfig
from tests.test_model_install import QUERIES, fixed_passages

ROOT = Path(__file__).resolve().parent.parent
ZEN3 = "model name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx fma avx2 bmi2\n"
ZEN4 = (
    "model name\t: AMD EPYC 9B14\nflags\t\t: avx2 avx512f avx512bw avx512_bf16 "
    "avx512_vnni avx512vl\n"
)
SAPPHIRE = (
    "model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8\n"
)
OV = "openvino"


def test_cpu_flags_and_the_isa_cap_oneDNN_honours():
    zen3, zen4 = read_cpu(ZEN3), read_cpu(ZEN4)
    assert zen3.flags == ("avx2",) and not zen3.int8_fast and not zen3.bf16
    assert zen4.flags == ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
    assert zen4.int8_fast and zen4.bf16
    capped = read_cpu(ZEN4, "avx2")
    assert capped.flags == ("avx2",) and capped.isa_limit == "AVX2" and not capped.int8_fast
    assert read_cpu(ZEN4, "AVX512_CORE_VNNI").flags == ("avx2", "avx512f", "avx512_vnni")
    assert read_cpu(SAPPHIRE, "ALL").flags == read_cpu(SAPPHIRE).flags
    assert len({zen3.key, zen4.key, capped.key}) == 3  # each kind is checked on its own
    assert read_cpu("").describe() == "unknown CPU (no AVX2)"


def test_auto_prefers_int8_only_where_the_cpu_has_vnni_or_amx():
    ov_int8, ov_bf16, ov_fp32 = Option(OV, "int8"), Option(OV, "bf16"), Option(OV, "fp32")
    torch_bf16 = Option("torch", "bf16")
    assert auto_options("cpu", read_cpu(ZEN3), True) == [ov_fp32, REFERENCE]
    assert auto_options("cpu", read_cpu(ZEN4), True) == [
        ov_int8, ov_bf16, ov_fp32, torch_bf16, REFERENCE
    ]  # fmt: skip
    assert auto_options("cpu", read_cpu(ZEN4, "AVX2"), True) == [ov_fp32, REFERENCE]
    assert auto_options("cpu", read_cpu(ZEN3), False) == [REFERENCE]
    assert auto_options("cuda", read_cpu(ZEN3), True) == [torch_bf16, REFERENCE]


def test_a_configured_encoder_is_tried_first_with_a_warning_when_slow_here():
    zen3, zen4 = read_cpu(ZEN3), read_cpu(ZEN4)
    tried, warning = options("auto", "int8", "cpu", zen3, True)
    assert tried == [Option(OV, "int8"), Option(OV, "fp32"), REFERENCE]
    assert warning == (
        "OpenVINO int8 is slow on this CPU (without VNNI or AMX int8 is slower than fp32); "
        "precision auto avoids it"
    )
    assert options("auto", "int8", "cpu", zen4, True) == (auto_options("cpu", zen4, True), "")
    tried, warning = options("torch", "auto", "cpu", zen4, True)
    assert tried[:2] == [Option("torch", "bf16"), REFERENCE] and warning == ""
    tried, warning = options(OV, "bf16", "cpu", zen3, True)
    assert tried[0] == Option(OV, "bf16") and "no bf16 arithmetic" in warning


def cosines_to_reference(embedder: Embedder, reference: Embedder) -> np.ndarray:
    passages = fixed_passages()[:24]
    return np.concatenate([
        np.sum(embedder.embed_passages(passages) * reference.embed_passages(passages), axis=1),
        np.sum(embedder.embed_queries(QUERIES) * reference.embed_queries(QUERIES), axis=1),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def reference(model_cache):
    return Embedder(
        EmbedderConfig(cache_dir=str(model_cache), backend="torch", precision="fp32")
    ).load()


def test_what_this_cpu_is_served_agrees_with_the_unquantised_model(embedder, reference):
    first = auto_options("cpu", this_cpu(), True)[0]
    assert (embedder.backend, embedder.precision) == (first.backend, first.precision)
    assert embedder.encoder["served"] == first.name
    assert embedder.encoder["cpu"]["flags"] == list(this_cpu().flags)
    check = embedder.encoder["checks"][first.name]
    assert check["passed"] and check["min_cosine"] >= choice.MIN_COSINE
    assert check["tokens_per_s"] > 0 and check["query_ms"] > 0
    low = cosines_to_reference(embedder, reference).min()
    assert low >= 0.995, f"{first.label}: lowest cosine {low:.4f}"


@pytest.mark.parametrize(
    ("backend", "precision", "threshold"),
    [(OV, "fp32", 0.99999), (OV, "bf16", 0.9999), (OV, "int8", 0.995), ("torch", "bf16", 0.999)],
)
def test_each_encoder_the_cpu_allows_agrees_with_the_unquantised_model(
    model_cache, reference, backend, precision, threshold
):
    """int8 runs on every CPU (slowly without VNNI, but never damaged); bf16 needs the
    CPU's bf16 arithmetic."""
    if precision == "bf16" and not this_cpu().bf16:
        pytest.skip(f"no bf16 arithmetic on {this_cpu().describe()}")
    forced = Embedder(
        EmbedderConfig(cache_dir=str(model_cache), backend=backend, precision=precision)
    ).load()
    assert (forced.backend, forced.precision) == (backend, precision)
    cosines = cosines_to_reference(forced, reference)
    assert cosines.min() >= threshold, f"{backend} {precision}: lowest {cosines.min():.6f}"
    if precision == "int8":
        assert cosines.min() < 0.99999  # really the quantised network, not the fp32 one


def run_capped(tmp_path: Path, model_cache: Path, config: str = "") -> tuple[dict, str]:
    """`prakat model install --json` in a process whose oneDNN is capped at AVX2."""
    path = tmp_path / "config.yaml"
    path.write_text(config)
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "PRAKAT_CACHE_DIR": str(model_cache),
           "PRAKAT_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "--config", str(path),
         "model", "install", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def test_without_vnni_auto_serves_fp32_and_int8_is_slow_but_not_damaged(
    tmp_path, model_cache, embedder
):
    """The AVX2 path on any CPU: int8's attention products were what an AVX2 CPU
    damaged (lowest cosine 0.991 on the check texts); the int8 copy leaves them
    unquantised, so a copy made on one CPU is exact on the other."""
    report, _ = run_capped(tmp_path, model_cache)
    encoder = report["encoder"]
    assert encoder["cpu"]["flags"] == ["avx2"] and encoder["cpu"]["isa_limit"] == "AVX2"
    assert encoder["served"] == "openvino-fp32"
    assert "no VNNI, AMX or bf16" in encoder["reason"]
    assert encoder["checks"]["openvino-fp32"]["min_cosine"] >= 0.9999
    report, stderr = run_capped(tmp_path, model_cache, "embedding:\n  precision: int8\n")
    encoder = report["encoder"]
    assert "OpenVINO int8 is slow on this CPU" in stderr
    assert encoder["served"] == "openvino-int8" and encoder["reason"].startswith("as configured")
    assert encoder["checks"]["openvino-int8"]["min_cosine"] >= choice.MIN_COSINE


def damage(source: Path, target: Path) -> None:
    """An int8 copy that is a valid network with wrong weights: one feed-forward layer
    scaled by 1.5."""
    import openvino as ov

    from retrieval.encoder import openvino_backend

    network = openvino_backend.core().read_model(str(source / "model.xml"))
    for op in network.get_ordered_ops():
        if op.get_type_name() == "Constant" and list(op.get_output_shape(0)) == [1536, 384]:
            values = op.get_data().astype(np.float32) * 1.5
            op.output(0).replace(ov.opset13.constant(values).output(0))
            break
    else:
        raise AssertionError("no feed-forward weights found")
    target.mkdir(parents=True)
    ov.save_model(network, str(target / "model.xml"), compress_to_fp16=True)


def test_a_damaged_copy_is_not_served(model_cache, embedder, monkeypatch, caplog):
    import shutil

    from retrieval.encoder import openvino_backend

    monkeypatch.setattr(openvino_backend, "int8_dir", lambda folder: folder / "int8-damaged")
    monkeypatch.setattr(openvino_backend, "_quantize", lambda src, tok, p, dst: damage(src, dst))
    config = EmbedderConfig(cache_dir=str(model_cache), precision="int8")
    record = choice.record_path(
        model_cache, embedder.signature, Embedder(config).resolve_model_path()
    )
    kept = record.read_bytes()
    # the real int8 copies step aside (attach removes int8 copies other than its own)
    real = {p: p.with_name(".kept-" + p.name) for p in model_cache.glob("openvino/*/int8-*")}
    for path, aside in real.items():
        path.rename(aside)
    try:
        served = Embedder(config).load()
    finally:
        record.write_bytes(kept)  # the damage was made here, not found: forget it
        for damaged in model_cache.glob("openvino/*/int8-damaged"):
            shutil.rmtree(damaged)
        for path, aside in real.items():
            aside.rename(path)
    refused = served.encoder["checks"]["openvino-int8"]
    assert not refused["passed"] and refused["min_cosine"] < choice.MIN_COSINE
    assert "OpenVINO int8 is damaged on this CPU" in caplog.text
    fallback = [o for o in auto_options("cpu", this_cpu(), True) if o.precision != "int8"][0]
    assert (served.backend, served.precision) == (fallback.backend, fallback.precision)
    assert served.encoder["reason"].startswith("the configured OpenVINO int8 did not pass")
    lines = choice.describe(served.encoder)
    assert any(line.startswith("Refused:   OpenVINO int8, lowest cosine") for line in lines)


def test_the_choice_is_kept_for_this_cpu_and_made_again_on_another(
    model_cache, embedder, monkeypatch
):
    measured = []
    real = choice.measure
    monkeypatch.setattr(choice, "measure", lambda *a, **k: measured.append(1) or real(*a, **k))
    again = Embedder(EmbedderConfig(cache_dir=str(model_cache))).load()
    assert measured == [] and again.encoder == embedder.encoder  # served from the record
    here = this_cpu()
    other = CpuKind("moved", here.flags, here.isa_limit)  # the same cache on another machine
    monkeypatch.setattr(choice, "this_cpu", lambda: other)
    moved = Embedder(EmbedderConfig(cache_dir=str(model_cache))).load()
    assert measured  # checked again on the other CPU
    assert (
        moved.encoder["cpu"]["model"] == "moved"
        and moved.encoder["served"] == again.encoder["served"]
    )


def test_model_install_and_index_status_say_which_encoder_and_why(tmp_path, model_cache, embedder):
    env = {"PRAKAT_DATA_DIR": str(tmp_path / "data"), "PRAKAT_CACHE_DIR": str(model_cache),
           "PRAKAT_CONFIG": "", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    result = CliRunner().invoke(cli, ["model", "install"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Model ready at ")
    label = Option.parse(embedder.encoder["served"]).label
    assert lines[1] == f"Encoder:   {label} ({embedder.encoder['reason']})"
    assert lines[2] == f"CPU:       {this_cpu().describe()}"
    assert lines[3].startswith("Checked:   lowest cosine ")
    assert lines[4].startswith("Speed:     ") and "(torch fp32: " in lines[4]
    status = CliRunner().invoke(cli, ["index", "status"], env=env, catch_exceptions=False)
    assert lines[1] in status.output.splitlines()
    as_json = CliRunner().invoke(cli, ["index", "status", "--json"], env=env)
    assert json.loads(as_json.output)["encoder"] == embedder.encoder
