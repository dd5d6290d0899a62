import json
import pickle
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmdrift.cache import (
    EXPORT_FORMAT,
    CacheError,
    ResponseCache,
    cache_key,
    canonical_json,
    key_material,
)
from pytest_llmdrift.reply import ChatRequest, Reply, Usage


def material(
    prompt: str = "Is 7 prime?", sample: int = 0, params: dict | None = None, **kwargs: object
) -> dict:
    return key_material(
        provider="openai",
        endpoint="https://api.openai.com/v1",
        model="gpt-4o",
        request=ChatRequest.build(prompt, params={**(params or {}), **kwargs}),
        sample=sample,
    )


def reply(text: str = "[Yes]") -> Reply:
    return Reply(
        text=text,
        model="gpt-4o-2024-08-06",
        requested_model="gpt-4o",
        provider="openai",
        fingerprint="fp_1",
        usage=Usage(5, 2),
        latency_s=0.25,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text(min_size=1), json_values, max_size=6))
def test_key_is_stable_under_dict_reordering(params: dict) -> None:
    reordered = dict(reversed(list(params.items())))
    assert cache_key(material(params=params)) == cache_key(material(params=reordered))


def test_key_covers_everything_that_changes_the_reply() -> None:
    base = cache_key(material())
    assert cache_key(material(sample=1)) != base
    assert cache_key(material(temperature=0.5)) != base
    assert cache_key(material(prompt="Is 7 prime? ")) != base
    other = dict(material(), endpoint="http://localhost:11434/v1")
    assert cache_key(other) != base
    assert cache_key(dict(material(), model="gpt-4o-mini")) != base
    assert cache_key(dict(material(), provider="anthropic")) != base


def test_key_material_holds_no_credentials() -> None:
    text = canonical_json(material())
    assert "key" not in text.lower().replace("max_tokens", "")


def test_round_trip_marks_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    key = cache_key(material())
    assert cache.get(key) is None
    cache.put(key, material(), reply())
    got = cache.get(key)
    assert got is not None
    assert got.cached
    assert got.text == "[Yes]"
    assert got.fingerprint == "fp_1"
    cache.close()


