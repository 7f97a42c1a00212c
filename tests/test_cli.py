"""The CLI as a user sees it: exact messages, exit codes, JSON shapes."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import TEST_IDS, sample_file


@pytest.fixture
def env(tmp_path, model_cache, warm_cache):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(warm_cache, data / "embeddings.sqlite")  # the releases are embedded already
    return {"PRAKAT_DATA_DIR": str(data), "PRAKAT_CACHE_DIR": str(model_cache),
            "PRAKAT_CONFIG": "", "HF_HUB_OFFLINE": "1"}  # fmt: skip


def run(env, *args, input=None):
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def test_help_lists_the_contract_and_examples():
    result = run({}, "--help")
    assert result.exit_code == 0
    for name in ("ask", "chat", "corpus", "index", "model"):
        assert name in result.output

    def commands(group, path=()):
        for name, command in getattr(group, "commands", {}).items():
            yield (*path, name)
            yield from commands(command, (*path, name))

    every = list(commands(cli))
    assert len(every) >= 16
    for path in every:  # every command and group shows an example
        assert "Example" in run({}, *path, "--help").output, " ".join(path)


def test_ask_before_any_index_is_one_sentence(env):
    result = CliRunner().invoke(cli, ["ask", "hello"], env=env)
    assert result.exit_code == 1
    assert result.output.strip() == "Error: there is no index yet; run `prakat index rebuild`"


def test_end_to_end_add_ask_list_remove(env, amcc_dir):
    added = run(env, "corpus", "add", str(amcc_dir))
    assert added.exit_code == 0, added.output
    assert f"{len(TEST_IDS)} added, 0 replaced, 0 unchanged." in added.output

    listed = json.loads(run(env, "corpus", "list", "--json").output)
    assert {d["doc_id"] for d in listed} >= {"46681", "35821", "60666", "35541"}

    asked = run(env, "ask", "who chaired the 6th AMCC?", "--k", "3", "--json")
    payload = json.loads(asked.output)
    assert set(payload) == {"question", "answer", "passages"}
    assert "Josephine Teo" in payload["answer"]["text"]
    assert payload["answer"]["doc_id"] == "46681"
    assert len(payload["passages"]) == 3
    top = payload["passages"][0]
    assert set(top) == {"doc_id", "title", "date", "url", "text", "score"}
    assert top["url"].endswith("/46681") and top["date"] == "2021-10-07"

    human = run(env, "ask", "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6").output
    assert "Josephine Teo" in human.split("\n[1]")[0]
    assert "https://www.thaigov.go.th/news/contents/details/46681" in human

    status = json.loads(run(env, "index", "status", "--json").output)
    assert status["state"] == "up to date" and status["documents"] == len(TEST_IDS)

    again = run(env, "corpus", "add", str(amcc_dir))
    assert f"0 added, 0 replaced, {len(TEST_IDS)} unchanged." in again.output
    rebuilt = run(env, "index", "rebuild")
    assert "Nothing new to embed" in rebuilt.output

    removed = run(env, "corpus", "remove", "46681")
    assert removed.output.strip().startswith("Removed 46681 (")
    after = json.loads(run(env, "ask", "who chaired the 6th AMCC?", "--json").output)
    assert all(p["doc_id"] != "46681" for p in after["passages"])


def test_status_tells_an_index_chunked_by_another_version(env, amcc_dir, monkeypatch):
    """A newer prakat chunks (or keeps) passages otherwise: `index status` says so, and
    `index rebuild` (or adding the releases again) brings them up to date."""
    from retrieval.text import chunking

    run(env, "corpus", "add", str(amcc_dir))
    monkeypatch.setattr(chunking, "CHUNKER_VERSION", "a later one")
    status = run(env, "index", "status")
    assert "State:     chunked otherwise" in status.output
    assert "Run `prakat index rebuild` to bring it up to date." in status.output


def test_bad_files_change_nothing(env, amcc_dir, tmp_path):
    run(env, "corpus", "add", str(amcc_dir))
    before = run(env, "index", "status", "--json").output
    png = tmp_path / "photo.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for path, message in ((png, "is a PNG image, not a text release"), (empty, "is empty")):
        result = CliRunner().invoke(cli, ["corpus", "add", str(path)], env=env)
        assert result.exit_code == 1
        assert result.output.splitlines()[0] == f"Error: {path} {message}"
    assert run(env, "index", "status", "--json").output == before


def test_unknown_doc_and_bad_config(env, tmp_path):
    result = CliRunner().invoke(cli, ["corpus", "remove", "nope"], env=env)
    assert result.exit_code == 1
    assert result.output == "Error: no document with id 'nope' in the corpus\n"
    bad = tmp_path / "bad.yaml"
    for config, error in [
        ("search:\n  colour: blue\n", "unknown config key `search.colour`"),
        ("embedding:\n  backend: onnx\n",
         "embedding.backend must be one of auto, torch, openvino"),
        ("embedding:\n  backend: torch\n  precision: int8\n",
         "embedding.precision int8 needs embedding.backend openvino or auto"),
        ("search:\n  min_score: 2\n", "search.min_score must be between 0 and 1"),
        ("search:\n  k: 0\n", "search.k must be 1 or more"),
        ("ranking:\n  cross_language: 2\n", "ranking.cross_language must be between 0 and 0.1"),
        ("ranking:\n  bm25_weight: -0.1\n", "ranking.bm25_weight must be between 0 and 1"),
        ("ranking:\n  lexical_budget: -1\n", "ranking.lexical_budget must be 0 or more"),
        ("ranking:\n  sentence_weight: 3\n", "ranking.sentence_weight must be between 0 and 2"),
        ("ranking:\n  fusion: best\n", "ranking.fusion must be one of weighted, rrf, dense, bm25"),
        ("ranking:\n  colour: blue\n", "unknown config key `ranking.colour`"),
        ("search:\n  gram_weight: 2\n", "ranking.gram_weight must be between 0 and 1"),
        ("ranking:\n  answer_side: maybe\n",
         "config key `ranking.answer_side` has a bad value 'maybe'"),
    ]:  # fmt: skip
        bad.write_text(config)
        result = CliRunner().invoke(cli, ["--config", str(bad), "corpus", "list"], env=env)
        assert result.exit_code == 1
        assert result.output == f"Error: {error}\n"


def test_an_older_config_with_ranking_constants_under_search_still_works(tmp_path, caplog):
    """Constants that were `search:` keys are read as `ranking:` ones, with a line
    saying so; a removed one is ignored with a line; the user keys stay."""
    from bot.settings import load_settings

    old = tmp_path / "old.yaml"
    old.write_text("search:\n  k: 3\n  min_score: 0.7\n  gram_weight: 0.2\n  tie_break: 0.005\n")
    settings = load_settings(str(old), env={})
    assert settings.k == 3 and settings.ranking.min_score == 0.7
    assert settings.ranking.gram_weight == 0.2
    assert "search.gram_weight is now ranking.gram_weight" in caplog.text
    assert "search.tie_break was removed" in caplog.text
    both = tmp_path / "both.yaml"
    both.write_text("search:\n  gram_weight: 0.2\nranking:\n  gram_weight: 0.3\n")
    assert load_settings(str(both), env={}).ranking.gram_weight == 0.3  # ranking: wins


def test_chat_answers_each_line_until_eof(env, amcc_dir):
    run(env, "corpus", "add", str(amcc_dir))
    result = run(env, "chat", input="who chaired the 6th AMCC?\n\nwhen was the 5th AMCC?\n")
    assert result.exit_code == 0
    assert result.output.count("[1] ") == 2
    assert "Josephine Teo" in result.output


def test_hostile_files_get_one_line_each_and_change_nothing(env, amcc_dir, tmp_path):
    assert run(env, "corpus", "add", str(amcc_dir)).exit_code == 0
    before = run(env, "corpus", "list", "--json").output
    index = tmp_path / "data" / "index.faiss"
    index_bytes = index.read_bytes()

    bad = tmp_path / "hostile"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (bad / "latin1.txt").write_bytes("ข่าว\nเนื้อหา".encode() + b"\xe9t\xe9")
    (bad / "page.md").write_text("<html><script>alert(1)</script>ข่าว</html>")
    with open(bad / "huge.txt", "wb") as f:  # 50 MB of plausible text
        f.write(("ข่าวใหญ่\n" + "เนื้อหา " * 1000 + "\n").encode() * 2600)
    assert (bad / "huge.txt").stat().st_size > 50_000_000
    (bad / "good.txt").write_bytes(sample_file("46536").read_bytes())

    result = CliRunner().invoke(cli, ["corpus", "add", str(bad)], env=env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == "Nothing was added (use --skip-bad to add the readable files)."
    errors = sorted(lines[:-1])
    assert len(errors) == 5 and all(e.startswith("Error: ") for e in errors)
    for name, why in [("empty.txt", "is empty"), ("photo.txt", "PNG image"),
                      ("latin1.txt", "not valid UTF-8"), ("page.md", "HTML"),
                      ("huge.txt", "over the 10 MB limit")]:  # fmt: skip
        assert any(name in e and why in e for e in errors), (name, errors)
    assert run(env, "corpus", "list", "--json").output == before
    assert index.read_bytes() == index_bytes


def test_index_check_finds_and_repairs_every_kind_of_damage(env, amcc_dir, tmp_path):
    import sqlite3

    assert run(env, "corpus", "add", str(amcc_dir)).exit_code == 0
    clean = json.loads(run(env, "index", "check", "--json").output)
    assert clean == {"ok": True, "problems": {}, "repaired": {}}

    data = tmp_path / "data"
    db = sqlite3.connect(data / "corpus.sqlite")
    first, second = [
        r[0] for r in db.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id LIMIT 2")
    ]
    db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (first,))  # a chunk loses its FTS row
    db.execute("INSERT INTO chunks_fts (rowid, tokens) VALUES (999999, 'orphan')")
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("INSERT INTO chunks (doc_id, position, text, start, end, embed_key)"
               " VALUES ('no-such-doc', 0, 'x', 0, 1, 'k')")  # fmt: skip
    lost = db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id = '47004'").fetchone()[0]
    db.execute("DELETE FROM chunks WHERE doc_id = '47004'")  # a document loses its chunks
    db.commit()
    db.close()
    (data / "index.faiss.pending").write_bytes(b"left by a crash")
    (data / ".index.tmp1234").write_bytes(b"half written")

    found = CliRunner().invoke(cli, ["index", "check", "--json"], env=env)
    assert found.exit_code == 1
    problems = json.loads(found.output)["problems"]
    assert problems == {
        "files left by an interrupted writer": 2,
        "chunks without a document": 1,
        "full-text rows without a chunk": 1 + lost,  # the orphan row, and 47004's
        "chunks without a full-text row": 2,  # the chunk that lost it, and the orphan chunk
        "documents without chunks": 1,
        "vectors without a chunk": lost,
        "chunks without a vector": 1,  # the orphan chunk
    }

    repaired = CliRunner().invoke(cli, ["index", "check", "--repair", "--json"], env=env)
    assert repaired.exit_code == 0, repaired.output
    report = json.loads(repaired.output)
    assert report["ok"] is True and report["after"] == {}
    assert json.loads(run(env, "index", "check", "--json").output)["ok"] is True
    assert not (data / "index.faiss.pending").exists() and not (data / ".index.tmp1234").exists()
    listed = {d["doc_id"]: d for d in json.loads(run(env, "corpus", "list", "--json").output)}
    assert listed["47004"]["chunks"] > 0  # re-chunked from its stored text
    asked = json.loads(run(env, "ask", "who chaired the 6th AMCC?", "--json").output)
    assert "Josephine Teo" in asked["answer"]["text"]


def test_device_cuda_without_a_gpu_is_one_line_and_changes_nothing(env, amcc_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    result = CliRunner().invoke(cli, ["corpus", "add", "--device", "cuda", str(amcc_dir)], env=env)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: embedding device 'cuda' asked for, but torch {torch.__version__} sees no "
        "CUDA GPU here; use --device cpu or auto"
    )
    assert json.loads(run(env, "corpus", "list", "--json").output) == []
