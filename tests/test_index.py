"""The near-duplicate index: the fast path must find exactly what comparing everything finds."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable

import numpy as np
import pytest

from checks.errors import InvalidHash
from checks.signals import Fingerprint, Pdq, Phash
from storage import index as index_module
from storage import mih
from storage.fingerprint_batch import hex_words
from storage.index import FingerprintBatch, NearDuplicateIndex, pdq_tables
from storage.index_tables import pdq_wider
from storage.mih import MultiIndex, chunk_bits_for, hamming_rows


def rand_hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


def flip(value: str, count: int, rng: random.Random) -> str:
    """``value`` with exactly ``count`` distinct bits flipped."""
    bits = len(value) * 4
    number = int(value, 16)
    for bit in rng.sample(range(bits), count):
        number ^= 1 << bit
    return format(number, f"0{len(value)}x")


def key(candidates: list) -> set:
    return {
        (c.item_id, c.exact, c.mirrored, c.pdq_distance, c.phash_distance, c.item_pdq_quality)
        for c in candidates
    }


def item(rng: random.Random, *, quality: int | None = 90) -> Fingerprint:
    return Fingerprint(
        sha256=rand_hex(rng, 256),
        pdq=rand_hex(rng, 256),
        pdq_quality=quality,
        phash=rand_hex(rng, 64),
    )


def test_multi_index_finds_every_row_within_the_threshold() -> None:
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**63, size=(5000, 4), dtype=np.uint64)
    table = MultiIndex(words, np.arange(5000, dtype=np.int32), threshold=31)
    query = words[17].copy()
    for bit in (3, 70, 140, 200):  # spread over different chunks
        query[bit // 64] ^= np.uint64(1 << (bit % 64))
    found = set(table.probe(query).tolist())
    truth = set(np.flatnonzero(hamming_rows(words, query) <= 31).tolist())
    assert truth == {17}
    assert truth <= found


@pytest.mark.parametrize("chunk_bits", [8, 10, 13, 16, 21])
@pytest.mark.parametrize(("width", "threshold"), [(4, 31), (1, 4)])
def test_every_chunk_layout_finds_every_row_within_the_threshold(
    chunk_bits: int, width: int, threshold: int
) -> None:
    # Few pictures in many near copies, so buckets are uneven and neighbours are many.
    rng = np.random.default_rng(chunk_bits)
    bases = rng.integers(0, 2**63, size=(40, width), dtype=np.uint64)
    words = bases[rng.integers(0, 40, size=3000)]
    flips = rng.integers(0, width * 64, size=(3000, threshold + 12))
    for row, bits in enumerate(flips):
        for bit in bits[: rng.integers(0, len(bits))]:
            words[row, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    table = MultiIndex(words, np.arange(3000) + 5, threshold, chunk_bits=chunk_bits)
    queries = words[rng.integers(0, 3000, size=30)].copy()
    bounds, slots = table.probe_many(queries)
    assert len(bounds) == len(queries) + 1
    for row, query in enumerate(queries):
        truth = set((np.flatnonzero(hamming_rows(words, query) <= threshold) + 5).tolist())
        assert truth <= set(slots[bounds[row] : bounds[row + 1]].tolist())
        assert truth  # the query's own row at least


def test_chunk_width_keeps_buckets_sparse() -> None:
    assert chunk_bits_for(0) == chunk_bits_for(1) == 8
    assert chunk_bits_for(1_000_000) == 18
    assert chunk_bits_for(10_000_000) == 22


def test_pdq_tables_fit_the_memory_budget_at_ten_million() -> None:
    # A million items get every table the pigeonhole allows (256 // 18 = 14), and all the
    # wider chunks the unindexed bits allow; ten million get eleven tables of 22 bits, all of
    # them made 23, and the whole index stays under 1 GB (bench/index_lookup.py measures it).
    assert pdq_tables(1_000_000, chunk_bits_for(1_000_000)) >= 256 // 18
    assert pdq_wider(1_000_000, 18, 14) == 14
    assert min(pdq_tables(10_000_000, 22), 256 // 22) == 11
    assert pdq_wider(10_000_000, 22, 11) == 11
    assert pdq_wider(11_000_000, 22, 11) < 11  # more items: the budget holds, fewer wider
    assert pdq_tables(100_000_000, 24) == 11  # never so few that probes explode
    assert pdq_wider(100_000_000, 24, 11) == 0


def test_wider_chunks_stay_within_the_hash_and_find_every_neighbour() -> None:
    rng = np.random.default_rng(18)
    words = rng.integers(0, 2**63, size=(4000, 4), dtype=np.uint64)
    words[2000:] = words[:2000] ^ (
        np.uint64(1) << rng.integers(0, 64, size=(2000, 4), dtype=np.uint64)
    )
    table = MultiIndex(words, np.arange(4000), threshold=31, chunk_bits=22, tables=11, wider=9)
    assert table.chunk_bits == [23] * 9 + [22] * 2 and sum(table.chunk_bits) <= 256
    squeezed = MultiIndex(words, np.arange(4000), threshold=31, chunk_bits=18, tables=14, wider=9)
    assert sum(squeezed.chunk_bits) == 256  # only the bits the hash has
    for query in words[rng.integers(0, 4000, size=40)]:
        truth = set(np.flatnonzero(hamming_rows(words, query) <= 31).tolist())
        assert truth <= set(table.probe(query).tolist())
        assert truth <= set(squeezed.probe(query).tolist())


def test_fast_path_equals_brute_force_around_the_thresholds() -> None:
    rng = random.Random(1)
    # A small tail limit so the index has built tables *and* a tail while we query.
    index = NearDuplicateIndex(min_tail=64, tail_fraction=4)
    base = {i: item(rng) for i in range(1, 3001)}
    index.add_batch(FingerprintBatch.from_fingerprints(base.items()))
    index.wait()
    extra = {}
    for i in range(3001, 3201):  # planted neighbours of earlier items, at every distance
        source = base[rng.randrange(1, 3001)]
        extra[i] = Fingerprint(
            pdq=flip(source.pdq, rng.choice([0, 1, 15, 30, 31, 32, 33, 60]), rng),
            pdq_quality=rng.choice([None, 20, 80]),
            phash=flip(source.phash, rng.choice([0, 5, 9, 10, 11, 12, 30]), rng),
        )
    first = list(extra.items())[:151]
    index.add_batch(FingerprintBatch.from_fingerprints(first))
    index.wait()  # recent tables over these, then a tail compared whole
    for item_id, fp in list(extra.items())[151:]:
        index.add(item_id, fp)
    assert len(index) == 3200
    # Main tables, recent tables and a tail, all searched at once.
    assert index.layout == {"main": 3000, "recent": 200, "tail": 49, "building": False}
    for _ in range(300):
        source = rng.choice(list(base.values()) + list(extra.values()))
        query = Fingerprint(
            pdq=flip(source.pdq, rng.choice([0, 10, 31, 32]), rng),
            pdq_quality=80,
            phash=flip(source.phash, rng.choice([0, 10, 11]), rng),
            pdq_mirrored=flip(rng.choice(list(base.values())).pdq, rng.choice([2, 31, 32]), rng),
        )
        fast, slow = index.candidates(query), index.candidates_brute_force(query)
        assert key(fast) == key(slow)
        assert len(fast) == len(key(fast))
        for c in fast:
            assert not c.exact
            assert (c.pdq_distance is not None and c.pdq_distance <= Pdq.threshold) or (
                c.phash_distance is not None and c.phash_distance <= Phash.threshold
            )


def test_thresholds_are_inclusive_and_nothing_beyond_is_returned() -> None:
    rng = random.Random(2)
    stored = item(rng)
    index = NearDuplicateIndex()
    index.add(1, stored)
    at_limit = Fingerprint(pdq=flip(stored.pdq, Pdq.threshold, rng), pdq_quality=90)
    beyond = Fingerprint(pdq=flip(stored.pdq, Pdq.threshold + 1, rng), pdq_quality=90)
    assert [c.pdq_distance for c in index.candidates(at_limit)] == [Pdq.threshold]
    assert index.candidates(beyond) == []
    assert [
        c.phash_distance
        for c in index.candidates(Fingerprint(phash=flip(stored.phash, Phash.threshold, rng)))
    ] == [Phash.threshold]
    assert index.candidates(Fingerprint(phash=flip(stored.phash, Phash.threshold + 1, rng))) == []


def test_the_identical_file_is_found_by_its_hashes_never_by_its_sha256() -> None:
    # The database finds the identical file by its natural key; the index holds no SHA-256.
    rng = random.Random(3)
    stored = item(rng, quality=None)
    index = NearDuplicateIndex()
    index.add(9, stored)
    (hit,) = index.candidates(stored)
    assert (hit.item_id, hit.exact, hit.pdq_distance, hit.phash_distance) == (9, False, 0, 0)
    assert hit.item_pdq_quality is None
    assert index.candidates(Fingerprint(sha256=stored.sha256)) == []


def test_mirrored_candidates_are_measured_against_the_mirror() -> None:
    rng = random.Random(4)
    stored = item(rng)
    index = NearDuplicateIndex()
    index.add(5, stored)
    query = Fingerprint(
        pdq=rand_hex(rng, 256), phash=stored.phash, pdq_mirrored=flip(stored.pdq, 4, rng)
    )
    found = {c.mirrored: c for c in index.candidates(query)}
    assert found[True].pdq_distance == 4 and found[True].phash_distance is None
    # The unmirrored pHash also matches, so the item is a direct candidate as well.
    assert found[False].phash_distance == 0 and found[False].pdq_distance > Pdq.threshold
    # With the mirror's pHash, mirrored candidates (found by PDQ alone) are measured by it.
    mirror_phash = dataclasses.replace(query, phash_mirrored=flip(stored.phash, 3, rng))
    found = {c.mirrored: c for c in index.candidates(mirror_phash)}
    assert (found[True].pdq_distance, found[True].phash_distance) == (4, 3)
    assert key(index.candidates_brute_force(mirror_phash)) == key(found.values())
    # A query of its mirror alone (a hand-made fingerprint) is found as a mirror.
    only_mirror = Fingerprint(sha256=rand_hex(rng, 256), pdq_mirrored=stored.pdq)
    assert [(c.item_id, c.mirrored) for c in index.candidates(only_mirror)] == [(5, True)]


def test_missing_hashes_give_none_distances() -> None:
    rng = random.Random(5)
    index = NearDuplicateIndex()
    only_phash = Fingerprint(phash=rand_hex(rng, 64))
    only_pdq = Fingerprint(pdq=rand_hex(rng, 256), pdq_quality=90)
    index.add(1, only_phash)
    index.add(2, only_pdq)
    (c,) = index.candidates(Fingerprint(pdq=rand_hex(rng, 256), phash=only_phash.phash))
    assert (c.item_id, c.pdq_distance, c.phash_distance) == (1, None, 0)
    (c,) = index.candidates(Fingerprint(pdq=only_pdq.pdq, phash=rand_hex(rng, 64)))
    assert (c.item_id, c.pdq_distance, c.phash_distance) == (2, 0, None)


def test_an_item_without_a_near_hash_has_no_place() -> None:
    # Imported by SHA-256 alone, an item is the database's to find; one that loses its near
    # hashes leaves the index, in a batch, at start-up, or one by one.
    rng = random.Random(19)
    kept, bare = item(rng), Fingerprint(sha256=rand_hex(rng, 256))
    index = NearDuplicateIndex.from_batches(
        [FingerprintBatch.from_fingerprints([(1, kept), (2, bare)])]
    )
    assert len(index) == 1 and 2 not in index
    assert index.add(2, bare) is False and len(index) == 1
    assert index.add_batch(FingerprintBatch.from_fingerprints([(1, bare), (3, item(rng))])) == 2
    assert 1 not in index and 3 in index
    assert index.candidates(Fingerprint(pdq=kept.pdq)) == []


def test_re_adding_moves_an_item_and_unchanged_is_a_no_op() -> None:
    rng = random.Random(6)
    before, after = item(rng), item(rng)
    index = NearDuplicateIndex(min_tail=1, tail_fraction=1)  # rebuild on nearly every add
    for i, fp in enumerate([item(rng) for _ in range(20)], start=100):
        index.add(i, fp)
    assert index.add(7, before) is True
    assert index.add(7, before) is False
    assert index.add(7, after) is True
    assert len(index) == 21
    assert index.candidates(Fingerprint(pdq=before.pdq)) == []
    assert [c.item_id for c in index.candidates(Fingerprint(pdq=after.pdq))] == [7]
    assert index.remove(7) is True
    assert index.remove(7) is False
    assert 7 not in index and 100 in index
    assert index.candidates(Fingerprint(pdq=after.pdq)) == []
    assert len(index) == 20


def test_tail_and_rebuild_keep_every_item_findable() -> None:
    rng = random.Random(8)
    index = NearDuplicateIndex(min_tail=10, tail_fraction=2)
    stored = {i: item(rng) for i in range(1, 400)}
    for i, fp in list(stored.items()):
        index.add(i, fp)
        if i % 50 == 0:
            index.remove(i - 1)
            del stored[i - 1]
    for i, fp in stored.items():
        assert [c.item_id for c in index.candidates(Fingerprint(pdq=fp.pdq))] == [i]
        assert [c.item_id for c in index.candidates(Fingerprint(pdq=fp.pdq))] == [i]
    assert len(index) == len(stored)


def test_a_batch_mixing_unchanged_changed_and_new_items_in_main_and_tail() -> None:
    # What a refresh after a partner's re-import brings: mostly the same items again.
    rng = random.Random(10)
    index = NearDuplicateIndex(min_tail=50, tail_fraction=1000)
    stored = {i: item(rng) for i in range(1, 101)}
    index.add_batch(FingerprintBatch.from_fingerprints(stored.items()))
    index.rebuild()  # 1-100 in the tables
    stored.update({i: item(rng) for i in range(101, 111)})
    index.add_batch(FingerprintBatch.from_fingerprints((i, stored[i]) for i in range(101, 111)))
    changed = {5: item(rng), 105: item(rng)}  # one in the tables, one in the tail
    again = {**stored, **changed, 200: item(rng)}
    assert index.add_batch(FingerprintBatch.from_fingerprints(again.items())) == 3
    assert len(index) == 111
    for i, fp in again.items():
        assert [c.item_id for c in index.candidates(Fingerprint(pdq=fp.pdq))] == [i]
    for i in changed:
        assert index.candidates(Fingerprint(pdq=stored[i].pdq)) == []
    assert index.add_batch(FingerprintBatch.from_fingerprints(again.items())) == 0


def test_bulk_build_keeps_the_last_row_of_a_repeated_id() -> None:
    rng = random.Random(9)
    old, new = item(rng), item(rng)
    first = FingerprintBatch.from_fingerprints([(1, old), (2, item(rng))])
    second = FingerprintBatch.from_fingerprints([(1, new)])
    index = NearDuplicateIndex.from_batches([first, second])
    assert len(index) == 2
    assert index.candidates(Fingerprint(pdq=old.pdq)) == []
    assert [c.item_id for c in index.candidates(Fingerprint(pdq=new.pdq))] == [1]


def test_malformed_hashes_are_refused() -> None:
    index = NearDuplicateIndex()
    with pytest.raises(InvalidHash):
        index.candidates(Fingerprint(pdq="zz" * 32))
    with pytest.raises(InvalidHash):
        index.candidates(Fingerprint(phash="abc"))
    with pytest.raises(InvalidHash):
        FingerprintBatch.from_columns([1], ["ab cd" + "0" * 59], [None], [None])
    with pytest.raises(InvalidHash):
        FingerprintBatch.from_columns([1, 2], ["0" * 63, "0" * 65], [1, 2], [None, None])
    # Upper case is normalised, not refused.
    index.add(1, Fingerprint(pdq="AB" * 32))
    assert [c.item_id for c in index.candidates(Fingerprint(pdq="ab" * 32))] == [1]


def test_empty_index_answers_nothing() -> None:
    rng = random.Random(10)
    index = NearDuplicateIndex.from_batches([])
    query = item(rng)
    assert len(index) == 0
    assert index.candidates(query) == [] == index.candidates_brute_force(query)


def test_many_pdq_hashes_at_once_find_what_brute_force_finds() -> None:
    rng = random.Random(11)
    index = NearDuplicateIndex(min_tail=64, tail_fraction=4)
    base = {i: item(rng) for i in range(1, 2001)}
    index.add_batch(FingerprintBatch.from_fingerprints(base.items()))
    for i in range(2001, 2101):  # a tail, and near copies in it
        source = base[rng.randrange(1, 2001)]
        index.add(i, Fingerprint(pdq=flip(source.pdq, rng.choice([0, 20, 31, 32]), rng)))
    index.remove(5)
    live = index.live()
    hexes = [flip(base[rng.randrange(1, 2001)].pdq, rng.choice([0, 15, 31, 40]), rng)]
    hexes += [flip(hexes[0], 3, rng) for _ in range(10)] + [rand_hex(rng, 256)]
    words = hex_words(hexes, Pdq)[0]  # as the index lays them out
    found = index.pdq_candidates(hexes)
    assert len(found) == 12
    for query, candidates in zip(words, found, strict=True):
        d = hamming_rows(live.pdq, query)
        hit = (d <= Pdq.threshold) & live.has_pdq
        assert {c.item_id: c.pdq_distance for c in candidates} == dict(
            zip(live.ids[hit].tolist(), d[hit].tolist(), strict=True)
        )
    assert index.pdq_candidates([]) == []


def test_updated_applies_changes_to_a_copy() -> None:
    rng = random.Random(13)
    stored = {i: item(rng) for i in range(1, 50)}
    index = NearDuplicateIndex.from_batches([FingerprintBatch.from_fingerprints(stored.items())])
    extra = item(rng)
    fresh, changed = index.updated([(FingerprintBatch.from_fingerprints([(99, extra)]), [3])])
    assert changed == 2 and len(fresh) == 49
    for i, fp in [*stored.items(), (99, extra)]:
        found = [c.item_id for c in fresh.candidates(Fingerprint(pdq=fp.pdq))]
        assert found == ([] if i == 3 else [i])
        before = [c.item_id for c in index.candidates(Fingerprint(pdq=fp.pdq))]
        assert before == ([] if i == 99 else [i])


def test_a_query_s_views_find_what_brute_force_finds_by_pdq() -> None:
    rng = random.Random(11)
    index = NearDuplicateIndex()
    stored = {i: item(rng, quality=rng.choice([None, 30, 90])) for i in range(1, 400)}
    for item_id, fp in stored.items():
        index.add(item_id, fp)
    near = rng.sample(sorted(stored), 5)
    hashes = [flip(stored[i].pdq, rng.choice([0, 9, 31, 32]), rng) for i in near]
    hashes.append(rand_hex(rng, 256))
    for pdq, found in zip(hashes, index.pdq_candidates(hashes), strict=True):
        reference = {
            (c.item_id, c.pdq_distance, c.item_pdq_quality)
            for c in index.candidates_brute_force(Fingerprint(pdq=pdq))
            if c.pdq_distance is not None and c.pdq_distance <= Pdq.threshold
        }
        assert {(c.item_id, c.pdq_distance, c.item_pdq_quality) for c in found} == reference
        assert not any(c.exact or c.mirrored or c.phash_distance is not None for c in found)


def test_crowded_blocks_keep_their_offsets_aside_and_lose_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 600 copies of one hash put far more than 255 entries in one block of buckets (with
    # one-byte offsets, as in a large index: a small one affords two bytes and never crowds).
    monkeypatch.setattr(mih, "_SMALL_DIRECTORY", 0)
    rng = np.random.default_rng(14)
    words = rng.integers(0, 2**63, size=(2000, 4), dtype=np.uint64)
    words[:600] = words[0]
    words[600:700] = words[600]  # crowded too, but not past a byte
    table = MultiIndex(words, np.arange(2000), threshold=31, chunk_bits=12)
    assert table._rel.dtype == np.uint8
    assert 0 < len(table._wide_blocks) <= table.tables
    for row, copies in ((0, range(600)), (600, range(600, 700)), (1500, [1500])):
        query = words[row].copy()
        query[1] ^= np.uint64(0b1011)
        found = table.probe(query).tolist()
        assert set(copies) <= set(found)
    sparse = MultiIndex(words[600:], np.arange(600, 2000), threshold=31, chunk_bits=12)
    assert len(sparse._wide_blocks) == 0


def test_radius_zero_table_finds_equal_keys_only() -> None:
    rng = np.random.default_rng(15)
    keys = rng.integers(1, 2**63, size=(3000, 1), dtype=np.uint64)
    table = MultiIndex(keys, np.arange(3000), threshold=0, chunk_bits=9)
    assert table.probes == 1
    for row in (0, 1234, 2999):
        found = table.probe(keys[row])
        assert row in found.tolist()
        assert len(found) < 40  # one bucket, not a scan


def test_ids_beyond_32_bits_widen_the_id_column() -> None:
    rng = random.Random(16)
    small = {i: item(rng) for i in range(1, 30)}
    index = NearDuplicateIndex.from_batches([FingerprintBatch.from_fingerprints(small.items())])
    assert index._store.cols["ids"].dtype == np.int32
    huge = 2**40 + 7
    wide = item(rng)
    assert index.add(huge, wide)
    assert huge in index and [c.item_id for c in index.candidates(Fingerprint(pdq=wide.pdq))]
    index.rebuild()
    assert index._store.cols["ids"].dtype == np.int64
    assert huge in index and 5 in index and 2**33 not in index and -(2**40) not in index
    assert [c.item_id for c in index.candidates(Fingerprint(pdq=wide.pdq))] == [huge]
    assert [c.item_id for c in index.candidates(Fingerprint(pdq=small[5].pdq))] == [5]
    assert index.remove(huge) and huge not in index
    assert index.live().ids.dtype == np.int64
    narrow = NearDuplicateIndex.from_batches([FingerprintBatch.from_fingerprints(small.items())])
    assert 2**40 + 7 not in narrow and not narrow.remove(2**40 + 7)  # no int32 wrap-around


def test_an_out_of_range_quality_widens_its_column_rather_than_wrapping() -> None:
    rng = random.Random(17)
    index = NearDuplicateIndex()
    index.add(1, item(rng, quality=90))
    index.rebuild()
    assert index._store.cols["pdq_quality"].dtype == np.int8
    stored = item(rng)
    batch = FingerprintBatch.from_fingerprints([(2, stored)])
    batch.pdq_quality[:] = 300  # never produced nor imported (0-100), but kept as it is
    index.add_batch(batch)
    for _ in range(2):  # in the tail, then merged
        assert [c.item_pdq_quality for c in index.candidates(Fingerprint(pdq=stored.pdq))] == [300]
        assert index.live().pdq_quality.tolist() == [90, 300]
        index.rebuild()
    assert index._store.cols["pdq_quality"].dtype == np.int16


class _Gate:
    """Holds the index's builds until released, so a test can change the index while one
    runs (they otherwise finish at once at this size)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.started = 0
        for name in ("merge", "index_recent"):
            build = getattr(index_module, name)
            monkeypatch.setattr(index_module, name, self._held(build))

    def _held(self, build: Callable[..., object]) -> Callable[..., object]:
        def held(*args: object, **kwargs: object) -> object:
            if threading.current_thread() is not threading.main_thread():
                self.started += 1
                assert self.open.wait(10)
            return build(*args, **kwargs)

        return held


