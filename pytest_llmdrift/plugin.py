"""pytest glue, and only that: options, hooks, fixtures and the terminal summary.

Registered through the ``pytest11`` entry point as ``llmdrift``
(disable with ``-p no:llmdrift``). Vendor SDKs, diskcache and hypothesis are not
imported here: they load when a test first needs them.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_llmdrift.budget import CallBudget
from pytest_llmdrift.client import ACTIVE_ENGINE, LLM, Engine
from pytest_llmdrift.config import (
    OPTIONS,
    OptionSpec,
    Settings,
    SettingsError,
    describe_models,
    resolve_settings,
)
from pytest_llmdrift.errors import BudgetExceeded, ProviderError, ReplayMiss
from pytest_llmdrift.markers import MARKERS, RepeatSpec, llm_metadata, run_repeated
from pytest_llmdrift.models import (
    BUILTIN_PROVIDERS,
    ModelSpec,
    infer_builtin_provider,
    parse_model_spec,
    unpinned_nodeid,
)
from pytest_llmdrift.providers import (
    Provider,
    ProviderOptions,
    builtin_provider,
    entry_point_names,
    entry_point_provider,
    redact,
)
from pytest_llmdrift.reply import ChatRequest, Reply, env_secrets
from pytest_llmdrift.report.record import (
    MESSAGE_LIMIT,
    REPORT_ATTRIBUTE,
    RunRecord,
    served_identity,
)
from pytest_llmdrift.stats import RunStats
from pytest_llmdrift.textsafe import printable

if TYPE_CHECKING:
    from pytest_llmdrift.scorers import Scorer  # noqa: F401 - in a StashKey[...] string
    from pytest_llmdrift.snapshot import Comparison, LLMSnapshot

ENGINE_KEY = pytest.StashKey[Engine]()
RECORD_KEY = pytest.StashKey[RunRecord]()
REPLIES_KEY = pytest.StashKey[list[Reply]]()
LLM_KEY = pytest.StashKey[LLM]()
REPEAT_KEY = pytest.StashKey[dict[str, Any]]()
REPEAT_SPEC_KEY = pytest.StashKey[RepeatSpec]()
META_KEY = pytest.StashKey[dict[str, Any]]()
REPORTS_KEY = pytest.StashKey[list["ReportWrite"]]()
COMPARISONS_KEY = pytest.StashKey[list["Comparison"]]()
DEFAULT_SCORER_KEY = pytest.StashKey["Scorer"]()
ENGINE_TOKEN_KEY = pytest.StashKey[contextvars.Token["Engine | None"]]()
UPDATE_ENV_KEY = pytest.StashKey["str | None"]()
PARAPHRASE_RUN_KEY = pytest.StashKey[Any]()  # a paraphrase.variants.RegenerationRun
SECRETS_KEY = pytest.StashKey[list[str]]()
PARAPHRASES_ENV = "LLMDRIFT_PARAPHRASES"  # = pytest_llmdrift.paraphrase.variants.UPDATE_ENV
WORKER_OUTPUT_KEY = "llmdrift"
WORKER_BUDGET_KEY = "llmdrift_budget"
NO_MODEL_MESSAGE = (
    "this test uses the llm fixture but no model is pinned: pass --llm-model=MODEL "
    "(e.g. --llm-model=demo-2023-03 for the offline demo model), set llm_model in the "
    "ini file, or export LLMDRIFT_MODEL"
)


# -- options ----------------------------------------------------------------------
def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        return parse(value)

    convert.__name__ = parse.__name__.replace("parse_", "")
    return convert


def _add_option(group: pytest.OptionGroup, parser: pytest.Parser, option: OptionSpec) -> None:
    if option.boolean:
        group.addoption(
            option.flag,
            action="store_true",
            dest=option.dest,
            default=None,
            help=option.help + f" [ini: {option.ini}]",
        )
        parser.addini(option.ini, option.help, type="bool")
        return
    if not option.ini_only:
        group.addoption(
            option.flag,
            action="append" if option.repeatable else "store",
            dest=option.dest,
            default=None,
            type=_argparse_type(option.parse),
            metavar=option.metavar,
            help=option.help + f" [ini: {option.ini}]",
        )
    ini_type: Literal["args", "string"] = "args" if option.repeatable else "string"
    parser.addini(option.ini, option.help, type=ini_type)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmdrift", "LLM drift testing (pytest-llmdrift)")
    for option in OPTIONS:
        _add_option(group, parser, option)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_llmdrift import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


# -- the plugin's own hook implementations (the built-in providers) --------------------
@pytest.hookimpl(trylast=True)
def pytest_llmdrift_provider_names() -> Sequence[str]:
    return [*BUILTIN_PROVIDERS, *entry_point_names()]


@pytest.hookimpl(trylast=True)
def pytest_llmdrift_make_provider(name: str, options: ProviderOptions) -> Provider | None:
    return builtin_provider(name, options) or entry_point_provider(name, options)


@pytest.hookimpl(trylast=True)
def pytest_llmdrift_infer_provider(model: str) -> str | None:
    return infer_builtin_provider(model)


# -- configure / unconfigure -------------------------------------------------------------
def _model_parser(config: pytest.Config) -> Callable[[str], ModelSpec]:
    """Model specs as this run reads them: with every plugin's providers."""
    known = [name for names in config.hook.pytest_llmdrift_provider_names() for name in names]

    def parse_model(text: str) -> ModelSpec:
        return parse_model_spec(
            text,
            infer=lambda name: config.hook.pytest_llmdrift_infer_provider(model=name),
            known_providers=known,
        )

    return parse_model


