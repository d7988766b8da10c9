"""LightGBM prediction through models compiled to machine code (lleaves, LLVM), with the
same answers as ``lightgbm.Booster.predict`` and a plain-LightGBM fallback.

Why: on a full tile the learned processors spend most of their CPU in LightGBM's
prediction, which walks every tree for one row at a time through a generic interpreter.
lleaves turns each tree into branches of native code: 3-10x less CPU for the same sums.

- :func:`predict` gives what ``booster.predict(rows)`` gives (probabilities; softmax for
  multiclass models).
- :func:`predict_early_stopped` gives what ``booster.predict(rows, pred_early_stop=True,
  pred_early_stop_freq=every, pred_early_stop_margin=margin)`` gives for a binary model:
  LightGBM stops adding trees to a row once, at a multiple of ``every`` iterations,
  ``2 |raw score| > margin``. Here the model is compiled in stages of ``every`` trees and
  each stage runs only on the rows still undecided, which is both the same rule and a
  cascade: most pixels of a scene leave after the first stage.

Compiled code is cached on disk (:func:`cache_dir`, keyed by the model text, the CPU and
the lleaves/llvmlite versions; written atomically, so workers compiling at once never
read a partial file) and in memory once per process and model: compiling takes seconds
to tens of seconds, loading a cached object milliseconds. Calls with fewer than
:data:`COMPILE_MIN_ROWS` rows use LightGBM itself (compiling would cost more than it
saves), as does everything when lleaves cannot be imported or compile.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import weakref
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KEEP_CACHED = 64  # compiled objects kept on disk (a model compiled in stages is 12 of them)
STALE_PARTIAL_S = 24 * 3600  # a partial object this old was left by a killed compile
COMPILE_MIN_ROWS = 65_536  # below this many rows per call (tests) LightGBM itself is cheaper
BATCH_ROWS = 65_536  # rows converted to float64 at a time (lleaves compares in double)
_compiled: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether lleaves (and a working llvmlite) can be imported."""
    try:
        import lleaves  # noqa: F401
    except (ImportError, OSError):  # not installed, or llvmlite's library does not load
        return False
    return True


