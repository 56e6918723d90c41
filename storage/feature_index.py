"""Which known items share enough local features with a query to be worth aligning.

Aligning a query with a known picture costs ~2 ms, so it is done for a few candidates only.
The candidates come from voting: every known item's ORB descriptors sit in a binary inverted
file (faiss ``IndexBinaryIVF``, the descriptor's item as its id); each query descriptor finds
its two nearest stored descriptors, and a clear nearest one (Lowe's ratio, and within
:data:`_MAX_BITS`) votes for its item. Items with the most votes are the candidates.

The inverted file's cells are centred on a random sample of the stored descriptors (no
k-means: at a million items training would take longer than the load). Small collections are
searched exhaustively; the cells are drawn again whenever the collection has grown fourfold.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import faiss
import numpy as np

from checks.local_features import DESCRIPTOR_BYTES

__all__ = ["EXHAUSTIVE", "FeatureIndex"]

# One thread per search: parallelism comes from the event loop's threads and the worker
# processes, and OpenMP's spinning threads on two busy cores made searches ten times slower.
faiss.omp_set_num_threads(1)

_BITS = DESCRIPTOR_BYTES * 8
#: A vote needs its nearest descriptor within this many bits, and clearly nearer than the next.
_MAX_BITS = 64
_RATIO = 0.8
#: Two items' descriptors this close to each other are the same spot of one picture.
_TWIN_BITS = 2
#: An item needs this many votes to be a candidate; at most this many candidates are aligned.
_MIN_VOTES = 4
_CANDIDATES = 16
#: Up to this many stored descriptors (250 items), search them all.
EXHAUSTIVE = 40_000
#: Descriptors per cell on average (up to 2**_MAX_CELLS_LOG2 cells), and cells searched per
#: query descriptor. A query descriptor is compared with every descriptor of the cells it
#: searches, so a fuller cell costs time: 100,000 items' 16 million descriptors in 32,768
#: cells instead of 16,384 took retrieval from 32 to 21 ms and found the same copies.
_PER_CELL = 256
_MAX_CELLS_LOG2 = 16
_PROBES = 2
#: How wide a descriptor's way through the cells' graph is searched (at least _PROBES).
_GRAPH_SEARCH = 8
#: Items added to a new index at a time.
_BUILD_SLICE = 20_000


class FeatureIndex:
    """Descriptors of every known item with local features, searchable by a query's.

    Safe to search from a worker thread while the event loop adds or removes items. Build it
    with :meth:`build` from every stored item; once it has grown well past what its cells were
    drawn for (:attr:`stale`), the storage builds it again off the event loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Descriptors per item (faiss holds the descriptors themselves).
        self._items: dict[int, int] = {}
        self._index: faiss.IndexBinary = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(_BITS))
        self._count = 0
        self._built_for = 0

    @classmethod
    def build(cls, entries: Iterable[tuple[int, np.ndarray]]) -> FeatureIndex:
        """An index of these items' descriptors (uint8, n x 32 each), cells drawn for them."""
        kept = [(item_id, d) for item_id, d in entries if len(d)]
        index = cls()
        sizes = np.cumsum([len(d) for _, d in kept])
        total = int(sizes[-1]) if len(sizes) else 0
        if total > EXHAUSTIVE:
            cells = 1 << min(_MAX_CELLS_LOG2, max(6, int(np.log2(total / _PER_CELL))))
            picks = np.random.default_rng(0).choice(total, size=cells, replace=False)
            owners = np.searchsorted(sizes, picks, side="right")
            starts = np.concatenate([[0], sizes[:-1]])
            centres = np.stack(
                [kept[o][1][p - starts[o]] for o, p in zip(owners, picks, strict=True)]
            )
            index._index = _inverted_file(centres)
        # In slices: a million items' descriptors are never copied into one array at once.
        for start in range(0, len(kept), _BUILD_SLICE):
            index._add(kept[start : start + _BUILD_SLICE])
        index._built_for = index._count
        return index

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._items

    @property
    def descriptors(self) -> int:
        return self._count

    @property
    def stale(self) -> bool:
        """Grown so far past what its cells were drawn for that searches slow down."""
        return self._count > max(EXHAUSTIVE, 4 * self._built_for)

    def set_many(self, entries: Iterable[tuple[int, np.ndarray]]) -> None:
        """Add or replace items' descriptors (uint8, n x 32 each)."""
        with self._lock:
            fresh = []
            for item_id, descriptors in entries:
                if item_id in self._items:
                    self._drop(item_id)
                if len(descriptors):
                    fresh.append((item_id, descriptors))
            self._add(fresh)

    def remove(self, item_ids: Iterable[int]) -> None:
        """Forget items (retired or deleted)."""
        with self._lock:
            for item_id in item_ids:
                if item_id in self._items:
                    self._drop(item_id)

    def candidates(self, descriptors: np.ndarray) -> list[int]:
        """Items worth aligning with a query of these descriptors, most votes first."""
        if not len(descriptors):
            return []
        with self._lock:
            if self._count == 0:
                return []
            distances, ids = self._index.search(np.ascontiguousarray(descriptors), 2)
        nearest, second = distances[:, 0], distances[:, 1]
        close = (nearest <= _MAX_BITS) & (ids[:, 0] >= 0)
        # The second nearest may be of the same item: then the vote is no less clear. Or of
        # another item with the same descriptor (the same picture known twice): both get it.
        twin = (second <= nearest + _TWIN_BITS) & (ids[:, 1] >= 0) & (ids[:, 1] != ids[:, 0])
        clear = close & ((nearest < _RATIO * second) | (ids[:, 0] == ids[:, 1]) | twin)
        voters = np.concatenate([ids[clear, 0], ids[close & twin, 1]])
        if not len(voters):
            return []
        items, votes = np.unique(voters, return_counts=True)
        order = np.argsort(-votes, kind="stable")[:_CANDIDATES]
        return [int(items[i]) for i in order if votes[i] >= _MIN_VOTES]

    # -- under the lock ---------------------------------------------------------------------

    def _add(self, entries: list[tuple[int, np.ndarray]]) -> None:
        if not entries:
            return
        codes = np.ascontiguousarray(np.concatenate([d for _, d in entries]), dtype=np.uint8)
        ids = np.concatenate([np.full(len(d), item_id, np.int64) for item_id, d in entries])
        self._index.add_with_ids(codes, ids)
        for item_id, d in entries:
            self._items[item_id] = len(d)
        self._count += len(ids)

    def _drop(self, item_id: int) -> None:
        self._count -= self._items.pop(item_id)
        self._index.remove_ids(np.array([item_id], dtype=np.int64))


def _inverted_file(centres: np.ndarray) -> faiss.IndexBinary:
    """An empty inverted file with a cell around each of ``centres`` (stored descriptors drawn
    at random); each descriptor finds its cell through a small graph (HNSW) of the centres,
    not by comparing it with every centre (16 million descriptors would take an hour so)."""
    cells = len(centres)
    quantizer = faiss.IndexBinaryHNSW(_BITS, 16)
    quantizer.hnsw.efConstruction = 40
    quantizer.add(np.ascontiguousarray(centres))
    # Finding a query descriptor's cells was most of a search: searching the graph 8 wide
    # instead of 16 took a query against 2 million descriptors from 44 to 28 ms, and the
    # copies among 100,000 items were found the same (docs/calibration.md).
    quantizer.hnsw.efSearch = _GRAPH_SEARCH
    index = faiss.IndexBinaryIVF(quantizer, _BITS, cells)
    index.is_trained = True
    index.nprobe = _PROBES
    index.referenced_quantizer = quantizer  # keep it alive as long as the index
    return index