def _settings(config: pytest.Config, parse_model: Callable[[str], ModelSpec]) -> Settings:
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    try:
        return resolve_settings(
            flags={o.dest: config.getoption(o.dest) for o in OPTIONS if not o.ini_only},
            ini={o.ini: config.getini(o.ini) for o in OPTIONS},
            env=os.environ,
            invocation_dir=config.invocation_params.dir,
            ini_dir=ini_dir,
            rootdir=config.rootpath,
            parse_model=parse_model,
        )
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-llmdrift: {exc}") from None


def _provider_maker(config: pytest.Config, settings: Settings) -> Callable[[str], Provider]:
    def make(name: str) -> Provider:
        options = ProviderOptions(
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            base_url=settings.base_urls.get(name),
            env=dict(os.environ),
        )
        provider: Provider | None = config.hook.pytest_llmdrift_make_provider(
            name=name, options=options
        )
        if provider is None:
            raise pytest.UsageError(
                f"pytest-llmdrift: no plugin makes the provider {name!r}: its "
                "pytest_llmdrift_provider_names hook lists it, but no "
                "pytest_llmdrift_make_provider implementation returned one"
            )
        return provider

    return make


def _check_models(engine: Engine) -> None:
    """Every pinned model has a provider that accepts it, before any test runs.

    Making a provider is cheap (no SDK import, no connection); a provider may
    define ``validate_model(name)`` raising ValueError for names it cannot serve.
    """
    roles = [(spec, "model") for spec in engine.settings.models]
    if engine.settings.judge is not None:
        roles.append((engine.settings.judge, "judge model"))
    for spec, role in roles:
        provider = engine.provider(spec.provider)
        validate = getattr(provider, "validate_model", None)
        if validate is not None:
            try:
                validate(spec.name)
            except ValueError as exc:
                raise pytest.UsageError(f"pytest-llmdrift: {role} {spec.text}: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    parse_model = _model_parser(config)
    settings = _settings(config, parse_model)
    budget = CallBudget(settings.max_calls)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get(WORKER_BUDGET_KEY):
        budget = CallBudget(settings.max_calls, Path(workerinput[WORKER_BUDGET_KEY]))
    for flag, dest in (
        ("--snapshot-update", "update_snapshots"),
        ("--snapshot-update-new-only", "update_new_snapshots_only"),
    ):
        if config.getoption(dest, False) and len(settings.models) > 1:
            raise pytest.UsageError(
                f"pytest-llmdrift: {flag} records one model's replies as the baseline; "
                f"{len(settings.models)} models are pinned ({describe_models(settings.models)})."
                f" Pass a single --llm-model with {flag}."
            )
    if settings.cache_mode != "off" and settings.cache_dir.is_file():
        raise pytest.UsageError(
            f"pytest-llmdrift: the cache directory {settings.cache_dir} is a file; "
            "pass --llm-cache-dir=DIR with a directory (it is made if missing)"
        )
    engine = Engine(
        settings,
        _provider_maker(config, settings),
        budget=budget,
        stats=RunStats(),
        parse_model=parse_model,
        # xdist gives every worker of a run the same id; a plain run makes its own.
        run_id=(workerinput or {}).get("testrunuid"),
    )
    _check_models(engine)
    config.stash[ENGINE_KEY] = engine
    for marker_help in MARKERS.values():
        config.addinivalue_line("markers", marker_help)
    _check_report_paths(settings)
    # paraphrases() runs at import time, before any fixture: it reaches the run's
    # engine (for using=MODEL) and the update request through these two.
    config.stash[ENGINE_TOKEN_KEY] = ACTIVE_ENGINE.set(engine)
    if config.getoption("update_snapshots", False) or settings.paraphrases_update:
        config.stash[UPDATE_ENV_KEY] = os.environ.get(PARAPHRASES_ENV)
        os.environ[PARAPHRASES_ENV] = "update"
    if workerinput is None and os.environ.get(PARAPHRASES_ENV) == "update":
        # made before xdist starts its workers, which inherit its directory
        from pytest_llmdrift.paraphrase.variants import RegenerationRun

        config.stash[PARAPHRASE_RUN_KEY] = RegenerationRun()
    config.stash[RECORD_KEY] = RunRecord()
    if workerinput is None:
        config.pluginmanager.register(
            RecordCollector(config, config.stash[RECORD_KEY]), "llmdrift-record-collector"
        )
    if workerinput is None and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistController(engine), "llmdrift-xdist-controller")