def cache_dir() -> Path:
    """Where compiled models are kept: ``$OGCSDL_MODEL_CACHE``, else
    ``$XDG_CACHE_HOME/ogcsdl/compiled-models`` (``~/.cache`` by default). The suite's
    embedded cluster sets the variable to its data directory's cache
    (``ogcsdl.jobs.cluster.compiled_model_cache``)."""
    given = os.environ.get("OGCSDL_MODEL_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ogcsdl" / "compiled-models"


def _machine_key() -> str:
    from importlib.metadata import version

    import llvmlite
    import llvmlite.binding as llvm

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:
        features = ""
    return f"{version('lleaves')}|{llvmlite.__version__}|{llvm.get_process_triple()}|" + (
        f"{llvm.get_host_cpu_name()}|{features}"
    )


def _compile(model_text: str, raw_score: bool) -> Any:
    """An lleaves model of ``model_text``, loaded from the disk cache or compiled into it."""
    import lleaves

    key = hashlib.sha256(
        f"{_machine_key()}|raw={raw_score}|".encode() + model_text.encode()
    ).hexdigest()[:32]
    directory = cache_dir()
    with tempfile.TemporaryDirectory() as scratch:
        model_file = Path(scratch) / "model.txt"
        model_file.write_text(model_text, encoding="utf-8")
        model = lleaves.Model(model_file=str(model_file))
        cached = directory / f"{key}.o"
        if cached.exists():
            _load(model, cached, raw_score)
            return model
        try:
            directory.mkdir(parents=True, exist_ok=True)
            lock = open(directory / f".{key}.lock", "w")  # noqa: SIM115 (held below)
        except OSError:  # no writable cache: compile in memory only
            model.compile(raw_score=raw_score)
            return model
        with lock:
            # one process compiles, the others (the workers of a cluster starting their
            # first job together) wait and load its object
            fcntl.flock(lock, fcntl.LOCK_EX)
            if cached.exists():
                _load(model, cached, raw_score)
                return model
            partial = directory / f".{key}.{os.getpid()}.o"
            log.info("compiling a model for this CPU (once per machine; kept in %s)", directory)
            try:
                model.compile(cache=str(partial), raw_score=raw_score)
                os.replace(partial, cached)
            finally:
                partial.unlink(missing_ok=True)
            prune(directory)
        return model


def _load(model: Any, cached: Path, raw_score: bool) -> None:
    """Load a cached object and mark it used (its mtime orders :func:`prune`)."""
    model.compile(cache=str(cached), raw_score=raw_score)
    try:
        os.utime(cached)
    except OSError:  # a read-only cache is still a cache
        pass


def prune(directory: Path, keep: int = KEEP_CACHED) -> list[Path]:
    """Delete all but the ``keep`` most recently used compiled objects in ``directory``
    (with their lock files) and partial objects left by killed compiles; the deleted
    paths. Run after each new compile, so the cache stays bounded as models, CPUs and
    library versions change (each change makes new keys and orphans the old objects)."""
    import time

    def used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # deleted meanwhile by another process's prune
            return 0.0

    objects = sorted(
        (path for path in directory.glob("*.o") if not path.name.startswith(".")),
        key=used,
        reverse=True,
    )
    now = time.time()
    partials = [
        path for path in directory.glob(".*.o") if used(path) and now - used(path) > STALE_PARTIAL_S
    ]
    removed = []
    for path in objects[keep:] + partials:
        try:
            path.unlink()
            if not path.name.startswith("."):
                (directory / f".{path.stem}.lock").unlink(missing_ok=True)
        except OSError:
            continue
        removed.append(path)
    if removed:
        log.info("removed %d unused compiled model(s) from %s", len(removed), directory)
    return removed


def _cached(booster: Any, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """``build()`` once per process for this booster and key; None when it fails."""
    with _lock:
        per_booster = _compiled.setdefault(booster, {})
        if key not in per_booster:
            try:
                per_booster[key] = build()
            except (RuntimeError, OSError, ValueError) as error:  # LLVM or cache trouble:
                # a compiler that fails must not fail the job
                log.warning("lleaves could not compile the model (%s); using LightGBM", error)
                per_booster[key] = None
        return per_booster[key]


def _whole(booster: Any) -> Any:
    return _cached(booster, ("whole",), lambda: _compile(booster.model_to_string(), False))


def _stages(booster: Any, every: int) -> Any:
    def build() -> list[Any]:
        total = booster.num_trees() // booster.num_model_per_iteration()
        return [
            _compile(booster.model_to_string(start_iteration=start, num_iteration=every), True)
            for start in range(0, total, every)
        ]

    return _cached(booster, ("stages", every), build)


def _use_compiled(n_rows: int, compiled: bool | None) -> bool:
    if compiled is None:
        compiled = n_rows >= COMPILE_MIN_ROWS
    return compiled and available()


def _rows(columns: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Row-major float32 rows of the valid columns, as LightGBM wants them."""
    return np.ascontiguousarray((columns if valid is None else columns[:, valid]).T)


def _batches(columns: np.ndarray, valid: np.ndarray | None) -> Any:
    """(slice, float64 rows of its valid columns, their mask or None) per batch: transposed
    and converted batch by batch, which costs a tenth of transposing everything at once."""
    for start in range(0, columns.shape[1], BATCH_ROWS):
        part = slice(start, min(start + BATCH_ROWS, columns.shape[1]))
        keep = None if valid is None or valid[part].all() else valid[part]
        chunk = columns[:, part] if keep is None else columns[:, part][:, keep]
        yield part, np.ascontiguousarray(chunk.T, dtype=np.float64), keep


def _place(out: np.ndarray, part: slice, keep: np.ndarray | None, values: np.ndarray) -> None:
    if keep is None:
        out[part] = values
    else:
        out[part][keep] = values


def _output(booster: Any, columns: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    classes = booster.num_model_per_iteration()
    shape = (columns.shape[1],) if classes == 1 else (columns.shape[1], classes)
    return np.full(shape, np.nan, np.float64)


def predict(
    booster: Any,
    columns: np.ndarray,
    valid: np.ndarray | None = None,
    compiled: bool | None = None,
) -> np.ndarray:
    """``booster.predict`` (one thread) of the (features, n) array ``columns`` (feature
    planes flattened: one column per pixel), NaN for the columns not ``valid``.
    ``compiled``: True / False forces lleaves / LightGBM; None (default) compiles for
    calls of at least COMPILE_MIN_ROWS columns."""
    out = _output(booster, columns, valid)
    n_rows = columns.shape[1] if valid is None else int(valid.sum())
    model = _whole(booster) if _use_compiled(n_rows, compiled) else None
    if model is None:
        values = booster.predict(_rows(columns, valid), num_threads=1) if n_rows else []
        _place(out, slice(None), valid, np.asarray(values))
        return out
    for part, rows, keep in _batches(columns, valid):
        _place(out, part, keep, model.predict(rows, n_jobs=1))
    return out


def predict_early_stopped(
    booster: Any,
    columns: np.ndarray,
    every: int,
    margin: float,
    valid: np.ndarray | None = None,
    compiled: bool | None = None,
) -> np.ndarray:
    """Probabilities of a binary model as LightGBM's prediction early stopping gives them
    (see the module doc); arguments as for :func:`predict`."""
    out = _output(booster, columns, valid)
    n_rows = columns.shape[1] if valid is None else int(valid.sum())
    stages = _stages(booster, every) if _use_compiled(n_rows, compiled) else None
    if stages is None:
        if n_rows:
            values = booster.predict(
                _rows(columns, valid),
                num_threads=1,
                pred_early_stop=True,
                pred_early_stop_freq=every,
                pred_early_stop_margin=margin,
            )
            _place(out, slice(None), valid, np.asarray(values))
        return out
    for part, batch, keep in _batches(columns, valid):
        score = np.zeros(len(batch), np.float64)
        active = np.arange(len(batch))
        for stage in stages:
            score[active] += stage.predict(batch, n_jobs=1)
            # LightGBM's binary rule: stop once 2 |score| > margin (checked every stage)
            undecided = 2.0 * np.abs(score[active]) <= margin
            if not undecided.all():
                active, batch = active[undecided], batch[undecided]
            if not len(active):
                break
        _place(out, part, keep, 1.0 / (1.0 + np.exp(-score)))
    return out
