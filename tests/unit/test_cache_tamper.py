"""The cache as a trust boundary (issue 10): tampered rows, eviction, lone
surrogates, read-only commands, use marks, prune and export filters, digests."""

from __future__ import annotations

import datetime
import hashlib
import json
import pickle
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmdrift.cache import (
    CacheError,
    ResponseCache,
    atomic_write_text,
    cache_key,
    canonical_json,
    key_material,
    read_export,
)
from pytest_llmdrift.reply import ChatRequest, Reply, Usage

VALUE_NAME = "ab/cd/" + "0" * 28 + ".val"  # the shape of a diskcache value file


def material(prompt: str = "Is 7 prime?", model: str = "gpt-4o", provider: str = "openai"):  # type: ignore[no-untyped-def]
    return key_material(
        provider=provider,
        endpoint="https://api.openai.com/v1",
        model=model,
        request=ChatRequest.build(prompt, params={}),
        sample=0,
    )


def reply(text: str = "[Yes]", model: str = "gpt-4o") -> Reply:
    return Reply(
        text=text,
        model=model,
        requested_model=model,
        provider="openai",
        fingerprint="fp_1",
        usage=Usage(5, 2),
        latency_s=0.25,
    )


def fill(directory: Path, prompts: list[str], model: str = "gpt-4o") -> list[str]:
    cache = ResponseCache(directory, track_use=False)
    keys = []
    for prompt in prompts:
        m = material(prompt, model=model)
        keys.append(cache_key(m))
        cache.put(keys[-1], m, reply(f"answer to {prompt}", model=model))
    cache.close()
    return keys