def _check_report_paths(settings: Settings) -> None:
    """A report path that can never be written is a usage error now, not a lost
    report at the end of a long run."""
    for flag, path in (("--llm-report", settings.report_path), ("--llm-html", settings.html_path)):
        if path is None:
            continue
        if path.is_dir():
            raise pytest.UsageError(
                f"pytest-llmdrift: {flag}={path} is a directory; give a file path, "
                f"e.g. {flag}={path / ('llmdrift.html' if 'html' in flag else 'llmdrift.json')}"
            )
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise pytest.UsageError(
                f"pytest-llmdrift: {flag}={path}: {parent} is a file, not a directory"
            )
    if settings.report_path is not None and settings.report_path == settings.html_path:
        raise pytest.UsageError(
            "pytest-llmdrift: --llm-report and --llm-html name the same file; give each its own"
        )


class XdistController:
    """On the xdist controller: share the call budget with workers, merge their stats."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._budget_dir: str | None = None

    def _budget_path(self) -> str:
        if self._budget_dir is None:
            self._budget_dir = tempfile.mkdtemp(prefix="llmdrift-budget-")
            limit = self.engine.settings.max_calls or 0
            CallBudget.create_shared(limit, Path(self._budget_dir) / "budget.sqlite")
        return str(Path(self._budget_dir) / "budget.sqlite")

    def pytest_configure_node(self, node: Any) -> None:
        if self.engine.settings.max_calls is not None:
            node.workerinput[WORKER_BUDGET_KEY] = self._budget_path()

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if payload:
            self.engine.stats.merge_json(json.loads(payload))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._budget_dir is not None:
            shutil.rmtree(self._budget_dir, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    engine = session.config.stash.get(ENGINE_KEY, None)
    if engine is None:
        return
    engine.close()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_OUTPUT_KEY] = json.dumps(engine.stats.to_json())
        return
    settings = engine.settings
    if settings.report_path is None and settings.html_path is None:
        return
    if session.config.option.collectonly or exitstatus == pytest.ExitCode.USAGE_ERROR:
        return  # nothing ran: keep the last real report (IDEs collect all the time)
    written = _write_reports(engine, session.config.stash[RECORD_KEY], int(exitstatus))
    session.config.stash[REPORTS_KEY] = written
    if any(w.error for w in written) and exitstatus == pytest.ExitCode.OK:
        # A CI job must not pass without the report it asked for.
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def _write_reports(engine: Engine, record: RunRecord, exit_status: int) -> list[ReportWrite]:
    """Write --llm-report and --llm-html, each whole or not at all."""
    from pytest_llmdrift import __version__
    from pytest_llmdrift.cache import atomic_write_text
    from pytest_llmdrift.report.document import build_report, dumps

    settings = engine.settings
    doc = build_report(
        items=[item.to_json() for item in record.items.values()],
        stats=engine.stats,
        settings={
            "models": [spec.text for spec in settings.models],
            "cache_mode": settings.cache_mode,
            "scorer": settings.scorer,
            "judge": settings.judge.text if settings.judge else None,
            "cutoff": settings.cutoff.isoformat() if settings.cutoff else None,
        },
        exit_status=exit_status,
        plugin_version=__version__,
    )
    outputs: list[tuple[str, Path | None, Callable[[], str]]] = [
        ("--llm-report", settings.report_path, lambda: dumps(doc)),
        ("--llm-html", settings.html_path, lambda: _html(doc)),
    ]
    written = []
    for flag, path, render in outputs:
        if path is None:
            continue
        error = None
        try:
            atomic_write_text(path, render())
        except (OSError, ValueError, TypeError) as exc:
            error = f"{flag}={path}: {getattr(exc, 'strerror', None) or exc}"
        written.append(ReportWrite(path, error))
    return written


def _html(doc: dict[str, Any]) -> str:
    from pytest_llmdrift.report.html import render_run  # jinja2: only when asked for

    return render_run(doc)


@dataclass(frozen=True)
class ReportWrite:
    """One report the run was asked to write, and why it was not, if it was not."""

    path: Path
    error: str | None


def pytest_unconfigure(config: pytest.Config) -> None:
    engine = config.stash.get(ENGINE_KEY, None)
    if engine is not None:
        engine.close()
    token = config.stash.get(ENGINE_TOKEN_KEY, None)
    if token is not None:
        ACTIVE_ENGINE.reset(token)
        del config.stash[ENGINE_TOKEN_KEY]
    if UPDATE_ENV_KEY in config.stash:
        previous = config.stash[UPDATE_ENV_KEY]
        if previous is None:
            os.environ.pop(PARAPHRASES_ENV, None)
        else:
            os.environ[PARAPHRASES_ENV] = previous
        del config.stash[UPDATE_ENV_KEY]
    if PARAPHRASE_RUN_KEY in config.stash:
        config.stash[PARAPHRASE_RUN_KEY].close()  # its marks removed: nothing left behind
        del config.stash[PARAPHRASE_RUN_KEY]


# -- parametrisation and fixtures -------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # One parametrised fixture, not a chain: `llm` itself carries the model when the
    # test uses it (fixture setup is most of what a cached llm test costs). trylast:
    # the model's id comes last in the test id, where llm_snapshot drops it.
    names = metafunc.fixturenames
    target = "llm" if "llm" in names else "llm_model" if "llm_model" in names else None
    if target is None:
        return
    models = metafunc.config.stash[ENGINE_KEY].settings.models
    if models:
        metafunc.parametrize(target, list(models), ids=[m.text for m in models], indirect=True)


def pytest_report_collectionfinish(
    config: pytest.Config, items: Sequence[pytest.Item]
) -> str | None:
    """Say, before anything runs, how many items will ask a model (the cost)."""
    pinned = [item for item in items if _item_spec(item) is not None]
    if not pinned:
        return None
    models = {str(_item_spec(item)) for item in pinned}
    groups = {
        (getattr(item, "originalname", item.name), marker.kwargs.get("group"))
        for item in pinned
        if (marker := item.get_closest_marker("llm_paraphrase")) is not None
    }
    variants = sum(1 for item in pinned if item.get_closest_marker("llm_paraphrase"))
    line = f"llmdrift: {len(pinned)} item(s) on {len(models)} model(s)"
    if groups:
        line += f", {variants} of them in {len(groups)} paraphrase group(s)"
    return line


def _item_spec(item: pytest.Item) -> ModelSpec | None:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    spec = params.get("llm", params.get("llm_model"))
    return spec if isinstance(spec, ModelSpec) else None


def _pinned(request: pytest.FixtureRequest) -> ModelSpec:
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params if callspec is not None else {}
    spec: ModelSpec | None = params.get("llm", params.get("llm_model"))
    if spec is None:
        pytest.fail(NO_MODEL_MESSAGE, pytrace=False)
    return spec


@pytest.fixture
def llm_model(request: pytest.FixtureRequest) -> ModelSpec:
    """The model pinned for this test item (``--llm-model``); tests that use ``llm``
    run once per pinned model, the model's name in the test id."""
    return _pinned(request)


