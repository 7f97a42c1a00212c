#!/usr/bin/env bash
# The whole thaigov archive through `prakat corpus add --device cuda`, on a lent GPU
# machine (the `device` tool; CI never has one). That machine has torch and
# sentence-transformers but not faiss-cpu, pythainlp or python-crfsuite, and the tree
# that travels to it is limited to 64 MiB, so the inputs go in two calls on one warm
# machine (docs/performance.md, section 5):
#
#   here:  .gpu/a = ../shared/data/thaigov/thaigov-v2.tar.xz, the python-crfsuite
#                   wheel, pythainlp-slim.tar.xz (pythainlp without the corpora
#                   prakat does not read)
#          .gpu/b = the faiss-cpu wheel, and `python benchmarks/device_model.py
#                   data/archive/data --out .gpu/b` (the model with unused rows zeroed)
#          (the wheels for that machine's Python 3.12: `pip download --no-deps
#          --only-binary=:all: --python-version 3.12 --implementation cp --platform
#          manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .gpu/a
#          python-crfsuite==0.9.12`, and faiss-cpu into .gpu/b; pythainlp-slim: a tar of
#          site-packages/pythainlp and its dist-info leaving out the corpus files over
#          300 KB except sentenceseg_crfcut.model, words_th.txt and stopwords_th.txt,
#          the three prakat opens; .gpu/ is listed in .git/info/exclude)
#   call 1 (carry .gpu/a):  bash benchmarks/device_archive.sh setup
#   call 2 (carry .gpu/b):  LIMIT=500 bash benchmarks/device_archive.sh run
#   (the whole archive took 465 s of it on an H100, 2026-11-27)
#   call 3, only if call 2 was stopped and device time is left (carry .gpu/b, within the
#   30 s the machine stays warm):  RESUME=1 LIMIT=... bash benchmarks/device_archive.sh run
#   (the same command resuming: the releases already in are found unchanged)
#
# `run` stops the load with SIGINT after LIMIT seconds if it has not finished (finished
# batches are kept), then prints the counts, asks the AMCC question on the GPU-built
# index, counts passages that name a dropped model row, and writes a sample of the
# vectors to $OUT for comparison with the CPU-built cache.
set -uo pipefail
W=${W:-/tmp/prakat-gpu}  # outside the tree, which is sent again on each call
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONPATH=$W/site:$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
prakat() { python3 -m bot.cli --config "$W/config.yaml" "$@"; }

