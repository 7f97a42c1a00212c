"""`prakat bot` against the local Bot API server: start-up time, and the time from a
question reaching the server to the bot's answer (p50/p95 over a set of questions).

Uses the data dir of the current config (build it first: `prakat corpus add corpus/sample`).

    python benchmarks/bot_latency.py [--rounds 3] [--starts 3]

Start-up is measured --starts times (median reported); question latencies come from
the first start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time

from common import ROOT, write_result

sys.path.insert(0, str(ROOT))
from tests.botapi_server import BotApiServer  # noqa: E402

QUESTIONS = [
    "who chaired the 6th AMCC?",
    "ใครเป็นประธานการประชุม AMCC ครั้งที่ 6",
    "What did the Prime Minister discuss with Japan?",
    "ญี่ปุ่นบริจาควัคซีนให้ไทยเท่าไร",
    "มาตรการช่วยเหลือน้ำท่วม",
]
TOKEN = "999:benchmark"


async def run(rounds: int) -> dict:
    server = BotApiServer(TOKEN)
    await server.start()
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PRAKAT_TELEGRAM_BASE_URL": server.base_url,
           "PRAKAT_TELEGRAM_BASE_FILE_URL": server.base_file_url}  # fmt: skip
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "bot", env=env, cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    latencies: list[list[float]] = []
    try:
        await server.wait_for(lambda calls: server.sent("setMyCommands"), timeout=300)
        ready = time.monotonic() - started
        user = 1000
        for _ in range(rounds):
            latencies.append([])
            for question in QUESTIONS:
                user += 1
                before = len(server.sent("sendMessage"))
                server.send_text(user, question)
                t0 = time.monotonic()
                await server.wait_for(lambda calls, b=before: len(server.sent("sendMessage")) > b)
                latencies[-1].append(time.monotonic() - t0)
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
        await server.stop()
    first, repeats = latencies[0], [x for r in latencies[1:] for x in r]
    return {
        "startup_to_ready_s": round(ready, 2),
        # first round: each question new to the bot (nothing cached in memory)
        "first_round": [round(x, 3) for x in first],
        "first_round_p50_s": round(statistics.median(first), 3),
        "first_round_max_s": round(max(first), 3),
        # later rounds: the same questions again (answer-sentence vectors cached)
        "repeat_p50_s": round(statistics.median(repeats), 3) if repeats else None,
        "repeat_max_s": round(max(repeats), 3) if repeats else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--starts", type=int, default=3)
    args = ap.parse_args()
    runs = [asyncio.run(run(args.rounds)) for _ in range(args.starts)]
    result = dict(runs[0])
    starts = [r["startup_to_ready_s"] for r in runs]
    result["startup_to_ready_s"] = round(statistics.median(starts), 2)
    result["startup_runs_s"] = starts
    write_result("bot_latency", result)


if __name__ == "__main__":
    main()
