"""Benchmark: a fully cached llmdrift run against the same tests answered from a dict.

Design target (README): a run with everything cached is nearly as fast as pytest
itself; the aim is a wall-clock ratio of at most 1.15 between

* (b) N tests that call ``llm(prompt)`` with every reply in the response cache
  (``--llm-cache=replay``), and
* (a) the same N tests answered by a plain dict, with the plugin installed and active
  but unused (the honest "pytest itself" baseline).

(c) is the dict run with ``-p no:llmdrift``: what merely having the plugin installed
costs. Every run is a fresh ``python -m pytest`` subprocess timed by wall clock (the
headline numbers) and by the CPU time (user + sys) it used, which other load on a shared
machine disturbs much less; the configurations are interleaved (the order rotates each
round) so that such load hurts them alike.

This is a measurement, not a test: timings are never asserted. It exits non-zero only
when a run fails or the cached run made a live call (parsed from the plugin's
``calls: X live, Y cached`` summary line). Bytecode is cached under a private
``PYTHONPYCACHEPREFIX`` in the temporary directory (``--no-pyc`` keeps the calling
environment's setting instead), so nothing is written outside it.

    python bench/cached_run.py [--tests 1000] [--repeat 5] [--json PATH] [--keep] [--no-pyc]

Standard library only (pytest and the plugin run in subprocesses).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL = "demo-2023-03"
TARGET = 1.15
# range(1, N + 1): the demo model cannot answer "Is 0 a prime number?" (it raises
# ZeroDivisionError in its server), so the questions start at 1.
FIRST = 1

LLM_TEST = """\
import pytest


@pytest.mark.parametrize("i", range({first}, {stop}))
def test_q(llm, i):
    assert llm(f"Is {{i}} a prime number?").text
"""

DICT_TEST = """\
import pytest


@pytest.mark.parametrize("i", range({first}, {stop}))
def test_q(answers, i):
    assert answers(f"Is {{i}} a prime number?")
