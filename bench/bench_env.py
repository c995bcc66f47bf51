"""What every benchmark driver shares: the environment the sides run in, and trusty's cache.

The environment is the fair-peer setting of docs/benchmarks.md, for every side and in the
benchmark command alone: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (these machines set them,
which halves GEMM speed), one BLAS/OpenMP thread, and glibc's malloc thresholds raised so that
freed memory is reused instead of being returned to the kernel and faulted in again."""
import os
from pathlib import Path


def peer_env():
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(k, None)
    env.update({
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        # 32 MiB: glibc's largest mmap threshold on 64-bit (larger values are ignored).
        "MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    })
    return env


def cache_dir():
    """trusty's cache, as the library finds it: $TRUSTY_CACHE, else $XDG_CACHE_HOME/trusty,
    else ~/.cache/trusty."""
    if os.environ.get("TRUSTY_CACHE"):
        return Path(os.environ["TRUSTY_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trusty"