def _agrees(index: NearDuplicateIndex, stored: dict[int, Fingerprint], rng: random.Random) -> None:
    """Every stored item is found by its hashes, nothing else is, and the fast path finds
    what comparing everything finds."""
    assert len(index) == len(stored)
    for item_id, fp in rng.sample(sorted(stored.items()), min(40, len(stored))):
        assert item_id in index
        query = Fingerprint(pdq=flip(fp.pdq, 5, rng), phash=fp.phash)
        found = index.candidates(query)
        assert key(found) == key(index.candidates_brute_force(query))
        assert item_id in {c.item_id for c in found if c.pdq_distance == 5}


def test_a_rebuild_runs_off_the_caller_s_path_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(20)
    gate = _Gate(monkeypatch)
    index = NearDuplicateIndex(min_tail=16, tail_fraction=2)
    stored = {i: item(rng) for i in range(1, 201)}
    index.add_batch(FingerprintBatch.from_fingerprints(stored.items()))
    assert index.layout["building"] and gate.started == 1  # the call returned; it did not
    _agrees(index, stored, rng)  # lookups go on meanwhile
    # While it builds: changes to items it is merging, removals, and new items.
    old_ids = rng.sample(sorted(stored), 30)
    for item_id in old_ids[:10]:
        assert index.remove(item_id)
        del stored[item_id]
    for item_id in old_ids[10:]:
        stored[item_id] = item(rng)
        assert index.add(item_id, stored[item_id])
    fresh = {i: item(rng) for i in range(1000, 1100)}
    stored.update(fresh)
    index.add_batch(FingerprintBatch.from_fingerprints(fresh.items()))
    assert index.remove(1005) and index.remove(old_ids[20])
    del stored[1005], stored[old_ids[20]]
    _agrees(index, stored, rng)
    gate.open.set()
    index.wait()
    _agrees(index, stored, rng)
    for item_id in [*old_ids[:10], 1005, old_ids[20]]:
        assert item_id not in index
    index.rebuild()
    assert index.layout == {"main": len(stored), "recent": 0, "tail": 0, "building": False}
    _agrees(index, stored, rng)


