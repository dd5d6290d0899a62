"""The ``llmdrift`` command.

    llmdrift cache stats   [--cache-dir DIR]
    llmdrift cache clear   [--cache-dir DIR]
    llmdrift cache export  [--cache-dir DIR] -o FILE
    llmdrift cache import  [--cache-dir DIR] FILE

Exit status: 0 on success, 1 when the command could not do its work (the message
says why), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmdrift", description="pytest-llmdrift companion command"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _cache_parser(sub)
    return parser


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
    if args.command == "cache":
        return _run_cache(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse requires a command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
