"""Crash safety: real `prakat` processes killed with SIGKILL at named points.

Each test freezes a process at a failpoint (corpus/failpoints.py), kills it there,
and then checks what a user would see next: `prakat ask` answers from a consistent
index, `prakat index status` tells the truth, `prakat index check` finds nothing
wrong, and the next run finishes with the result of an uninterrupted one while
reusing the embeddings that were already computed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from corpus.store import Store
from tests.conftest import sample_file

pytestmark = pytest.mark.slow
PRAKAT = [sys.executable, "-m", "bot.cli"]
QUESTION = "who chaired the 6th AMCC?"
NEW_ID = "46536"


@pytest.fixture(scope="module")
def template(tmp_path_factory, model_cache, warm_cache) -> Path:
    """A data dir whose corpus (the AMCC releases) is indexed at 128-token passages."""
    data = tmp_path_factory.mktemp("crash-template")
    shutil.copy(warm_cache, data / "embeddings.sqlite")
    env = envs(data, model_cache)
    folder = data.parent / "crash-releases"
    folder.mkdir(exist_ok=True)
    for doc_id in ("46681", "35821", "35541", "60666", "46520"):
        shutil.copy(sample_file(doc_id), folder)
    assert run(env, "corpus", "add", str(folder)).exit_code == 0
    return data


def envs(data: Path, model_cache: Path, config: Path | None = None) -> dict:
    return {"PRAKAT_DATA_DIR": str(data), "PRAKAT_CACHE_DIR": str(model_cache),
            "PRAKAT_CONFIG": str(config or ""), "HF_HUB_OFFLINE": "1"}  # fmt: skip


def run(env, *args):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def fresh(template: Path, tmp_path: Path, model_cache: Path, max_tokens: int = 96):
    """A copy of the template, and a config that re-chunks it at ``max_tokens``, so that
    a rebuild has real work: chunking, embedding (small commits), a new index."""
    data = tmp_path / "data"
    shutil.copytree(template, data)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"embedding:\n  batch_size: 2\nchunking:\n  max_tokens: {max_tokens}\n", encoding="utf-8"
    )
    return data, envs(data, model_cache, config)


def kill_at(point: str, env: dict, *args: str) -> None:
    """Start `prakat args`, wait until it reaches ``point``, SIGKILL it."""
    proc = subprocess.Popen(
        [*PRAKAT, *args],
        env={**os.environ, **env, "PRAKAT_FAILPOINT": point},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    deadline = time.monotonic() + 180
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.strip() == f"FAILPOINT {point}":
            break
        assert time.monotonic() < deadline, "the failpoint was never reached"
    else:
        proc.wait()
        pytest.fail(f"exited ({proc.returncode}) before {point}: {''.join(seen)[-500:]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def consistent(env) -> dict:
    report = json.loads(run(env, "index", "check", "--json").output)
    return report


def ask_top(env) -> dict:
    result = run(env, "ask", QUESTION, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def snapshot(data: Path) -> list[tuple]:
    store = Store(data / "corpus.sqlite")
    try:
        return [(c.chunk.doc_id, c.chunk.position, c.chunk.text, c.embed_key)
                for d in store.doc_ids() for c in store.chunks_of(d)]  # fmt: skip
    finally:
        store.close()


@pytest.fixture(scope="module")
def reference(template, tmp_path_factory, model_cache):
    """An uninterrupted rebuild at 96 tokens: what every interrupted one must end as."""
    tmp = tmp_path_factory.mktemp("crash-reference")
    data, env = fresh(template, tmp, model_cache)
    result = run(env, "index", "rebuild")
    assert result.exit_code == 0, result.output
    embedded = int(re.search(r"Embedded (\d+) new passages", result.output).group(1))
    return {"chunks": snapshot(data), "embedded": embedded, "answer": ask_top(env)}


@pytest.mark.parametrize(
    "point", ["embed", "db-write", "index-write", "before-commit", "after-commit"]
)
def test_kill_during_rebuild(point, template, reference, tmp_path, model_cache):
    data, env = fresh(template, tmp_path, model_cache)
    before = snapshot(data)
    kill_at(point, env, "index", "rebuild")

    status = json.loads(run(env, "index", "status", "--json").output)
    if point == "after-commit":  # rows committed, index renamed not yet: said as it is
        assert status["interrupted_write"] is True and status["state"] == "stale"
        assert snapshot(data) == reference["chunks"]
    else:  # nothing was committed: the old rows and the old index, in step (at the
        # template's 128 tokens, where the config asks for 96: status says so)
        assert status["state"] == "chunked otherwise"
        assert status["interrupted_write"] is (point == "before-commit")  # to be discarded
        assert snapshot(data) == before

    answer = ask_top(env)  # answers from a consistent index (finishing a pending one)
    assert "Josephine Teo" in answer["answer"]["text"]
    assert answer["passages"][0]["url"].endswith("/46681")
    assert consistent(env) == {"ok": True, "problems": {}, "repaired": {}}

    result = run(env, "index", "rebuild")
    assert result.exit_code == 0, result.output
    assert snapshot(data) == reference["chunks"]
    assert ask_top(env) == reference["answer"]
    if point == "embed":  # the batches embedded before the kill were kept
        again = int(re.search(r"Embedded (\d+) new passages", result.output).group(1))
        assert 0 < again < reference["embedded"]
    else:  # everything was embedded before the kill
        assert "Nothing new to embed" in result.output


@pytest.mark.parametrize("point", ["embed", "db-write", "before-commit", "after-commit"])
def test_kill_during_corpus_add(point, template, tmp_path, model_cache):
    data, env = fresh(template, tmp_path, model_cache, max_tokens=128)
    new = sample_file(NEW_ID)  # in neither the template corpus nor the warm cache
    kill_at(point, env, "corpus", "add", str(new))

    run(env, "index", "status")  # any command; `ask` below also finishes a pending write
    ask_top(env)
    report = consistent(env)
    assert report == {"ok": True, "problems": {}, "repaired": {}}
    store = Store(data / "corpus.sqlite")
    try:
        present = store.has_document(NEW_ID)
        chunks = store.chunks_of(NEW_ID) if present else []
    finally:
        store.close()
    # all or nothing: committed with its rows, full-text rows and vectors, or absent
    assert present == (point == "after-commit")
    assert bool(chunks) == present