@pytest.fixture
def llm(request: pytest.FixtureRequest) -> LLM:
    """A client pinned to this item's model: ``llm(prompt) -> Reply``.

    ``llm(prompt_or_messages, *, system=None, temperature=None, max_tokens=None,
    seed=None, **params)``; ``llm.sample(prompt, n)``; ``llm.map(prompts)``;
    ``llm.model`` is the pinned name. Replies come from the response cache when
    they can (``--llm-cache``).
    """
    engine = request.config.stash[ENGINE_KEY]
    replies = request.node.stash.setdefault(REPLIES_KEY, [])
    client = LLM(engine, _pinned(request), on_reply=replies.append)
    request.node.stash[LLM_KEY] = client  # llm_repeat moves it from sample to sample
    return client


def _judge(engine: Engine) -> Callable[[str], str]:
    def ask(prompt: str) -> str:
        __tracebackhide__ = True
        from pytest_llmdrift.scorers import ScorerError

        spec = engine.settings.judge
        if spec is None:
            raise ScorerError(
                "the judge scorer needs a judge model: pass --llm-judge=MODEL "
                "(or set llm_judge in the ini file)"
            )
        from pytest_llmdrift.scorers import Judge

        request = ChatRequest.build(prompt, params={"temperature": 0})
        # An unreadable verdict is not cached: the next run asks the judge again.
        return engine.complete(spec, request, accept=Judge.parse_verdict).text

    return ask


