"""Answering queries from the index's store: what is near a picture's hashes.

:class:`storage.index.NearDuplicateIndex` keeps the store (main tables, recent tables and a
tail compared whole, all over one set of columns; :mod:`storage.index_store`) and rebuilds
its tables now and then; this half only reads it and turns what it finds into candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np

from checks.matching import Candidate
from checks.signals import Fingerprint, Pdq
from storage.fingerprint_batch import NO_QUALITY, hex_words
from storage.index_keys import Query
from storage.index_store import Store as Part
from storage.index_tables import PRESENT

__all__ = ["IndexSearch"]


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
        """Items that are an exact SHA-256 hit or within a threshold on PDQ, mirrored PDQ or pHash.

        An item near both the query and its mirror appears twice (``mirrored`` False and True);
        the caller keeps the better. A mirrored candidate has no pHash distance: the query's
        pHash is of the unmirrored picture.
        """
        q = Query.parse(query)
        return [c for part in self._parts() for c in self._candidates(part, q, brute_force=False)]

    def candidates_brute_force(self, query: Fingerprint) -> list[Candidate]:
        """Same answer as :meth:`candidates` by comparing every item: the reference for tests."""
        q = Query.parse(query)
        return [c for part in self._parts() for c in self._candidates(part, q, brute_force=True)]

    def _candidates(self, part: Part, q: Query, *, brute_force: bool) -> list[Candidate]:
        exact = None if q.sha256 is None else part.exact(q.sha256, brute_force)
        direct = [] if exact is None else [np.array([exact], dtype=np.int64)]
        queries = {}
        pdq = [w for w in (q.pdq, q.pdq_mirrored) if w is not None]
        if pdq:
            queries["pdq"] = np.array(pdq)
        if q.phash is not None:
            queries["phash"] = q.phash.reshape(1, 1)
        found = part.near(queries, brute_force) if queries else {}
        mirrored = None
        if pdq:
            owner, slots, _ = found["pdq"]
            if q.pdq is not None:
                direct.append(slots[owner == 0] if q.pdq_mirrored is not None else slots)
            if q.pdq_mirrored is not None:
                mirrored = slots[owner == len(pdq) - 1]
        if q.phash is not None:
            direct.append(found["phash"][1])
        out = []
        if direct:
            slots = np.concatenate(direct) if len(direct) > 1 else direct[0]
            if len(slots):
                out = self._describe(part, np.unique(slots), q, mirrored=False, exact=exact)
        if mirrored is not None and len(mirrored):
            out += self._describe(part, np.unique(mirrored), q, mirrored=True, exact=None)
        return out

    def pdq_candidates(self, hashes: Sequence[str]) -> list[list[Candidate]]:
        """For each PDQ hash (a query's views: its turns, flips and framed parts), the items
        within the PDQ threshold, looked up in one pass, so the fixed cost of a look-up is paid
        once. They carry no pHash distance and are never exact: a view is compared by PDQ
        alone."""
        if not hashes:
            return []
        words = hex_words([Pdq.validate(h) for h in hashes], Pdq)[0]
        answers: list[list[Candidate]] = [[] for _ in hashes]
        for part in self._parts():
            found = part.near({"pdq": words})["pdq"]
            for answer, (slots, d) in zip(answers, _unique(*found, len(words)), strict=True):
                if len(slots):
                    no_phash = [None] * len(slots)
                    answer += _at(part, slots, d.tolist(), no_phash, mirrored=False, exact=None)
        return answers

    def _describe(
        self, part: Part, slots: np.ndarray, q: Query, *, mirrored: bool, exact: int | None
    ) -> list[Candidate]:
        pdq_query = q.pdq_mirrored if mirrored else q.pdq
        phash_query = None if mirrored else q.phash
        present = part.cols["present"].take(slots, mode="clip")
        return _at(
            part,
            slots,
            _distances(part, "pdq", slots, present, pdq_query),
            _distances(part, "phash", slots, present, phash_query),
            mirrored=mirrored,
            exact=exact,
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
    exact: int | None,
) -> list[Candidate]:
    """The candidates at these slots, with the distances already measured."""
    ids = part.cols["ids"].take(slots, mode="clip").tolist()
    quality = part.cols["pdq_quality"].take(slots, mode="clip")
    qualities = quality.tolist()
    if (quality == NO_QUALITY).any():
        qualities = [None if v == NO_QUALITY else v for v in qualities]
    exacts = repeat(False) if exact is None else (slot == exact for slot in slots.tolist())
    return list(
        map(
            Candidate._make,
            zip(ids, exacts, repeat(mirrored), pdq_distances, phash_distances, qualities),
        )
    )