def test_values_are_stored_as_json_text_not_pickle(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    cache.put(cache_key(material()), material(), reply())
    cache.close()
    db = sqlite3.connect(tmp_path / "c" / "cache.db")
    rows = db.execute("SELECT raw, mode, value FROM Cache").fetchall()
    db.close()
    assert rows
    for raw, mode, value in rows:
        assert raw == 1  # keys stored as plain text
        assert mode != 4  # diskcache MODE_PICKLE
        json.loads(value)


def test_a_planted_pickle_is_never_loaded(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    key = cache_key(material())
    cache.put(key, material(), reply())
    cache.close()

    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (exec, ("raise SystemExit('pickle was loaded')",))

    db = sqlite3.connect(tmp_path / "c" / "cache.db")
    db.execute("UPDATE Cache SET mode = 4, value = ?", (pickle.dumps(Boom()),))
    db.commit()
    db.close()
    cache = ResponseCache(tmp_path / "c")
    assert cache.get(key) is None  # dropped, not unpickled
    assert any("tampered" in notice for notice in cache.notices)
    cache.close()


def test_non_json_entry_is_dropped_and_noted(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    key = cache_key(material())
    cache._store.set(key, "{not json")
    assert cache.get(key) is None
    assert cache.notices
    cache.close()


def test_corrupt_cache_db_is_moved_aside(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"this is not a sqlite database" * 100)
    cache = ResponseCache(directory)
    key = cache_key(material())
    cache.put(key, material(), reply())  # works: a fresh cache replaced the corrupt one
    assert cache.get(key) is not None
    cache.close()
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("c.corrupt-")]
    assert len(moved) == 1
    assert (moved[0] / "cache.db").read_bytes().startswith(b"this is not")
    assert "was corrupt" in cache.notices[0]
    assert str(moved[0]) in cache.notices[0]


def test_served_identity(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    assert cache.served_identity("openai", "e", "gpt-4o") is None
    cache.set_served_identity("openai", "e", "gpt-4o", "gpt-4o-2024-08-06", "fp_1")
    assert cache.served_identity("openai", "e", "gpt-4o") == {
        "model": "gpt-4o-2024-08-06",
        "fingerprint": "fp_1",
    }
    assert cache.stats().entries == 0  # identities are not replies
    cache.close()


def test_export_is_deterministic_and_imports_back(tmp_path: Path) -> None:
    first = ResponseCache(tmp_path / "a")
    for i in range(5):
        m = material(f"question {i}")
        first.put(cache_key(m), m, reply(f"answer {i}"))
    first.export(tmp_path / "one.jsonl")
    first.export(tmp_path / "two.jsonl")
    text = (tmp_path / "one.jsonl").read_text()
    assert text == (tmp_path / "two.jsonl").read_text()
    lines = text.splitlines()
    assert json.loads(lines[0]) == {"entries": 5, "format": EXPORT_FORMAT}
    assert [json.loads(line)["key"] for line in lines[1:]] == sorted(
        json.loads(line)["key"] for line in lines[1:]
    )
    assert "stored_at" not in text
    first.close()

    second = ResponseCache(tmp_path / "b")
    assert second.import_file(tmp_path / "one.jsonl") == 5
    second.export(tmp_path / "three.jsonl")
    assert (tmp_path / "three.jsonl").read_text() == text
    stats = second.stats()
    assert stats.entries == 5
    assert stats.models == {"openai:gpt-4o": 5}
    second.close()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda lines: ["{}", *lines[1:]], "not an llmdrift cache export"),
        (lambda lines: [*lines[:1], "{broken", *lines[2:]], ":2: malformed entry"),
        (lambda lines: [lines[0], lines[2]], "header says 2"),
        (
            lambda lines: [lines[0], lines[1].replace('"text":"a', '"text":"A'), lines[2]],
            r"bad\.jsonl:2: the digest does not match",
        ),
        (
            lambda lines: [lines[0], *(x.replace("question 0", "question X") for x in lines[1:])],
            "does not match the request",
        ),
        (lambda lines: lines[:2], "header says 2 entries but the file has 1"),
    ],
)
def test_a_bad_import_changes_nothing(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    source = ResponseCache(tmp_path / "a")
    for i in range(2):
        m = material(f"question {i}")
        source.put(cache_key(m), m, reply(f"answer {i}"))
    source.export(tmp_path / "ok.jsonl")
    source.close()
    lines = (tmp_path / "ok.jsonl").read_text().splitlines()
    (tmp_path / "bad.jsonl").write_text("\n".join(mutate(lines)) + "\n")
    target = ResponseCache(tmp_path / "b")
    with pytest.raises(CacheError, match=message):
        target.import_file(tmp_path / "bad.jsonl")
    assert target.stats().entries == 0
    target.close()


def test_clear(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    cache.put(cache_key(material()), material(), reply())
    assert cache.clear() == 1
    assert cache.stats().entries == 0
    cache.close()


def test_a_file_where_the_directory_should_be_is_an_error_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes")
    cache = ResponseCache(path)
    with pytest.raises(CacheError, match=r"is a file; pass --llm-cache-dir=DIR"):
        cache.get(cache_key(material()))
    assert path.read_text() == "my notes"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_moving_aside_leaves_no_lock_file(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"x" * 4096)
    ResponseCache(directory).get(cache_key(material()))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0] == "c"
    assert names[1].startswith("c.corrupt-")
    assert len(names) == 2


def test_export_carries_served_identities_and_no_latency(tmp_path: Path) -> None:
    first = ResponseCache(tmp_path / "a")
    first.put(cache_key(material()), material(), reply())
    first.set_served_identity("openai", "e", "gpt-4o", "gpt-4o-2024-08-06", "fp_1")
    first.export(tmp_path / "x.jsonl")
    first.close()
    text = (tmp_path / "x.jsonl").read_text()
    assert '"latency_s":0.0' in text
    second = ResponseCache(tmp_path / "b")
    assert second.import_file(tmp_path / "x.jsonl") == 1
    assert second.served_identity("openai", "e", "gpt-4o") == {
        "model": "gpt-4o-2024-08-06",
        "fingerprint": "fp_1",
    }
    second.close()


def test_an_uncreatable_cache_dir_is_a_cache_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cache = ResponseCache(tmp_path / "file" / "cache")
    with pytest.raises(CacheError, match=r"cannot make the response cache at .*--llm-cache-dir"):
        cache.get(cache_key(material()))


def test_damage_behind_a_sound_header_is_moved_aside_too(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    cache = ResponseCache(directory)
    for i in range(50):
        m = material(f"q{i}")
        cache.put(cache_key(m), m, reply(f"a{i}" * 50))
    cache.close()
    db = directory / "cache.db"
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page : len(data)] = b"\xde\xad\xbe\xef" * ((len(data) - page) // 4)  # keep page 1
    db.write_bytes(bytes(data))

    cache = ResponseCache(directory)
    key = cache_key(material("q1"))
    assert cache.get(key) is None  # damaged: moved aside, a miss, no traceback
    cache.put(key, material("q1"), reply("fresh"))
    got = cache.get(key)
    assert got is not None
    assert got.text == "fresh"
    cache.close()
    assert any("was corrupt" in notice for notice in cache.notices)
    assert [p for p in tmp_path.iterdir() if p.name.startswith("c.corrupt-")]