case "${1:-}" in
setup)
  mkdir -p $W/site
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target $W/site .gpu/a/*.whl || exit 1
  tar xJf .gpu/a/pythainlp-slim.tar.xz -C $W/site || exit 1
  tar xJf .gpu/a/thaigov-v2.tar.xz -C $W || exit 1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, sentence_transformers as st, transformers as tf, pythainlp, \
pycrfsuite; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'st', st.__version__, 'transformers', tf.__version__, 'pythainlp', pythainlp.__version__)"
  echo "cores $(nproc); release files $(find $W/data -name '*.txt' | wc -l)"
  touch $W/setup-done
  ;;
run)
  test -f $W/setup-done || { echo "no setup here: the machine was given back between calls"; exit 3; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target $W/site .gpu/b/*.whl || exit 1
  xz -dc .gpu/b/e5-subset.bin.xz > $W/e5-subset.bin || exit 1
  python3 -c "from retrieval.model_install import install_default_model as i; \
i('$W/cache', source='$W/e5-subset.bin')" || exit 1
  [ -n "${RESUME:-}" ] || rm -rf $W/index
  printf 'data_dir: index\nembedding:\n  device: %s\n  batch_size: 256\n  cache_dir: %s\nchunking:\n  workers: %s\n' \
    "${DEVICE:-cuda}" "$W/cache" "${WORKERS:-0}" > $W/config.yaml
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -l 10 \
    > "$OUT/gpu.csv" 2>/dev/null &
  smi=$!
  ( while sleep 15; do python3 - "$W/index" <<'PY'
import sqlite3, sys, time
d = sys.argv[1]
def count(db, sql):
    try:
        c = sqlite3.connect(f"file:{d}/{db}?mode=ro", uri=True, timeout=1)
        return c.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return -1
print(time.strftime("%H:%M:%S"), "docs", count("corpus.sqlite", "SELECT count(*) FROM documents"),
      "vectors", count("embeddings.sqlite", "SELECT count(*) FROM embeddings"),
      "with sentence vectors", count("embeddings.sqlite", "SELECT count(*) FROM sentences"),
      flush=True)
PY
  done ) > "$OUT/timeline.txt" 2>&1 &
  poll=$!
  timer=""; [ -x /usr/bin/time ] && timer="/usr/bin/time -v"
  started=$(date +%s.%N)
  $timer timeout -s INT "${LIMIT:-450}" python3 -m bot.cli --config $W/config.yaml \
    corpus add --skip-bad $W/data > "$OUT/add.log" 2>&1
  rc=$?
  ended=$(date +%s.%N)
  kill $smi $poll 2>/dev/null
  grep -v '^Skipped' "$OUT/add.log" | tail -30
  echo "skipped lines: $(grep -c '^Skipped' "$OUT/add.log"); exit $rc; wall $(python3 -c "print(round($ended - $started, 1))") s"
  cat "$OUT/timeline.txt"
  prakat index status
  [ -n "${NO_CHECKS:-}" ] && exit 0
  python3 -c "from retrieval.embedder import Embedder, EmbedderConfig as C; \
e = Embedder(C(device='${DEVICE:-cuda}', cache_dir='$W/cache')).load(); \
print('chunk processes hand the model token ids:', e.passage_tokenizer_json() is not None)"
  ( time prakat ask --json "who chaired the 6th AMCC?" ) > "$OUT/ask.json" 2> "$OUT/ask.time"
  python3 -c "import json; a = json.load(open('$OUT/ask.json'))['answer']; print('answer:', a and a['doc_id'], a and a['text'][:200])"
  tail -3 "$OUT/ask.time"
  # a Thai question: answered from the sentence vectors kept while indexing
  prakat ask --json "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6" > "$OUT/ask_th.json"
  python3 -c "import json; a = json.load(open('$OUT/ask_th.json'))['answer']; print('answer (Thai question):', a and a['doc_id'], a and a['text'][:200])"
  du -m $W/index/*.sqlite $W/index/*.faiss
  timeout 90 python3 - "$W/index" .gpu/b/e5-subset-ids.npy "$OUT" <<'PY'
import sqlite3, sys
import numpy as np
from tokenizers import Tokenizer
d, ids_file, out = sys.argv[1:]
db = sqlite3.connect(f"{d}/corpus.sqlite")
rows = db.execute("SELECT c.text, d.title, d.date FROM chunks c JOIN documents d "
                  "ON c.doc_id = d.doc_id").fetchall()
tok = Tokenizer.from_file(f"{d}/../cache/models/multilingual-e5-small/tokenizer.json")
tok.no_truncation()
kept = np.zeros(tok.get_vocab_size(), bool)
kept[np.load(ids_file)] = True
texts = [f"passage: {f'{t} ({date})' if date else t}\n{text}" for text, t, date in rows]  # embed_text
bad = sum(not kept[np.array(e.ids)].all() for e in tok.encode_batch(texts))
print(f"passages naming a dropped row: {bad} of {len(texts)}")
cache = sqlite3.connect(f"{d}/embeddings.sqlite")
sample = cache.execute("SELECT key, vector FROM embeddings ORDER BY random() LIMIT 4000").fetchall()
np.savez_compressed(f"{out}/vectors.npz", keys=np.array([k for k, _ in sample]),
                    vectors=np.stack([np.frombuffer(v, "<f4") for _, v in sample]).astype(np.float16))
PY
  ;;
*)
  echo "usage: bash benchmarks/device_archive.sh setup|run"; exit 2 ;;
esac
