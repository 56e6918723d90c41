"""Answering queries from the index's store: what is near a picture's hashes.

:class:`storage.index.NearDuplicateIndex` keeps the store (main tables, recent tables and a
tail compared whole, all over one set of columns; :mod:`storage.index_store`) and rebuilds
its tables now and then; this half only reads it and turns what it finds into candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from checks.matching import Candidate
from checks.signals import Fingerprint, HashKind, Pdq, Phash
from storage.fingerprint_batch import NO_QUALITY, hex_words
from storage.index_store import Store as Part
from storage.index_tables import PRESENT

__all__ = ["IndexSearch", "Query"]


@dataclass(frozen=True, slots=True)
class Query:
    """A query fingerprint's hashes as words (None where the query lacks them)."""

    pdq: np.ndarray | None
    pdq_mirrored: np.ndarray | None
    phash: np.ndarray | None
    phash_mirrored: np.ndarray | None

    @classmethod
    def parse(cls, fp: Fingerprint) -> Query:
        """Validate and convert, one ``bytes.fromhex`` a hash (a look-up's fixed cost)."""

        def words(value: str | None, kind: type[HashKind]) -> np.ndarray | None:
            if value is None:
                return None
            return np.frombuffer(bytes.fromhex(kind.validate(value)), dtype=">u8").astype(np.uint64)

        return cls(
            pdq=words(fp.pdq, Pdq),
            pdq_mirrored=words(fp.pdq_mirrored, Pdq),
            phash=words(fp.phash, Phash),
            phash_mirrored=words(fp.phash_mirrored, Phash),
        )


def _unique(owner: np.ndarray, slots: np.ndarray, d: np.ndarray, queries: int) -> list:
    """Per query row, its slots (sorted, each once) and their distances: a neighbour close in
    several chunks is found several times."""
    if len(slots) > 1:
        order = np.lexsort((slots, owner))
        owner, slots, d = owner[order], slots[order], d[order]
        first = np.ones(len(slots), dtype=bool)
        first[1:] = (slots[1:] != slots[:-1]) | (owner[1:] != owner[:-1])
        owner, slots, d = owner[first], slots[first], d[first]
    cuts = np.searchsorted(owner, np.arange(queries + 1)).tolist()
    return [(slots[cuts[i] : cuts[i + 1]], d[cuts[i] : cuts[i + 1]]) for i in range(queries)]


class IndexSearch:
    """The queries of :class:`storage.index.NearDuplicateIndex`, over the parts it keeps."""

    pdq_threshold: int
    phash_threshold: int

    def _parts(self) -> Sequence[Part]:
        """The parts holding items now (none empty)."""
        raise NotImplementedError

    def candidates(self, query: Fingerprint) -> list[Candidate]:
        """Items within a threshold of the query on PDQ, mirrored PDQ or pHash.

        An item near both the query and its mirror appears twice (``mirrored`` False and True);
        the caller keeps the better. Mirrored candidates are found by the mirror's PDQ alone;
        their pHash distance is to the mirror's pHash (None when the query has none), for the
        flat pictures whose PDQ is too weak to decide. The identical file is the database's to
        find, by its SHA-256: no candidate here is ``exact``.
        """
        q = Query.parse(query)
        return [c for part in self._parts() for c in self._candidates(part, q, brute_force=False)]

    def candidates_brute_force(self, query: Fingerprint) -> list[Candidate]:
        """Same answer as :meth:`candidates` by comparing every item: the reference for tests."""
        q = Query.parse(query)
        return [c for part in self._parts() for c in self._candidates(part, q, brute_force=True)]

    def _candidates(self, part: Part, q: Query, *, brute_force: bool) -> list[Candidate]:
        queries = {}
        pdq = [w for w in (q.pdq, q.pdq_mirrored) if w is not None]
        if pdq:
            queries["pdq"] = np.array(pdq)
        if q.phash is not None:
            queries["phash"] = q.phash.reshape(1, 1)
        if not queries:
            return []
        found = part.near(queries, brute_force)
        direct, mirrored = [], None
        if pdq:
            owner, slots, _ = found["pdq"]
            if q.pdq is not None:
                direct.append(slots[owner == 0] if q.pdq_mirrored is not None else slots)
            if q.pdq_mirrored is not None:
                mirrored = slots[owner == len(pdq) - 1]
        if q.phash is not None:
            direct.append(found["phash"][1])
        out = []
        slots = np.concatenate(direct) if direct else np.empty(0, dtype=np.int64)
        if len(slots):
            out = self._describe(part, np.unique(slots), q, mirrored=False)
        if mirrored is not None and len(mirrored):
            out += self._describe(part, np.unique(mirrored), q, mirrored=True)
        return out

    def pdq_candidates(self, hashes: Sequence[str]) -> list[list[Candidate]]:
        """For each PDQ hash (a query's views: its turns, flips and framed parts), the items
        within the PDQ threshold, looked up in one pass, so the fixed cost of a look-up is paid
        once. They carry no pHash distance: a view is compared by PDQ alone."""
        if not hashes:
            return []
        words = hex_words([Pdq.validate(h) for h in hashes], Pdq)[0]
        answers: list[list[Candidate]] = [[] for _ in hashes]
        for part in self._parts():
            found = part.near({"pdq": words})["pdq"]
            for answer, (slots, d) in zip(answers, _unique(*found, len(words)), strict=True):
                if len(slots):
                    no_phash = [None] * len(slots)
                    answer += _at(part, slots, d.tolist(), no_phash, mirrored=False)
        return answers

    def _describe(
        self, part: Part, slots: np.ndarray, q: Query, *, mirrored: bool
    ) -> list[Candidate]:
        pdq_query = q.pdq_mirrored if mirrored else q.pdq
        phash_query = q.phash_mirrored if mirrored else q.phash
        present = part.cols["present"].take(slots, mode="clip")
        return _at(
            part,
            slots,
            _distances(part, "pdq", slots, present, pdq_query),
            _distances(part, "phash", slots, present, phash_query),
            mirrored=mirrored,
        )


def _distances(
    part: Part, name: str, slots: np.ndarray, present: np.ndarray, query: np.ndarray | None
) -> list[int | None]:
    """Distance from each slot's ``name`` hash to ``query``; None where either lacks it
    (``present``: the slots' flags)."""
    if query is None:
        return [None] * len(slots)
    found = part.distances(name, slots, query).tolist()
    has = present & PRESENT[name]
    if has.all():
        return found
    return [d if ok else None for d, ok in zip(found, has.tolist(), strict=True)]


def _at(
    part: Part,
    slots: np.ndarray,
    pdq_distances: list[int | None],
    phash_distances: list[int | None],
    *,
    mirrored: bool,
) -> list[Candidate]:
    """The candidates at these slots, with the distances already measured."""
    ids = part.cols["ids"].take(slots, mode="clip").tolist()
    quality = part.cols["pdq_quality"].take(slots, mode="clip")
    qualities = quality.tolist()
    if (quality == NO_QUALITY).any():
        qualities = [None if v == NO_QUALITY else v for v in qualities]
    return list(
        map(
            Candidate._make,
            zip(ids, repeat(False), repeat(mirrored), pdq_distances, phash_distances, qualities),
        )
    )
