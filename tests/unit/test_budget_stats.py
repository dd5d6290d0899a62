import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytest_llmdrift.budget import CallBudget
from pytest_llmdrift.reply import Reply, Usage
from pytest_llmdrift.stats import RunStats


def test_unlimited_budget() -> None:
    budget = CallBudget(None)
    assert all(budget.take() for _ in range(100))


def test_in_process_budget_is_exact_under_threads() -> None:
    budget = CallBudget(10)
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda _: budget.take(), range(50)))
    assert taken.count(True) == 10


def test_shared_budget_counts_across_handles(tmp_path: Path) -> None:
    path = tmp_path / "budget.sqlite"
    CallBudget.create_shared(3, path)
    workers = [CallBudget(3, path), CallBudget(3, path)]
    taken = [workers[i % 2].take() for i in range(6)]
    assert taken.count(True) == 3


def reply(
    model: str = "gpt-4o-2024-08-06", fingerprint: str | None = "fp_1", cached: bool = False
) -> Reply:
    return Reply(
        text="x",
        model=model,
        requested_model="gpt-4o",
        fingerprint=fingerprint,
        usage=Usage(3, 4),
        cached=cached,
    )


def test_stats_merge_like_xdist() -> None:
    worker_a, worker_b, controller = RunStats(), RunStats(), RunStats()
    worker_a.record_reply("openai:gpt-4o", reply())
    worker_a.record_reply("openai:gpt-4o", reply(cached=True))
    worker_b.record_reply("openai:gpt-4o", reply(fingerprint="fp_2"))
    worker_b.record_error("openai:gpt-4o")
    worker_b.add_notices(["cache moved"])
    for worker in (worker_a, worker_b):
        controller.merge_json(json.loads(json.dumps(worker.to_json())))
    model = controller.models["openai:gpt-4o"]
    assert (model.live, model.cached, model.errors) == (2, 1, 1)
    assert (model.input_tokens, model.output_tokens) == (6, 8)
    assert model.fingerprints == {"fp_1": 2, "fp_2": 1}
    assert controller.notices == ["cache moved"]
    lines = controller.served_summary("openai:gpt-4o")
    assert "served as gpt-4o-2024-08-06" in lines[0]
    assert "alias" in lines[0]
    assert any("came with different fingerprints: fp_1, fp_2" in line for line in lines)


def test_served_model_change_within_run() -> None:
    stats = RunStats()
    stats.record_reply("openai:gpt-4o", reply("gpt-4o-2024-05-13"))
    stats.record_reply("openai:gpt-4o", reply("gpt-4o-2024-08-06"))
    lines = stats.served_summary("openai:gpt-4o")
    assert any("came from different served models" in line for line in lines)


def test_run_record_prompt_sensitivity() -> None:
    from pytest_llmdrift.report.record import RunRecord

    record = RunRecord()
    outcomes = {0: "passed", 1: "passed", 2: "failed", 3: "passed"}
    for model in ("m1", "m2"):
        for variant, outcome in outcomes.items():
            if model == "m2":
                outcome = "passed"
            nodeid = f"t.py::test_w[p{variant}-{model}]"
            data = {
                "model": model,
                "paraphrase": {"test": "test_w", "group": "g1", "variant": variant},
            }
            record.add(nodeid=nodeid, when="setup", outcome="passed", duration=0.0, data=data)
            record.add(nodeid=nodeid, when="call", outcome=outcome, duration=0.1, data=data)
    first, second = record.sensitivity()
    assert (first.model, first.disagreeing, first.spread) == ("m1", [2], 1.0)
    assert (second.model, second.disagreeing, second.spread) == ("m2", [], 0.0)
    assert first.to_json()["disagreeing"] == ["p2"]


def test_sensitivity_needs_p0() -> None:
    from pytest_llmdrift.report.record import RunRecord

    record = RunRecord()
    for variant in (1, 2):
        data = {"model": "m", "paraphrase": {"test": "t", "group": "g", "variant": variant}}
        record.add(nodeid=f"t[p{variant}]", when="call", outcome="passed", duration=0, data=data)
    assert record.sensitivity() == []
