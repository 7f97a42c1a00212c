"""What this processor computes fast: the instruction sets the encoder's choice rests on.

int8 matrix products are fast and exact only with VNNI (AVX512-VNNI, AVX-VNNI) or AMX;
without them they run on AVX2 instructions that are slower than fp32 here and damage
the attention's int8 products (docs/performance.md, "The encoder on each CPU").
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

# The flags the choice reads, as /proc/cpuinfo names them.
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")

_AVX512 = ("avx2", "avx512f")
# oneDNN's ONEDNN_MAX_CPU_ISA caps the instructions OpenVINO and torch use (a user's
# setting, or the tests' way to run the AVX2 path on any CPU): the flags it leaves.
_ISA_CAPS = {
    "SSE41": (),
    "AVX": (),
    "AVX2": ("avx2",),
    "AVX2_VNNI": ("avx2", "avx_vnni"),
    "AVX2_VNNI_2": ("avx2", "avx_vnni"),
    "AVX512_CORE": _AVX512,
    "AVX512_CORE_VNNI": (*_AVX512, "avx512_vnni", "avx_vnni"),
    "AVX512_CORE_BF16": (*_AVX512, "avx512_vnni", "avx_vnni", "avx512_bf16"),
    "AVX512_CORE_FP16": (*_AVX512, "avx512_vnni", "avx_vnni", "avx512_bf16"),
}


@dataclass(frozen=True)
class CpuKind:
    """The processor as the encoder's choice sees it."""

    model: str
    flags: tuple[str, ...]  # those of FLAGS it has, after isa_limit
    isa_limit: str = ""  # ONEDNN_MAX_CPU_ISA, if set

    @property
    def int8_fast(self) -> bool:
        return any(f in self.flags for f in INT8_FLAGS)

    @property
    def bf16(self) -> bool:
        return any(f in self.flags for f in BF16_FLAGS)

    @property
    def key(self) -> str:
        """Identifies the kind: a copy checked on one kind is checked again on another."""
        raw = "|".join([self.model, *self.flags, self.isa_limit])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def describe(self) -> str:
        limit = f", capped at {self.isa_limit}" if self.isa_limit else ""
        return f"{self.model} ({' '.join(self.flags) or 'no AVX2'}{limit})"

    def as_dict(self) -> dict:
        return {"model": self.model, "flags": list(self.flags), "isa_limit": self.isa_limit}


def read_cpu(cpuinfo: str, isa_limit: str = "") -> CpuKind:
    """The kind described by the text of ``/proc/cpuinfo`` (its first processor)."""
    model, present = "unknown CPU", set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name == "model name" and model == "unknown CPU":
            model = value.strip()
        elif name == "flags" and not present:
            present = set(value.split())
    limit = isa_limit.strip().upper()
    if limit in _ISA_CAPS:  # the AMX and AVX10 levels, and ALL, take nothing away
        present &= set(_ISA_CAPS[limit])
    return CpuKind(model, tuple(f for f in FLAGS if f in present), limit)


@functools.lru_cache(maxsize=1)
def this_cpu() -> CpuKind:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        cpuinfo = ""
    return read_cpu(cpuinfo, os.environ.get("ONEDNN_MAX_CPU_ISA", ""))
