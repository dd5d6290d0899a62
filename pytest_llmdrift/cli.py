"""The ``llmdrift`` command.

    llmdrift compare BASE.json CURRENT.json [--json F] [--html F] [--markdown F] [--force]
    llmdrift merge A.json B.json ... -o ALL.json [--html ALL.html]
    llmdrift cache stats   [--cache-dir DIR]
    llmdrift cache clear   [--cache-dir DIR]
    llmdrift cache export  [--cache-dir DIR] -o FILE
    llmdrift cache import  [--cache-dir DIR] FILE

Exit status: ``compare`` exits 0 when no test regressed, 1 when some did, 2 when
the runs cannot be compared (or on a usage error). The other commands exit 0 on
success, 1 when they could not do their work (the message says why), 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_llmdrift.cache import CacheError, ResponseCache
from pytest_llmdrift.config import DEFAULT_CACHE_DIR


def _cache_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = sub.add_parser("cache", help="inspect and move the response cache")
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help, description=help)
        parser.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help=f"the cache directory, as given to --llm-cache-dir (default: {DEFAULT_CACHE_DIR} "
            "in the current directory or the nearest parent that has one)",
        )
        return parser

    add("stats", "count the cached replies per model and the space they use")
    add("clear", "delete every cached reply")
    export = add(
        "export",
        "write every cached reply to a deterministic text file (JSON lines, sorted) that can "
        "be committed or handed to CI for --llm-cache=replay",
    )
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    load = add("import", "load a file written by `llmdrift cache export` into the cache")
    load.add_argument("file", type=Path, metavar="FILE")


def _compare_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = sub.add_parser(
        "compare",
        help="paired comparison of two run reports (pytest --llm-report)",
        description="Pair the tests of two runs (by node id without the model id) and list "
        "every pass->fail (regression) and fail->pass (improvement), with an exact McNemar "
        "test and per-category deltas. Exit status: 0 no regressions, 1 regressions, "
        "2 cannot compare.",
    )
    compare.add_argument("base", type=Path, metavar="BASE.json", help="the baseline run's report")
    compare.add_argument(
        "current", type=Path, metavar="CURRENT.json", help="the current run's report"
    )
    compare.add_argument(
        "--base-model", metavar="MODEL", help="the model to take from BASE when it has several"
    )
    compare.add_argument(
        "--current-model",
        metavar="MODEL",
        help="the model to take from CURRENT when it has several",
    )
    compare.add_argument(
        "--force",
        action="store_true",
        help="compare even when tests asked differently (prompt, scorer, sampling settings)",
    )
    compare.add_argument(
        "--json", type=Path, metavar="FILE", help="write the comparison as JSON ('-': stdout)"
    )
    compare.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report")
    compare.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write Markdown for a pull-request comment ('-': stdout)",
    )


def _merge_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = sub.add_parser(
        "merge",
        help="combine the reports of CI shards into one",
        description="Combine the --llm-report files of one run split across machines (a job "
        "matrix, pytest-split) into one report; the metrics are computed anew.",
    )
    merge.add_argument("reports", type=Path, nargs="+", metavar="REPORT.json")
    merge.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    merge.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the merged run's HTML report"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmdrift", description="pytest-llmdrift companion command"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _compare_parser(sub)
    _merge_parser(sub)
    _cache_parser(sub)
    return parser


def _write(path: Path, text: str) -> None:
    """Write an output file whole, or not at all; ``-`` is standard output."""
    if str(path) == "-":
        sys.stdout.write(text)
        return
    from pytest_llmdrift.cache import atomic_write_text

    atomic_write_text(path, text)


def _run_compare(args: argparse.Namespace) -> int:
    from pytest_llmdrift.report.compare import (
        EXIT_CANNOT_COMPARE,
        CompareError,
        compare,
        exit_status,
    )
    from pytest_llmdrift.report.document import ReportError, dumps, load_report
    from pytest_llmdrift.report.render import render_markdown, render_refusal, render_text

    to_stdout = [name for name in ("json", "markdown") if str(getattr(args, name)) == "-"]
    if len(to_stdout) > 1:
        print("llmdrift compare: only one of --json and --markdown can be '-'", file=sys.stderr)
        return EXIT_CANNOT_COMPARE
    try:
        base, current = load_report(args.base), load_report(args.current)
        result = compare(
            base,
            current,
            base_source=str(args.base),
            current_source=str(args.current),
            base_model=args.base_model,
            current_model=args.current_model,
            force=args.force,
        )
    except (ReportError, CompareError) as exc:
        mismatches = getattr(exc, "mismatches", [])
        print(render_refusal(str(exc), mismatches, markdown=False), file=sys.stderr, end="")
        try:
            if args.json is not None:
                _write(
                    args.json,
                    dumps({"compatible": False, "error": str(exc), "mismatches": mismatches}),
                )
            if args.markdown is not None:
                _write(args.markdown, render_refusal(str(exc), mismatches, markdown=True))
        except OSError as error:
            print(f"llmdrift compare: cannot write: {error}", file=sys.stderr)
        return EXIT_CANNOT_COMPARE
    try:
        if args.json is not None:
            _write(args.json, dumps({"compatible": True, **result}))
        if args.markdown is not None:
            _write(args.markdown, render_markdown(result))
        if args.html is not None:
            from pytest_llmdrift.report.html import render_compare

            _write(args.html, render_compare(result))
    except OSError as exc:
        print(f"llmdrift compare: cannot write the output: {exc}", file=sys.stderr)
        return EXIT_CANNOT_COMPARE
    if not to_stdout:
        sys.stdout.write(render_text(result))
    return exit_status(result)


def _run_merge(args: argparse.Namespace) -> int:
    from pytest_llmdrift import __version__
    from pytest_llmdrift.report.document import ReportError, dumps, load_report, merge_reports

    try:
        docs = [load_report(path) for path in args.reports]
        merged = merge_reports(docs, [str(p) for p in args.reports], plugin_version=__version__)
    except ReportError as exc:
        print(f"llmdrift merge: {exc}", file=sys.stderr)
        return 1
    outputs: list[tuple[Path, Callable[[], str]]] = [(args.output, lambda: dumps(merged))]
    if args.html is not None:
        from pytest_llmdrift.report.html import render_run

        outputs.append((args.html, lambda: render_run(merged)))
    for path, render in outputs:
        try:
            _write(path, render())
        except OSError as exc:
            print(f"llmdrift merge: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    written = " and ".join(str(path) for path, _ in outputs)
    print(f"merged {len(docs)} report(s), {len(merged['items'])} test record(s), into {written}")
    return 0


def find_cache_dir(start: Path) -> Path:
    """``.llmdrift/cache`` in ``start`` or its nearest parent that has one (pytest
    puts it in the rootdir, which may be above the current directory); ``start``'s
    own when there is none."""
    for folder in (start, *start.parents):
        if (folder / DEFAULT_CACHE_DIR).is_dir():
            return folder / DEFAULT_CACHE_DIR
    return start / DEFAULT_CACHE_DIR


def _run_cache(args: argparse.Namespace) -> int:
    directory: Path = args.cache_dir or find_cache_dir(Path.cwd())
    if args.action != "import" and not directory.is_dir():
        print(
            f"llmdrift: no cache at {directory} (run pytest with an llm test first, "
            "or pass --cache-dir DIR)",
            file=sys.stderr,
        )
        return 1 if args.action == "export" else 0
    cache = ResponseCache(directory)
    try:
        if args.action == "stats":
            stats = cache.stats()
            print(f"cache: {directory}")
            print(f"replies: {stats.entries}")
            print(f"size: {stats.size_bytes} bytes")
            for model, count in sorted(stats.models.items()):
                print(f"  {model}: {count}")
        elif args.action == "clear":
            print(f"removed {cache.clear()} entries from {directory}")
        elif args.action == "export":
            count = cache.export(args.output)
            print(f"wrote {count} replies to {args.output}")
        elif args.action == "import":
            count = cache.import_file(args.file)
            print(f"imported {count} replies into {directory}")
        for notice in cache.notices:
            print(f"llmdrift: {notice}", file=sys.stderr)
    except CacheError as exc:
        print(f"llmdrift: {exc}", file=sys.stderr)
        return 1
    finally:
        cache.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "compare":
        return _run_compare(args)
    if args.command == "merge":
        return _run_merge(args)
    if args.command == "cache":
        return _run_cache(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse requires a command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