"""

DICT_CONFTEST = '''\
"""The baseline: the same reply texts, answered from a plain dict."""

import json
from pathlib import Path

import pytest

ANSWERS = json.loads((Path(__file__).parent / "answers.json").read_text(encoding="utf-8"))


def _ask(prompt):
    return ANSWERS[prompt]


@pytest.fixture
def answers():
    return _ask
'''

CALLS_LINE = re.compile(r"^calls: (\d+) live, (\d+) cached\b", re.M)
PASSED = re.compile(r"\b(\d+) passed\b")
SESSION_TIME = re.compile(r" in (\d+(?:\.\d+)?)s\b")
OPENAI_IMPORT = re.compile(r"\|\s+openai(?:\.\S+)?\s*$", re.M)


class BenchError(Exception):
    """A run failed or did not do what the benchmark needs; the message says how."""


@dataclass
class Config:
    key: str
    label: str
    cwd: Path
    args: list[str]
    expect_cached: bool = False
    wall: list[float] = field(default_factory=list)
    session: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "command": ["python", "-m", "pytest", *self.args],
            "wall_s": self.wall,
            "wall_min_s": min(self.wall),
            "wall_median_s": statistics.median(self.wall),
            "session_s": self.session,
            "session_min_s": min(self.session),
            "session_median_s": statistics.median(self.session),
            "cpu_s": self.cpu,
            "cpu_min_s": min(self.cpu),
            "cpu_median_s": statistics.median(self.cpu),
        }


@dataclass
class Result:
    wall: float
    session: float
    cpu: float
    output: str
    stderr: str


def clean_env(pycache: Path | None) -> dict[str, str]:
    """The environment for every run, without settings that would change what runs.

    With ``pycache``, bytecode (and pytest's assertion-rewritten test modules) is cached
    there (``PYTHONPYCACHEPREFIX``), as on a usual developer machine, even when the
    calling environment sets ``PYTHONDONTWRITEBYTECODE``; nothing is written next to the
    sources. Without it, the inherited bytecode setting is kept."""
    drop = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in drop and not name.startswith("LLMDRIFT_")
    }
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run(cwd: Path, args: list[str], env: dict[str, str], python_flags: list[str]) -> Result:
    command = [sys.executable, *python_flags, "-m", "pytest", *args]
    cpu_before = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    cpu = children_cpu() - cpu_before
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BenchError(f"`{' '.join(command)}` (in {cwd}) exited {proc.returncode}:\n{tail}")
    times = SESSION_TIME.findall(proc.stdout)
    if not times:
        raise BenchError(f"no pytest summary line in the output of `{' '.join(command)}`")
    return Result(wall, float(times[-1]), cpu, proc.stdout, proc.stderr)


def children_cpu() -> float:
    """User + system CPU seconds of all waited-for child processes so far (NaN off Unix)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_passed(result: Result, tests: int, what: str) -> None:
    passed = PASSED.findall(result.output)
    if not passed or int(passed[-1]) != tests:
        raise BenchError(f"{what}: expected {tests} passed tests, got {passed or 'none'}")


def check_calls(result: Result, live: int, cached: int, what: str) -> None:
    """Parse the plugin's ``calls: X live, Y cached`` summary line and check it."""
    match = CALLS_LINE.search(result.output)
    if match is None:
        raise BenchError(f"{what}: no `calls: X live, Y cached` line in the terminal summary")
    if (int(match.group(1)), int(match.group(2))) != (live, cached):
        raise BenchError(
            f"{what}: the summary says {match.group(0)!r}, expected "
            f"'calls: {live} live, {cached} cached'"
        )


def write_projects(root: Path, tests: int) -> tuple[Path, Path]:
    stop = FIRST + tests
    llm_dir, dict_dir = root / "llm", root / "dict"
    for directory in (llm_dir, dict_dir):
        directory.mkdir()
        (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (llm_dir / "conftest.py").write_text("", encoding="utf-8")
    (llm_dir / "test_llm.py").write_text(LLM_TEST.format(first=FIRST, stop=stop), encoding="utf-8")
    (dict_dir / "conftest.py").write_text(DICT_CONFTEST, encoding="utf-8")
    (dict_dir / "test_dict.py").write_text(
        DICT_TEST.format(first=FIRST, stop=stop), encoding="utf-8"
    )
    return llm_dir, dict_dir


def export_answers(cache_dir: Path, out: Path, env: dict[str, str], tests: int) -> None:
    """Turn the warmed cache into ``answers.json`` ({prompt: reply text}) for the dict run."""
    export = out.with_suffix(".jsonl")
    command = [
        sys.executable, "-m", "pytest_llmdrift.cli", "cache", "export",
        "--cache-dir", str(cache_dir), "-o", str(export),
    ]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(command)}` exited {proc.returncode}: {proc.stderr}")
    answers: dict[str, str] = {}
    for line in export.read_text(encoding="utf-8").splitlines()[1:]:
        entry = json.loads(line)
        if "material" not in entry:  # a served-model record, not a reply
            continue
        messages = entry["material"]["request"]["messages"]
        answers[messages[-1]["content"]] = entry["reply"]["text"]
    if len(answers) != tests:
        raise BenchError(f"the warmed cache holds {len(answers)} replies, expected {tests}")
    out.write_text(json.dumps(answers, sort_keys=True), encoding="utf-8")
    export.unlink()


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=1000, help="tests per project (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per configuration (5)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    parser.add_argument(
        "--no-pyc",
        action="store_true",
        help="do not give the runs a private bytecode cache: keep the calling environment's "
        "PYTHONDONTWRITEBYTECODE/PYTHONPYCACHEPREFIX (every run then compiles from source "
        "if bytecode writing is off)",
    )
    args = parser.parse_args(argv)
    if args.tests < 1 or args.repeat < 1:
        parser.error("--tests and --repeat must be at least 1")

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="llmdrift-bench-"))
    try:
        options = Options(args.tests, args.repeat, args.json, not args.no_pyc)
        return _bench(root, options, started)
    except BenchError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"(kept {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Options:
    tests: int
    repeat: int
    json_path: Path | None
    private_pycache: bool


def _bench(root: Path, options: Options, started: float) -> int:
    tests, repeat, json_path = options.tests, options.repeat, options.json_path
    env = clean_env(root / "pycache" if options.private_pycache else None)
    bytecode = (
        "cached under a private PYTHONPYCACHEPREFIX"
        if options.private_pycache
        else "PYTHONDONTWRITEBYTECODE=" + env.get("PYTHONDONTWRITEBYTECODE", "(unset)")
    )
    llm_dir, dict_dir = write_projects(root, tests)
    cache_dir = root / "cache"
    common = ["-q", "-p", "no:cacheprovider"]
    llm_flags = [f"--llm-model={MODEL}", f"--llm-cache-dir={cache_dir}"]

    print(f"python {sys.version.split()[0]}, {tests} tests, {repeat} timed runs each, in {root}")
    print(f"bytecode: {bytecode}")
    print("warming the cache (live calls to the demo model) ...", flush=True)
    warm = run(llm_dir, [*common, *llm_flags], env, [])
    check_passed(warm, tests, "warm-up run")
    check_calls(warm, tests, 0, "warm-up run")
    print(f"  warm-up: {tests} live calls in {warm.wall:.1f}s")
    export_answers(cache_dir, dict_dir / "answers.json", env, tests)

    configs = [
        Config("dict", "(a) dict, plugin active", dict_dir, [*common]),
        Config(
            "cached",
            "(b) llm, --llm-cache=replay",
            llm_dir,
            [*common, *llm_flags, "--llm-cache=replay"],
            expect_cached=True,
        ),
        Config("noplugin", "(c) dict, -p no:llmdrift", dict_dir, [*common, "-p", "no:llmdrift"]),
    ]

    def measure(config: Config, flags: list[str], extra: tuple[str, ...] = ()) -> Result:
        result = run(config.cwd, [*config.args, *extra], env, flags)
        check_passed(result, tests, config.label)
        if config.expect_cached:
            check_calls(result, 0, tests, config.label)
        return result

    # One untimed run of each (bytecode caches, page cache), then the timed rounds.
    for config in configs:
        measure(config, [])
    # Does the cached run import the openai SDK? (It should not.) Untimed: -X importtime,
    # and -s so that imports made while tests run reach stderr, not pytest's capture.
    probe = measure(configs[1], ["-X", "importtime"], ("-s",))
    openai_imported = bool(OPENAI_IMPORT.search(probe.stderr))

    for round_index in range(repeat):
        shift = round_index % len(configs)
        for config in configs[shift:] + configs[:shift]:
            result = measure(config, [])
            config.wall.append(result.wall)
            config.session.append(result.session)
            config.cpu.append(result.cpu)
        print(f"  round {round_index + 1}/{repeat} done", flush=True)

    by_key = {config.key: config for config in configs}
    report(configs, tests)
    dict_c, cached_c, noplugin_c = by_key["dict"], by_key["cached"], by_key["noplugin"]
    ratios = {
        "cached/dict median": ratio(median(cached_c.wall), median(dict_c.wall)),
        "cached/dict min": ratio(min(cached_c.wall), min(dict_c.wall)),
        "cached/dict median (pytest-reported session time)": ratio(
            median(cached_c.session), median(dict_c.session)
        ),
        "cached/dict median (CPU user+sys)": ratio(median(cached_c.cpu), median(dict_c.cpu)),
        "cached/dict min (CPU user+sys)": ratio(min(cached_c.cpu), min(dict_c.cpu)),
        "dict/no-plugin median (cost of having the plugin installed)": ratio(
            median(dict_c.wall), median(noplugin_c.wall)
        ),
        "dict/no-plugin min": ratio(min(dict_c.wall), min(noplugin_c.wall)),
        "dict/no-plugin median (CPU user+sys)": ratio(median(dict_c.cpu), median(noplugin_c.cpu)),
        "cached/no-plugin median": ratio(median(cached_c.wall), median(noplugin_c.wall)),
    }
    extra_ms = (median(cached_c.wall) - median(dict_c.wall)) / tests * 1000
    extra_cpu_ms = (median(cached_c.cpu) - median(dict_c.cpu)) / tests * 1000
    print("\nratios")
    width = max(map(len, ratios))
    for name, value in ratios.items():
        print(f"  {name:<{width}}  {value:.3f}")
    print(f"  cached run's extra wall time per test (median - median) / N: {extra_ms:.3f} ms")
    print(f"  cached run's extra CPU time per test (median - median) / N:  {extra_cpu_ms:.3f} ms")
    print(f"  openai SDK imported by the cached run: {'YES' if openai_imported else 'no'}")
    elapsed = time.perf_counter() - started
    print(f"  whole benchmark: {elapsed:.1f}s")
    print(f"\ncached/dict median ratio: {ratios['cached/dict median']:.2f} (target <= {TARGET})")

    if json_path is not None:
        data = {
            "python": sys.version.split()[0],
            "tests": tests,
            "repeat": repeat,
            "model": MODEL,
            "bytecode": bytecode,
            "target": TARGET,
            "warm_up_wall_s": warm.wall,
            "runs": {config.key: config.summary() for config in configs},
            "ratios": ratios,
            "cached_extra_ms_per_test": extra_ms,
            "cached_extra_cpu_ms_per_test": extra_cpu_ms,
            "openai_imported_by_cached_run": openai_imported,
            "benchmark_wall_s": elapsed,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {json_path}")
    return 0


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(configs: list[Config], tests: int) -> None:
    header = ("run", "min s", "median s", "max s", "session med", "CPU min", "CPU med")
    rows = [
        (
            config.label,
            f"{min(config.wall):.3f}",
            f"{median(config.wall):.3f}",
            f"{max(config.wall):.3f}",
            f"{median(config.session):.3f}",
            f"{min(config.cpu):.3f}",
            f"{median(config.cpu):.3f}",
        )
        for config in configs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\nseconds per `python -m pytest` run, {tests} tests: wall clock; session = pytest's")
    print("own 'in X s'; CPU = user + sys of the subprocess")
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("  " + "  ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