@pytest.fixture
def llm_snapshot(snapshot: Any, request: pytest.FixtureRequest) -> LLMSnapshot:
    """A syrupy snapshot compared by a tolerance score: ``assert reply == llm_snapshot``
    (the ini ``llm_scorer``, default similar(min=0.8)) or
    ``assert reply == llm_snapshot(extract(r"\\[(Yes|No)\\]"))``.

    One baseline per test, shared by every pinned model; record it with
    ``pytest --snapshot-update --llm-model=MODEL``.
    """
    from pytest_llmdrift.scorers import ScoreContext, parse_scorer
    from pytest_llmdrift.snapshot import LLMDriftExtension, LLMSnapshot

    engine = request.config.stash[ENGINE_KEY]
    comparisons = request.node.stash.setdefault(COMPARISONS_KEY, [])
    default = request.config.stash.get(DEFAULT_SCORER_KEY, None)
    if default is None:  # parsed once per run, not per test
        default = request.config.stash[DEFAULT_SCORER_KEY] = parse_scorer(engine.settings.scorer)
    return LLMSnapshot(
        snapshot.use_extension(LLMDriftExtension),
        default_scorer=default,
        context=ScoreContext(judge=_judge(engine)),
        on_compare=comparisons.append,
    )


# -- markers: llm metadata and llm_repeat ------------------------------------------------
def _read_markers(item: pytest.Item) -> str | None:
    """Check the item's llm / llm_repeat markers once, at setup, and keep what they
    say in its stash (the report and the repeat runner read it there). Returns what
    is wrong with them, or None."""
    try:
        item.stash[META_KEY] = _metadata(item)
        repeat = item.get_closest_marker("llm_repeat")
        if repeat is not None:
            item.stash[REPEAT_SPEC_KEY] = RepeatSpec.from_marker(repeat.args, repeat.kwargs)
            if "llm_snapshot" in getattr(item, "fixturenames", ()):
                return (
                    "@pytest.mark.llm_repeat runs the body on n samples, but llm_snapshot "
                    "keeps one baseline per test: check each sample with a plain assert or "
                    "a scorer (scorer.score(baseline=EXPECTED, current=reply.text).passed), "
                    "or drop llm_repeat from this test"
                )
            if not isinstance(item, pytest.Function):
                return "@pytest.mark.llm_repeat applies to test functions only"
            if inspect.iscoroutinefunction(item.obj):
                return (
                    "@pytest.mark.llm_repeat does not support async tests: make the test "
                    "a plain function (the llm fixture is synchronous)"
                )
    except ValueError as exc:
        return str(exc)
    return None


