"""The ``llmdrift`` command.

    llmdrift compare BASE.json CURRENT.json [--json F] [--html F] [--markdown F]
                     [--force | --strict]
    llmdrift merge A.json B.json ... -o ALL.json [--html ALL.html]
    llmdrift cache stats   [--cache-dir DIR]
    llmdrift cache clear   [--cache-dir DIR]
    llmdrift cache export  [--cache-dir DIR] -o FILE [--model MODEL] [--used-since DATE]
    llmdrift cache import  [--cache-dir DIR] FILE
    llmdrift cache prune   [--cache-dir DIR] [--unused] [--before DATE] [--model MODEL]
                           [--damaged] [--dry-run]

Exit status: ``compare`` exits 0 when no test regressed, 1 when some did, 2 when
the runs cannot be compared (or on a usage error). The other commands exit 0 on
success, 1 when they could not do their work (the message says why), 2 on a
usage error. Any command whose output pipe closes early (``| head``) exits 141,
quietly.
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

    add(
        "stats",
        "count the cached replies per model and the space they use (read-only: a damaged "
        "cache is reported, exit 1, and left as it is)",
    )
    add("clear", "delete every cached reply")
    export = add(
        "export",
        "write every cached reply to a deterministic text file (JSON lines, sorted) that can "
        "be committed or handed to CI for --llm-cache=replay",
    )
    export.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    export.add_argument(
        "--model", metavar="MODEL", help="only the replies of MODEL ([provider:]name)"
    )
    export.add_argument(
        "--used-since",
        type=_date,
        metavar="YYYY-MM-DD",
        help="only the replies a pytest run used on or after this day (local time)",
    )
    prune = add(
        "prune",
        "remove the cached replies that match every filter given (at least one filter)",
    )
    prune.add_argument(
        "--unused", action="store_true", help="replies the last pytest run did not use"
    )
    prune.add_argument(
        "--before",
        type=_date,
        metavar="YYYY-MM-DD",
        help="replies stored before this day (local time)",
    )
    prune.add_argument("--model", metavar="MODEL", help="replies of MODEL ([provider:]name)")
    prune.add_argument(
        "--damaged",
        action="store_true",
        help="rows that cannot be read (tampered or damaged); alone, not with other filters",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="say what would be removed, remove nothing"
    )
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
    asked = compare.add_mutually_exclusive_group()
    asked.add_argument(
        "--force",
        action="store_true",
        help="compare even the tests that asked differently (prompt, scorer, sampling "
        "settings); by default they are listed apart and left out",
    )
    asked.add_argument(
        "--strict",
        action="store_true",
        help="refuse to compare (exit 2) when any test asked differently",
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
            strict=args.strict,
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


def _date(text: str) -> float:
    """A ``YYYY-MM-DD`` option value as the timestamp of that day's local midnight."""
    import datetime

    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-03-01") from None
    return datetime.datetime.combine(day, datetime.time()).timestamp()


def _run_cache(args: argparse.Namespace) -> int:
    directory: Path = args.cache_dir or find_cache_dir(Path.cwd())
    if args.action != "import" and not directory.is_dir():
        print(
            f"llmdrift: no cache at {directory} (run pytest with an llm test first, "
            "or pass --cache-dir DIR)",
            file=sys.stderr,
        )
        return 1 if args.action == "export" else 0
    # The commands run by hand are not a test run: they mark no reply as used.
    cache = ResponseCache(directory, track_use=False)
    status = 0
    try:
        if args.action == "stats":
            stats = cache.stats()  # read-only
            print(f"cache: {directory}")
            print(f"replies: {stats.entries}")
            print(f"size: {stats.size_bytes} bytes")
            for model, count in sorted(stats.models.items()):
                print(f"  {model}: {count}")
            if stats.damaged:
                print(
                    f"llmdrift: {len(stats.damaged)} damaged entries (nothing was changed; "
                    "`llmdrift cache prune --damaged` removes them):",
                    file=sys.stderr,
                )
                for line in stats.damaged:
                    print(f"  {line}", file=sys.stderr)
                status = 1
        elif args.action == "clear":
            print(f"removed {cache.clear()} entries from {directory}")
        elif args.action == "export":
            count = cache.export(args.output, model=args.model, used_since=args.used_since)
            print(f"wrote {count} replies to {args.output}")
        elif args.action == "import":
            count = cache.import_file(args.file)
            print(f"imported {count} replies into {directory}")
        elif args.action == "prune":
            status = _prune(cache, args)
        for notice in cache.notices:
            print(f"llmdrift: {notice}", file=sys.stderr)
    except CacheError as exc:
        print(f"llmdrift: {exc}", file=sys.stderr)
        return 1
    finally:
        cache.close()
    return status


def _prune(cache: ResponseCache, args: argparse.Namespace) -> int:
    verb = "would remove" if args.dry_run else "removed"
    if args.damaged:
        if args.unused or args.before is not None or args.model:
            print(
                "llmdrift cache prune: --damaged goes alone; prune replies in a second run",
                file=sys.stderr,
            )
            return 2
        count = cache.prune_damaged(dry_run=args.dry_run)
        print(f"{verb} {count} damaged entries from {cache.directory}")
        return 0
    removed = cache.prune(
        unused=args.unused, before=args.before, model=args.model, dry_run=args.dry_run
    )
    print(f"{verb} {sum(removed.values())} replies from {cache.directory}")
    for model, count in sorted(removed.items()):
        print(f"  {model}: {count}")
    return 0


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        # The reader (`| head`) is gone: stop quietly. Point stdout at devnull so
        # that the interpreter's final flush does not fail again.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return status


def _main(argv: Sequence[str] | None) -> int:
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