def tamper(directory: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(directory / "cache.db")
    db.execute(sql, args)
    db.commit()
    db.close()


def entry_json(key: str) -> str:
    """A file shaped exactly like a good entry: served if its path were trusted."""
    m = material()
    return canonical_json({"material": m, "reply": reply("PLANTED").to_json(), "stored_at": 1})


# -- item 1: a row naming a file outside the cache ---------------------------------
@pytest.mark.parametrize("how", ["absolute", "relative", "symlink"])
def test_a_row_naming_an_outside_file_never_reads_serves_or_deletes_it(
    tmp_path: Path, how: str
) -> None:
    directory = tmp_path / "cache"
    (key,) = fill(directory, ["q"])
    victim = tmp_path / "home" / "me" / "victim.json"
    victim.parent.mkdir(parents=True)
    victim.write_text(entry_json(key))
    if how == "absolute":
        name = str(victim)
    elif how == "relative":
        name = "../home/me/victim.json"
    else:
        name = VALUE_NAME
        (directory / "ab" / "cd").mkdir(parents=True)
        (directory / name).symlink_to(victim)
    tamper(directory, "UPDATE Cache SET mode = 3, value = NULL, filename = ?", name)

    cache = ResponseCache(directory)
    assert cache.get(key) is None  # never served
    assert cache.alarms
    assert "tampered" in cache.alarms[0]
    assert cache.alarms[0] in cache.notices
    cache.close()
    assert victim.read_text() == entry_json(key)  # never deleted
    db = sqlite3.connect(directory / "cache.db")
    assert db.execute("SELECT COUNT(*) FROM Cache").fetchone()[0] == 0  # the row is dropped
    db.close()


def test_clear_and_prune_of_tampered_rows_leave_outside_files_alone(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"])
    victims = [tmp_path / "v1", tmp_path / "v2"]
    for victim in victims:
        victim.write_text("precious")
    db = sqlite3.connect(directory / "cache.db")
    rows = [r[0] for r in db.execute("SELECT rowid FROM Cache ORDER BY rowid")]
    for rowid, victim in zip(rows, victims, strict=True):
        db.execute(
            "UPDATE Cache SET mode = 2, value = NULL, filename = ? WHERE rowid = ?",
            (str(victim), rowid),
        )
    db.commit()
    db.close()
    cache = ResponseCache(directory, track_use=False)
    assert cache.prune_damaged(dry_run=True) == 2
    assert cache.prune_damaged() == 1 + 1
    assert [v.read_text() for v in victims] == ["precious", "precious"]
    assert len(cache.alarms) == 2
    fill(directory, ["c"])
    tamper(directory, "UPDATE Cache SET mode = 3, value = NULL, filename = ?", str(victims[0]))
    assert cache.clear() == 1
    assert victims[0].read_text() == "precious"
    cache.close()


def test_an_old_cache_with_value_files_inside_still_reads(tmp_path: Path) -> None:
    import diskcache

    directory = tmp_path / "cache"
    m = material()
    key = cache_key(m)
    value = canonical_json({"material": m, "reply": reply().to_json(), "stored_at": 1.0})
    old = diskcache.Cache(str(directory), disk_min_file_size=0)  # as a file, like big replies
    old.set(key, value)
    old.close()
    db = sqlite3.connect(directory / "cache.db")
    assert db.execute("SELECT mode, filename IS NOT NULL FROM Cache").fetchone() == (3, 1)
    db.close()
    cache = ResponseCache(directory)
    got = cache.get(key)
    assert got is not None
    assert got.text == "[Yes]"
    assert not cache.notices
    cache.put(key, m, reply("new"))  # now inline; the old file is removed
    cache.close()
    assert not [p for p in directory.rglob("*.val")]


# -- item 3: no eviction, whatever the stored settings say -------------------------
def test_stored_settings_cannot_turn_eviction_on(tmp_path: Path) -> None:
    import diskcache

    directory = tmp_path / "cache"
    old = diskcache.Cache(
        str(directory),
        size_limit=4096,
        eviction_policy="least-recently-stored",
        cull_limit=100,
        disk_min_file_size=1024,
    )
    old.close()
    keys = fill(directory, [f"question {i} " + "x" * 3000 for i in range(60)])
    cache = ResponseCache(directory)
    assert all(cache.get(key) is not None for key in keys)  # every one kept
    assert not [p for p in directory.rglob("*.val")]  # values inline, never as files
    cache.close()
    db = sqlite3.connect(directory / "cache.db")
    settings = dict(db.execute("SELECT key, value FROM Settings"))
    db.close()
    assert settings["eviction_policy"] == "none"
    assert settings["cull_limit"] == 0


# -- item 4: lone surrogates -------------------------------------------------------
@given(st.text(st.characters(exclude_categories=["Cs"])))
def test_the_key_of_valid_text_is_what_it_always_was(prompt: str) -> None:
    m = material(prompt)
    old = "reply:" + hashlib.sha256(canonical_json(m).encode("utf-8")).hexdigest()
    assert cache_key(m) == old


def test_a_lone_surrogate_keys_stores_and_reads_back(tmp_path: Path) -> None:
    # The engine refuses or repairs lone surrogates before they get here; the
    # cache does not rely on it (a request read from an export, a reply field).
    prompt, text = json.loads('"why \\ud800?"'), json.loads('"because \\udfff"')
    m = material("why ?")
    m["request"] = json.loads(json.dumps(m["request"]).replace("why ?", "why \\ud800?"))
    assert prompt in json.dumps(m, ensure_ascii=False)
    key = cache_key(m)
    assert key != cache_key(material("why ?"))
    cache = ResponseCache(directory := tmp_path / "cache")
    cache.put(key, m, reply(text))
    cache.set_served_identity("openai", "e", "gpt-4o", text, None)
    got = cache.get(key)
    assert got is not None
    assert got.text == text
    assert cache.served_identity("openai", "e", "gpt-4o") == {"model": text, "fingerprint": None}
    assert cache.export(tmp_path / "x.jsonl") == 1
    cache.close()
    entries, _ = read_export(tmp_path / "x.jsonl")
    assert entries[0][2].text == text
    assert entries[0][1]["request"] == m["request"]
    assert ResponseCache(directory).stats().entries == 1


def test_atomic_write_text_never_fails_on_a_lone_surrogate(tmp_path: Path) -> None:
    data = {"text": json.loads('"a\\ud800b"')}
    atomic_write_text(tmp_path / "r.json", canonical_json(data))
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == data  # exact
    atomic_write_text(tmp_path / "r.html", "<p>a\ud800b</p>")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == "<p>a\\ud800b</p>"


# -- item 11 and hygiene: read-only commands, clear on a tampered cache -------------
def test_a_pickled_key_row_does_not_lock_out_clear_and_stats_reports_it(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"])
    tamper(directory, "UPDATE Cache SET raw = 0, key = ? WHERE rowid = 1", pickle.dumps(("k",)))
    stats = ResponseCache(directory).stats()
    assert stats.entries == 1
    assert "pickled key" in stats.damaged[0]
    cache = ResponseCache(directory, track_use=False)
    assert cache.clear() == 1  # the readable reply; the pickled row goes too
    cache.close()
    db = sqlite3.connect(directory / "cache.db")
    assert db.execute("SELECT COUNT(*) FROM Cache").fetchone()[0] == 0
    db.close()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(directory.parent.rglob("*")) if p.is_file()}


def test_stats_and_export_change_nothing_on_a_corrupt_cache(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"not a database" * 300)
    (tmp_path / "good.jsonl").write_text("a good committed export\n")
    before = snapshot(directory)
    with pytest.raises(CacheError, match=r"cannot be read .*nothing was changed"):
        ResponseCache(directory).stats()
    with pytest.raises(CacheError, match="cannot be read"):
        ResponseCache(directory).export(tmp_path / "good.jsonl")
    assert snapshot(directory) == before  # not moved aside, export not overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "good.jsonl"]


def test_stats_reports_a_tampered_row_and_leaves_it(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"])
    victim = tmp_path / "victim"
    victim.write_text("precious")
    tamper(directory, "UPDATE Cache SET mode=3, value=NULL, filename=? WHERE rowid=1", str(victim))
    stats = ResponseCache(directory).stats()
    assert stats.entries == 1
    assert "outside the cache directory" in stats.damaged[0]
    db = sqlite3.connect(directory / "cache.db")
    assert db.execute("SELECT COUNT(*) FROM Cache").fetchone()[0] == 2
    db.close()
    assert victim.read_text() == "precious"


def test_export_refuses_a_damaged_or_empty_cache_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "llm-cache.jsonl"
    target.write_text("a good committed export\n")
    empty = ResponseCache(tmp_path / "empty")
    empty.set_served_identity("openai", "e", "gpt-4o", "x", None)
    with pytest.raises(CacheError, match=r"has no replies; nothing was written"):
        empty.export(target)
    empty.close()
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"])
    tamper(directory, "UPDATE Cache SET value = '{broken' WHERE rowid = 1")
    with pytest.raises(CacheError, match=r"1 damaged entry .*prune --damaged"):
        ResponseCache(directory).export(target)
    fill(tmp_path / "other", ["a"])
    with pytest.raises(CacheError, match="no replies that match the filters"):
        ResponseCache(tmp_path / "other").export(target, model="claude-x")
    assert target.read_text() == "a good committed export\n"


def test_an_export_without_digests_still_imports(tmp_path: Path) -> None:
    fill(tmp_path / "a", ["a", "b"])
    ResponseCache(tmp_path / "a").export(tmp_path / "new.jsonl")
    lines = (tmp_path / "new.jsonl").read_text().splitlines()
    old = [lines[0]]
    for line in lines[1:]:
        item = json.loads(line)
        assert item.pop("digest").startswith("sha256:")
        old.append(canonical_json(item))
    (tmp_path / "old.jsonl").write_text("\n".join(old) + "\n")
    assert ResponseCache(tmp_path / "b").import_file(tmp_path / "old.jsonl") == 2


# -- use marks, prune and export filters -------------------------------------------
def run(directory: Path, run_id: str, prompts: list[str]) -> None:
    """What a pytest process does: read (or write) some replies, then close."""
    cache = ResponseCache(directory, run_id=run_id)
    for prompt in prompts:
        m = material(prompt)
        if cache.get(cache_key(m)) is None:
            cache.put(cache_key(m), m, reply())
    cache.close()


def test_prune_unused_keeps_what_the_last_run_used_across_its_workers(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    run(directory, "first", ["a", "b", "c", "d"])
    cache = ResponseCache(directory, track_use=False)
    with pytest.raises(CacheError, match=r"needs a filter .*llmdrift cache clear"):
        cache.prune()
    # The last run: two xdist workers share the run's id.
    run(directory, "second", ["a"])
    run(directory, "second", ["b"])
    assert cache.prune(unused=True, dry_run=True) == {"openai:gpt-4o": 2}
    assert cache.stats().entries == 4  # a dry run removes nothing
    assert cache.prune(unused=True) == {"openai:gpt-4o": 2}
    assert {cache_key(material(p)) for p in "ab"} == {e.key for e in cache.contents().entries}
    cache.close()


def test_prune_unused_needs_a_recorded_run(tmp_path: Path) -> None:
    fill(tmp_path / "cache", ["a"])
    with pytest.raises(CacheError, match="run the whole suite once"):
        ResponseCache(tmp_path / "cache").prune(unused=True)


def test_a_run_marks_uses_in_one_write_on_close_not_per_read(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"])
    cache = ResponseCache(directory, run_id="r")
    assert cache.get(cache_key(material("a"))) is not None
    assert cache.contents().last_run is None  # nothing written yet
    cache.close()
    found = ResponseCache(directory).contents()
    assert found.last_run == "r"
    assert {e.key: e.used_run for e in found.entries} == {
        cache_key(material("a")): "r",
        cache_key(material("b")): None,
    }


def test_prune_by_model_and_date_and_filtered_export(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    fill(directory, ["a", "b"], model="gpt-4o")
    fill(directory, ["a"], model="llama3:8b")
    run(directory, "r", ["a"])  # uses gpt-4o's "a" now
    cache = ResponseCache(directory, track_use=False)
    assert cache.export(tmp_path / "x.jsonl", model="openai:llama3:8b") == 1
    assert cache.export(tmp_path / "y.jsonl", model="gpt-4o") == 2
    today = datetime.datetime.combine(datetime.date.today(), datetime.time()).timestamp()
    assert cache.export(tmp_path / "z.jsonl", used_since=today) == 1
    assert '"text":"answer to a"' in (tmp_path / "z.jsonl").read_text()
    assert cache.prune(before=today) == {}
    assert cache.prune(model="llama3:8b") == {"openai:llama3:8b": 1}
    assert cache.prune(before=today + 2 * 86400, model="openai:gpt-4o", dry_run=True) == {
        "openai:gpt-4o": 2
    }
    cache.close()
