"""Running block graphs where the job runs, with progress as blocks complete, and the
block-wise reductions the processors share.

A job runs as one task on a Dask worker (``ogcsdl/jobs/executor.py``); its processor
builds lazy (dask) arrays from inputs read window by window. :func:`persist` and
:func:`compute` evaluate them on that worker's cluster (every worker reads and computes
its own blocks) when there is one, and on dask's threaded scheduler in-process
otherwise (tests, benchmarks, small inputs). Either way the job's progress advances as
output blocks complete, so a running job's status (OGC API - Processes, WPS) moves.

Block-wise operations that need more than a halo:

- :func:`block_reduce`: a small result per block (e.g. histograms), combined by the
  caller: scene statistics without gathering pixels on one worker;
- :func:`keep_seeded_components`: the connected regions of a mask that contain a seed,
  exactly as a labelling of the whole image would find them (each block is labelled on
  its own, labels touching across block edges are merged in a small graph), so region
  growing is block-wise and gives the in-memory answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from dask.callbacks import Callback
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from processes.base import ProcessContext

PROGRESS_INTERVAL_S = 0.25  # at most this often a progress report (a job store write)
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


@contextmanager
def cluster_client() -> Iterator[Any | None]:
    """The Dask client of the cluster this code runs on (a job's task on a worker), or
    None outside a worker: then graphs run on dask's threaded scheduler in-process.
    While it is open, a task's thread has left the worker's thread pool (unless it
    already had), so the blocks it waits for can run on that worker too."""
    try:
        from distributed import get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):
        yield None
        return
    with worker_client() as client:
        yield client


class _Reporter:
    """Progress from ``start`` to ``end`` % as a fraction of blocks done, throttled.
    The context raises when the job was dismissed: that aborts the computation."""

    def __init__(self, context: ProcessContext, start: float, end: float, message: str):
        self.context, self.start, self.end, self.message = context, start, end, message
        self._last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL_S or not total:
            return
        self._last = now
        share = min(done / total, 1.0)
        self.context.progress(self.start + (self.end - self.start) * share, self.message)


class _ThreadedProgress(Callback):
    """Dask's local-scheduler callbacks forwarded to a :class:`_Reporter`."""

    def __init__(self, report: _Reporter):
        super().__init__()
        self._report = report

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        done = len(state["finished"])
        total = done + sum(len(state[k]) for k in ("ready", "waiting", "running"))
        self._report(done, total)


def _lazy(value: Any) -> Any:
    return value.data if isinstance(value, xr.DataArray) else value


def _rewrap(original: Any, value: Any) -> Any:
    if isinstance(original, xr.DataArray):
        return original.copy(data=value)
    return value


def _wait_reporting(client: Any, collections: Sequence[Any], report: _Reporter) -> None:
    """Wait for the futures behind persisted ``collections``, reporting each completed
    block; cancel them all when the job is dismissed (the report raises) or one fails."""
    from distributed import as_completed, futures_of

    futures = futures_of(list(collections))
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            if future.status == "error":
                future.result()  # raises the block's exception here
            report(done, len(futures))
    except BaseException:
        client.cancel(futures)
        raise


def _evaluate(report: _Reporter, collections: Sequence[Any], *, keep: bool) -> tuple:
    """``collections`` persisted (``keep``: their blocks stay in memory) or computed,
    on the job's cluster when there is one, reporting blocks as they complete."""
    with cluster_client() as client:
        if client is None:
            with _ThreadedProgress(report):
                return tuple((dask.persist if keep else dask.compute)(*collections))
        futures = (client.persist if keep else client.compute)(list(collections))
        _wait_reporting(client, futures, report)
        return tuple(futures) if keep else tuple(client.gather(futures))


def persist(context: ProcessContext, start: float, end: float, message: str, *arrays: Any) -> tuple:
    """Evaluate lazy arrays (xarray/dask) once and keep their blocks, in the workers'
    memory on a cluster or in this process otherwise, so later steps (a statistic, then
    the map) reuse them instead of reading and computing again. In-memory (numpy)
    values pass through. Progress goes from ``start`` to ``end`` % as blocks complete."""
    context.progress(start, message)
    report = _Reporter(context, start, end, message)
    lazy = [_lazy(a) for a in arrays]
    indexes = [i for i, value in enumerate(lazy) if dask.is_dask_collection(value)]
    done = list(lazy)
    if indexes:
        evaluated = _evaluate(report, [lazy[i] for i in indexes], keep=True)
        for i, value in zip(indexes, evaluated, strict=True):
            done[i] = value
    context.progress(end, message)
    return tuple(_rewrap(a, d) for a, d in zip(arrays, done, strict=True))


def compute(context: ProcessContext, start: float, end: float, message: str, *arrays: Any) -> tuple:
    """Compute (xarray/dask/numpy) arrays to numpy, reporting progress from ``start`` to
    ``end`` % as blocks complete (on the job's cluster when it runs on one)."""
    with cluster_client() as client:
        if client is None:
            context.progress(start, message)
            with _ThreadedProgress(_Reporter(context, start, end, message)):
                values = list(dask.compute(*[_lazy(a) for a in arrays]))
            context.progress(end, message)
        else:
            values = [_lazy(a) for a in persist(context, start, end, message, *arrays)]
            lazy = [i for i, value in enumerate(values) if dask.is_dask_collection(value)]
            gathered = client.compute([values[i] for i in lazy], sync=True)
            for i, value in zip(lazy, gathered, strict=True):
                values[i] = value
    return tuple(np.asarray(v) for v in values)


def as_blocks(value: Any) -> dsa.Array:
    """A dask array of ``value`` (an in-memory array becomes one block)."""
    value = _lazy(value)
    return value if isinstance(value, dsa.Array) else dsa.from_array(np.asarray(value), chunks=-1)


def _aligned(arrays: Sequence[Any]) -> list[dsa.Array]:
    """2-D dask arrays with the chunks of the first one."""
    blocks = [as_blocks(a) for a in arrays]
    return [blocks[0]] + [b.rechunk(blocks[0].chunks) for b in blocks[1:]]


def _offsets(chunks: tuple[int, ...]) -> list[int]:
    return [int(v) for v in np.cumsum((0,) + tuple(chunks[:-1]))]


def block_reduce(
    context: ProcessContext,
    span: tuple[float, float],
    message: str,
    func: Callable[..., Any],
    *arrays: Any,
) -> list[Any]:
    """``func((row, col), *blocks)`` of every block of the 2-D ``arrays`` (on the first
    one's chunks; ``(row, col)`` is the block's first pixel in the image), computed where
    the blocks are; the small results are returned in row-major block order."""
    aligned = _aligned(arrays)
    rows, cols = _offsets(aligned[0].chunks[0]), _offsets(aligned[0].chunks[1])
    grids = [a.to_delayed() for a in aligned]
    call = dask.delayed(func, pure=True)
    tasks = [
        call((row, col), *[grid[i, j] for grid in grids])
        for i, row in enumerate(rows)
        for j, col in enumerate(cols)
    ]
    return list(compute_tasks(context, span, message, tasks))


def compute_tasks(
    context: ProcessContext, span: tuple[float, float], message: str, tasks: list[Any]
) -> tuple:
    """The results of ``tasks`` (dask delayed), computed where the job runs, in order."""
    context.progress(span[0], message)
    results = _evaluate(_Reporter(context, span[0], span[1], message), tasks, keep=False)
    context.progress(span[1], message)
    return tuple(results)


# -- connected components that contain a seed, block by block ------------------------


def _label(members: np.ndarray) -> tuple[np.ndarray, int]:
    labels, count = ndimage.label(members, structure=EIGHT_NEIGHBOURS)
    return labels.astype(np.int32, copy=False), int(count)


def _component_summary(
    _: tuple[int, int], members: np.ndarray, seeds: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(label count, seeded labels, top row, bottom row, left column, right column) of
    one block's own labelling: all the merge step needs to know about it."""
    labels, count = _label(members)
    seeded = np.unique(labels[seeds & members])
    seeded = seeded[seeded > 0]
    return count, seeded, labels[0], labels[-1], labels[:, 0], labels[:, -1]


def _touching_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label pairs of two facing edge lines (8-neighbourhood: straight and diagonal)."""
    n = len(first)
    pairs_a, pairs_b = [], []
    for shift in (-1, 0, 1):
        a = first[max(0, -shift) : n - max(0, shift)]
        b = second[max(0, shift) : n - max(0, -shift)]
        both = (a > 0) & (b > 0)
        pairs_a.append(a[both])
        pairs_b.append(b[both])
    return np.concatenate(pairs_a), np.concatenate(pairs_b)


def _keep_tables(summaries: list[tuple], shape: tuple[int, int]) -> list[np.ndarray]:
    """Per block: local label -> kept, from merging labels across block edges."""
    ny, nx = shape
    grid = [[summaries[i * nx + j] for j in range(nx)] for i in range(ny)]
    counts = np.array([s[0] for s in summaries], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).reshape(ny, nx)
    total = int(counts.sum())
    edges_a: list[np.ndarray] = []
    edges_b: list[np.ndarray] = []

    def link(a: np.ndarray, off_a: int, b: np.ndarray, off_b: int) -> None:
        keep = (a > 0) & (b > 0)
        edges_a.append(a[keep].astype(np.int64) + off_a)
        edges_b.append(b[keep].astype(np.int64) + off_b)

    for i in range(ny):
        for j in range(nx):
            _, _, _, bottom, _, right = grid[i][j]
            if i + 1 < ny:  # the block below: its top row, straight and diagonal
                link(*_pair(bottom, offsets[i, j], grid[i + 1][j][2], offsets[i + 1, j]))
            if j + 1 < nx:  # the block to the right: its left column
                link(*_pair(right, offsets[i, j], grid[i][j + 1][4], offsets[i, j + 1]))
            if i + 1 < ny and j + 1 < nx:  # corners meeting only diagonally
                link(bottom[-1:], offsets[i, j], grid[i + 1][j + 1][2][:1], offsets[i + 1, j + 1])
                link(
                    grid[i][j + 1][3][:1],
                    offsets[i, j + 1],
                    grid[i + 1][j][2][-1:],
                    offsets[i + 1, j],
                )
    a = np.concatenate(edges_a) if edges_a else np.zeros(0, np.int64)
    b = np.concatenate(edges_b) if edges_b else np.zeros(0, np.int64)
    graph = sparse.coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(total + 1, total + 1))
    _, component = csgraph.connected_components(graph, directed=False)
    seeded = np.concatenate(
        [s[1].astype(np.int64) + offsets.flat[k] for k, s in enumerate(summaries)]
    )
    kept = np.isin(component, component[seeded])
    kept[0] = False
    tables = []
    for k, offset in enumerate(offsets.flat):
        table = kept[offset : offset + counts[k] + 1].copy()
        table[0] = False  # local background
        tables.append(table)
    return tables


def _pair(
    first: np.ndarray, off_first: int, second: np.ndarray, off_second: int
) -> tuple[np.ndarray, int, np.ndarray, int]:
    a, b = _touching_pairs(first, second)
    return a, off_first, b, off_second


def _apply_table(members: np.ndarray, table: np.ndarray) -> np.ndarray:
    labels, _ = _label(members)
    return table[labels]


def keep_seeded_components(
    members: Any, seeds: Any, context: ProcessContext, span: tuple[float, float]
) -> dsa.Array:
    """Lazy boolean array: the pixels of ``members`` connected (8-neighbourhood) to a
    pixel of ``seeds`` (seeds outside ``members`` count for nothing), as labelling
    the whole image would give, computed block by block: blocks are labelled on their
    own (a summary pass computes only label counts, seeded labels and edge lines), the
    labels meeting across block edges are merged with a sparse graph's connected
    components, and a second pass relabels each block (labelling is deterministic)
    and keeps its labels that belong to a seeded component."""
    members_b, seeds_b = _aligned([members, seeds])
    summaries = block_reduce(
        context, span, "region growing", _component_summary, members_b, seeds_b
    )
    shape = (len(members_b.chunks[0]), len(members_b.chunks[1]))
    tables = _keep_tables(summaries, shape)
    grid = members_b.to_delayed()
    apply = dask.delayed(_apply_table, pure=True)
    rows = []
    for i, height in enumerate(members_b.chunks[0]):
        row = []
        for j, width in enumerate(members_b.chunks[1]):
            block = apply(grid[i, j], tables[i * shape[1] + j])
            row.append(dsa.from_delayed(block, (height, width), dtype=bool))
        rows.append(row)
    return dsa.block(rows)