def _metadata(item: pytest.Item) -> dict[str, Any]:
    """The item's @pytest.mark.llm metadata: markers on the function, class and
    module combine, the closest one winning for each key."""
    meta: dict[str, Any] = {}
    for marker in item.iter_markers("llm"):  # closest first
        for key, value in llm_metadata(marker.args, marker.kwargs).items():
            meta.setdefault(key, value)
    return meta


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    error = _read_markers(item)
    if error is not None:
        pytest.fail(f"{item.nodeid}: {error}", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """``@pytest.mark.llm_repeat``: the body runs on samples 0, 1, ... with the same
    fixtures; each sample's llm calls ask for (and cache) their own sample index."""
    spec = pyfuncitem.stash.get(REPEAT_SPEC_KEY, None)  # read at setup
    if spec is None:
        return None
    __tracebackhide__ = True
    function = pyfuncitem.obj  # not async: refused at setup
    names = inspect.signature(function).parameters
    arguments = {name: pyfuncitem.funcargs[name] for name in names if name in pyfuncitem.funcargs}

    def body(sample: int) -> None:
        client = pyfuncitem.stash.get(LLM_KEY, None)
        if client is not None:
            client.repetition = sample
        before = len(pyfuncitem.stash.get(REPLIES_KEY, []))
        function(**arguments)
        if len(pyfuncitem.stash.get(REPLIES_KEY, [])) == before:
            raise RepeatMisuse(
                f"@pytest.mark.llm_repeat: sample {sample} made no llm() call in the test "
                "body, so the samples would all judge the same reply. Calls made in a "
                "fixture are shared by every sample: call llm() in the test itself."
            )

    result, first_failure = run_repeated(
        body,
        spec,
        failure_types=(Exception, pytest.fail.Exception),
        passthrough=(
            *_NOT_A_VERDICT,
            RepeatMisuse,
            pytest.skip.Exception,
            pytest.xfail.Exception,
            pytest.exit.Exception,
        ),
    )
    pyfuncitem.stash[REPEAT_KEY] = result.to_json()
    if not result.passed:
        raise RepeatFailed(f"llm_repeat: {result.summary()}") from first_failure
    return True


class RepeatFailed(AssertionError):
    """An ``llm_repeat`` test whose pass rate did not clear its bar."""


class RepeatMisuse(Exception):
    """An ``llm_repeat`` test whose samples cannot differ."""


# -- the run record ------------------------------------------------------------------------
def _reply_json(reply: Reply) -> dict[str, Any]:
    data = reply.to_json()
    data["served_model"] = data.pop("model")
    if reply.request is not None:
        data["prompt"] = reply.request.prompt
        data["params"] = reply.request.to_json()["params"]  # credentials hashed
        data["request_hash"] = reply.request.content_hash()  # compare checks it
    return data


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when != "call" and report.passed:
        return report  # the call phase carries the item's data (setup/teardown only on error)
    spec = _item_spec(item)
    replies = item.stash.get(REPLIES_KEY, [])
    comparisons = item.stash.get(COMPARISONS_KEY, [])
    fixtures = getattr(item, "fixturenames", ())
    uses_snapshot = "llm_snapshot" in fixtures
    uses_llm = uses_snapshot or "llm" in fixtures or "llm_model" in fixtures
    if spec is None and not replies and not comparisons and not uses_llm:
        return report
    data: dict[str, Any] = {
        "model": spec.text if spec is not None else None,
        "test": unpinned_nodeid(item),
        "uses_snapshot": uses_snapshot,
    }
    if META_KEY in item.stash:  # absent when a bad marker errored the test
        data["meta"] = item.stash[META_KEY]
    if report.failed:
        data["message"] = _failure_message(report, _run_secrets(item.config))
        if call.excinfo is not None and isinstance(call.excinfo.value, _NOT_A_VERDICT):
            data["no_verdict"] = type(call.excinfo.value).__name__
    marker = item.get_closest_marker("llm_paraphrase")
    if marker is not None:
        data["paraphrase"] = {
            "test": getattr(item, "originalname", item.name),
            "group": marker.kwargs.get("group"),
            "variant": marker.kwargs.get("variant"),
        }
    if call.when == "call":
        data["replies"] = [_reply_json(r) for r in replies]
        data["comparisons"] = [c.to_json() for c in comparisons]
        if REPEAT_KEY in item.stash:
            data["repeat"] = item.stash[REPEAT_KEY]
    setattr(report, REPORT_ATTRIBUTE, data)  # JSON-able: travels from xdist workers
    return report


_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


def _failure_message(report: pytest.TestReport, secrets: Sequence[str] = ()) -> str:
    """The failure's one-paragraph message (pytest's "crash" line), for the report,
    with any ``user:password@`` in a URL taken out and the run's credentials
    (``secrets``) redacted: a second guard, provider errors already redact them."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    text = str(message if message else report.longreprtext)[:MESSAGE_LIMIT]
    return redact(_USERINFO.sub(r"\1", text), secrets)


def _run_secrets(config: pytest.Config) -> list[str]:
    """The credentials this run was given through the environment (API keys,
    tokens, base URLs' user:password@ and query values), read once."""
    found = config.stash.get(SECRETS_KEY, None)
    if found is None:
        engine = config.stash.get(ENGINE_KEY, None)
        urls = list(engine.settings.base_urls.values()) if engine is not None else []
        found = config.stash[SECRETS_KEY] = env_secrets(os.environ, urls)
    return found


# Failures of the plumbing, not verdicts on the model: the model was never asked, or
# did not answer. The report marks them so pass rates and compare leave them out.
_NOT_A_VERDICT = (ProviderError, ReplayMiss, BudgetExceeded)


class RecordCollector:
    """Builds the run record where the reports end up: in-process, or on the xdist
    controller (workers' reports carry their data with them)."""

    def __init__(self, config: pytest.Config, record: RunRecord) -> None:
        self.config = config
        self.record = record

    @pytest.hookimpl(trylast=True)  # after syrupy has noted the item's outcome
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTRIBUTE, None)
        outcome: str = report.outcome
        if hasattr(report, "wasxfail"):  # xfail: an expected failure, or an xpass
            outcome = {"skipped": "xfailed", "passed": "xpassed"}.get(outcome, outcome)
        elif report.failed and str(report.longrepr).startswith("[XPASS(strict)]"):
            outcome = "xpassed"  # pytest fails the run; the model passed the check
        self.record.add(
            nodeid=report.nodeid,
            when=report.when,
            outcome=outcome,
            duration=report.duration,
            data=data,
        )
        if data and data.get("uses_snapshot") and report.failed and report.when != "teardown":
            self._keep_baselines(report, data)

    def _keep_baselines(self, report: pytest.TestReport, data: dict[str, Any]) -> None:
        """An llm_snapshot test that failed before comparing (a provider error, a
        replay miss, no model pinned) never touched its baseline; on
        --snapshot-update syrupy would take the baseline for unused and delete it.
        Telling syrupy the item was skipped keeps it (and keeps it from counting as
        unused in a normal run)."""
        if data.get("comparisons"):
            return
        from pytest_llmdrift.syrupy_compat import mark_item_skipped

        mark_item_skipped(self.config, report.nodeid)


# -- terminal summary ---------------------------------------------------------------------
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None:
        return
    engine = config.stash.get(ENGINE_KEY, None)
    record = config.stash.get(RECORD_KEY, RunRecord())
    if engine is None:
        return
    reports = config.stash.get(REPORTS_KEY, [])
    if not (engine.stats.used or record.items or reports):
        return
    lines = summary_lines(engine.settings, engine.stats, record)
    for line, markup in [*lines, *_report_lines(reports)]:
        if line is None:
            terminalreporter.write_sep("=", "llmdrift", **markup)
        else:  # served-model names, details, notices come from outside: no escapes
            terminalreporter.write_line(printable(line, newlines=False), **markup)


def _report_lines(reports: list[ReportWrite]) -> Iterator[tuple[str | None, dict[str, bool]]]:
    for report in reports:
        if report.error is None:
            yield f"report: {report.path}", {}
        else:
            yield f"report NOT written: {report.error}", {"red": True, "bold": True}


def summary_lines(
    settings: Settings, stats: RunStats, record: RunRecord | None = None
) -> Iterator[tuple[str | None, dict[str, bool]]]:
    plain: dict[str, bool] = {}
    warn = {"yellow": True, "bold": True}
    yield None, plain
    for alarm in stats.alarms:
        yield f"ALARM {alarm}", {"red": True, "bold": True}
    yield f"models pinned: {describe_models(settings.models)}", plain
    cache = (
        "off" if settings.cache_mode == "off" else f"{settings.cache_mode}, {settings.cache_dir}"
    )
    yield f"calls: {stats.live} live, {stats.cached} cached (cache: {cache})", plain
    for name, model in sorted(stats.models.items()):
        parts = [f"{model.live} live", f"{model.cached} cached"]
        if model.live:
            parts.append(f"{model.input_tokens} in / {model.output_tokens} out tokens live")
        if model.cached:
            parts.append(
                f"{model.cached_input_tokens} in / {model.cached_output_tokens} out "
                "tokens from the cache"
            )
        if model.errors:
            parts.append(f"{model.errors} provider error(s)")
        if model.replay_misses:
            parts.append(f"{model.replay_misses} replay miss(es)")
        yield f"  {name}: " + ", ".join(parts), plain
        for line in stats.served_summary(name):
            yield "    " + line.split(": ", 1)[1], (warn if "WARNING" in line else plain)
    for change in stats.changes:
        yield f"served-model change: {change}", warn
    if stats.budget_refusals:
        yield (
            (
                f"--llm-max-calls={settings.max_calls} was reached: "
                f"{stats.budget_refusals} call(s) were refused"
            ),
            warn,
        )
    for notice in stats.notices:
        if notice not in stats.alarms:
            yield notice, warn
    if record is not None:
        yield from _drift_lines(record)
        yield from _sensitivity_lines(record)
        yield from _repeat_lines(record)


def _repeat_lines(record: RunRecord) -> Iterator[tuple[str | None, dict[str, bool]]]:
    repeated = [item for item in record.items.values() if item.repeat]
    if not repeated:
        return
    failed = [item for item in repeated if not item.repeat or not item.repeat.get("passed")]
    yield (
        (
            f"llm_repeat: {len(repeated) - len(failed)} of {len(repeated)} repeated test(s) "
            "cleared their pass-rate bar"
        ),
        ({"red": True} if failed else {}),
    )
    for item in failed[:DRIFT_LINES_SHOWN]:
        info = item.repeat or {}
        yield (
            (
                f"  {item.nodeid}: {info['passes']} of {info['runs']} passed, needs "
                f"{info['required_passes']} of {info['n']} ({info['confidence']:.0%} interval "
                f"{info['ci_low']:.2f}-{info['ci_high']:.2f})"
            ),
            {"red": True},
        )


def _sensitivity_lines(record: RunRecord) -> Iterator[tuple[str | None, dict[str, bool]]]:
    groups = record.sensitivity()
    if not groups:
        return
    yield "prompt sensitivity (variants whose outcome differs from p0's):", {}
    for group in groups[:DRIFT_LINES_SHOWN]:
        disagreeing = group.disagreeing
        names = f" ({', '.join(f'p{v}' for v in disagreeing)})" if disagreeing else ""
        rates = group.pass_rates.values()
        yield (
            (
                f"  {group.test} [{group.model or '-'}]: {len(disagreeing)} of "
                f"{len(group.pass_rates) - 1} variants disagree{names}; pass rate "
                f"{min(rates):.2f}-{max(rates):.2f}"
            ),
            ({"yellow": True} if disagreeing else {}),
        )
    if len(groups) > DRIFT_LINES_SHOWN:
        yield f"  ... and {len(groups) - DRIFT_LINES_SHOWN} more groups", {}


DRIFT_LINES_SHOWN = 10


def _drift_lines(record: RunRecord) -> Iterator[tuple[str | None, dict[str, bool]]]:
    comparisons = list(record.comparisons())
    if not comparisons:
        return
    red = {"red": True, "bold": True}
    plain: dict[str, bool] = {}
    recorded = [c for _i, c in comparisons if c.get("updated")]
    if recorded:
        yield f"snapshots: {len(recorded)} baseline(s) checked or recorded (update run)", plain
        return
    drifted = record.drifted()
    unscored = [c for _i, c in comparisons if c.get("score") is None]
    line = f"snapshots: {len(drifted)} of {len(comparisons)} comparison(s) drifted"
    if unscored:
        line += f", {len(unscored)} not scored (no baseline, or an error)"
    yield line, red if drifted or unscored else {"green": True}
    if drifted:  # drift is not regression: say which changed answers are now right
        from pytest_llmdrift.report.document import correctness_split

        split = correctness_split([i.to_json() for i in record.items.values()])
        yield (
            (
                f"  changed answers: {split['changed_answers']} test(s), of which "
                f"{split['changed_now_right']} now right, {split['changed_now_wrong']} now "
                f"wrong and {split['changed_unchecked']} without a correctness test on the "
                f"same question; correctness tests: {split['correctness_passed']} of "
                f"{split['correctness_tests']} passed"
            ),
            plain,
        )
    for item, comparison in drifted[:DRIFT_LINES_SHOWN]:
        yield (
            (
                f"  DRIFT {item.nodeid}: {comparison['scorer']} {comparison['score']:.2f} < "
                f"{comparison['threshold']:.2f}: {comparison['detail']} "
                f"(baseline {comparison['baseline_model']})"
            ),
            red,
        )
    if len(drifted) > DRIFT_LINES_SHOWN:
        yield f"  ... and {len(drifted) - DRIFT_LINES_SHOWN} more", red
    # Which baselines each model was compared with, and served-model changes (the
    # same pinned model served under another name or fingerprint), counted.
    pairs: dict[tuple[str, str, bool], int] = {}
    for _item, comparison in comparisons:
        if comparison.get("baseline_model") is None:
            continue
        key = (
            served_identity(comparison, "baseline"),
            served_identity(comparison, "current"),
            bool(comparison.get("served_changed")),
        )
        pairs[key] = pairs.get(key, 0) + 1
    for (before, now, changed), count in sorted(pairs.items()):
        if changed:
            yield (
                (
                    f"  served-model change against the baseline: {before} -> {now} "
                    f"in {count} comparison(s)"
                ),
                {"yellow": True, "bold": True},
            )
        elif before != now:
            yield f"  compared {now} with baselines from {before}: {count} comparison(s)", plain


__all__ = ["ENGINE_KEY", "RECORD_KEY", "REPLIES_KEY", "llm", "llm_model", "llm_snapshot"]