def test_recent_tables_are_built_on_a_thread_too(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(21)
    index = NearDuplicateIndex(min_tail=8, tail_fraction=4)
    stored = {i: item(rng) for i in range(1, 401)}
    index.add_batch(FingerprintBatch.from_fingerprints(stored.items()))
    index.wait()
    gate = _Gate(monkeypatch)
    more = {i: item(rng) for i in range(401, 421)}
    stored.update(more)
    index.add_batch(FingerprintBatch.from_fingerprints(more.items()))
    assert index.layout["building"] and gate.started == 1
    assert index.remove(405) and index.remove(3)
    del stored[405], stored[3]
    stored[410] = item(rng)
    index.add(410, stored[410])
    _agrees(index, stored, rng)
    gate.open.set()
    index.wait()
    assert index.layout["recent"] == 19 and index.layout["tail"] == 1
    _agrees(index, stored, rng)


def test_many_changes_with_builds_under_way_keep_the_index_exact() -> None:
    rng = random.Random(22)
    index = NearDuplicateIndex(min_tail=32, tail_fraction=3)
    stored: dict[int, Fingerprint] = {}
    for step in range(60):
        new = {rng.randrange(1, 2000): item(rng) for _ in range(rng.randrange(1, 60))}
        stored.update(new)
        index.add_batch(FingerprintBatch.from_fingerprints(new.items()))
        for item_id in rng.sample(sorted(stored), min(len(stored), rng.randrange(0, 8))):
            assert index.remove(item_id)
            del stored[item_id]
        if step % 7 == 0:
            index.wait()
        if step % 10 == 0:
            _agrees(index, stored, rng)
    index.wait()
    _agrees(index, stored, rng)
    assert {int(i) for i in index.live().ids} == set(stored)


def test_updated_on_a_thread_reads_the_index_whole_while_it_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(23)
    gate = _Gate(monkeypatch)
    index = NearDuplicateIndex(min_tail=8, tail_fraction=2)
    stored = {i: item(rng) for i in range(1, 101)}
    index.add_batch(FingerprintBatch.from_fingerprints(stored.items()))
    assert index.layout["building"]
    extra = {500: item(rng)}
    fresh, changed = index.updated([(FingerprintBatch.from_fingerprints(extra.items()), [7])])
    assert changed == 2
    del stored[7]
    stored.update(extra)
    _agrees(fresh, stored, rng)
    gate.open.set()


def test_a_failed_build_is_reported_and_the_index_still_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(24)
    index = NearDuplicateIndex(min_tail=8, tail_fraction=2)

    def fail(*args: object, **kwargs: object) -> object:
        raise MemoryError("no room for new tables")

    monkeypatch.setattr(index_module, "merge", fail)
    stored = {i: item(rng) for i in range(1, 51)}
    index.add_batch(FingerprintBatch.from_fingerprints(stored.items()))
    with pytest.raises(MemoryError):
        index.wait()
    monkeypatch.undo()
    _agrees(index, stored, rng)  # the tail still holds everything
    index.add(99, stored.setdefault(99, item(rng)))
    index.wait()
    assert index.layout["main"] == len(stored)
    _agrees(index, stored, rng)
