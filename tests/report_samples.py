"""Hand-built run reports and comparisons for the HTML report tests.

Richer than what the example suite produces: several categories, a seesaw (one
category up, one down), paraphrase groups, ``llm_repeat`` results, a served-model
change, refusals, a reply longer than the page shows, a reply holding markup, and
two models in one run. The metrics and the comparison come from the real
``summarize`` and ``compare``, so the shapes match what the plugin writes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pytest_llmdrift.report.compare import compare
from pytest_llmdrift.report.document import SCHEMA, summarize
from pytest_llmdrift.report.statistics import wilson_interval

OLD = "acme-chat-2023-03"
NEW = "acme-chat-2023-06"
CUTOFF = "2023-09-01"
SCRIPT_REPLY = '<script>alert("owned")</script> Sure: 2 + 2 = 4 & <b>bold</b>'
REFUSAL = "I'm sorry, but I can't help with that."
LONG_REPLY = "All work and no play makes a dull model. " * 125  # 5,125 characters
CODE_BASELINE = (
    "def fizzbuzz(n):\n    for i in range(1, n + 1):\n        if i % 15 == 0:\n"
    "            print('FizzBuzz')\n        elif i % 3 == 0:\n            print('Fizz')\n"
    "        else:\n            print(i)\n# The loop prints every number up to n."
)
CODE_CURRENT = (
    "def fizzbuzz(n):\n    for i in range(1, n + 1):\n        if i % 15 == 0:\n"
    "            print('FizzBuzz')\n        elif i % 5 == 0:\n            print('Buzz')\n"
    "        else:\n            print(i)\n# The loop writes each value up to n."
)

JSON = dict[str, Any]


def reply(
    text: str,
    model: str,
    *,
    prompt: str = "a question",
    served: str | None = None,
    fingerprint: str = "fp_a",
    cached: bool = False,
) -> JSON:
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:16]
    return {
        "text": text,
        "requested_model": model,
        "provider": "openai",
        "fingerprint": fingerprint,
        "usage": {"input_tokens": 20, "output_tokens": max(1, len(text) // 4)},
        "latency_s": 0.2,
        "cached": cached,
        "sample": 0,
        "served_model": served or model,
        "prompt": prompt,
        "params": {"temperature": 0},
        "request_hash": f"sha256:{digest}",
    }


def comparison(
    baseline_text: str,
    current_text: str,
    *,
    baseline_model: str,
    current_model: str,
    score: float,
    threshold: float = 0.8,
    scorer: str = "similar(min=0.8)",
    served_changed: bool = False,
    current_served: str | None = None,
) -> JSON:
    return {
        "snapshot": "__snapshots__/x.llmdrift",
        "scorer": scorer,
        "score": score,
        "threshold": threshold,
        "passed": score >= threshold,
        "detail": f"token_sort similarity {score:.2f}",
        "drifted": score < threshold,
        "baseline_model": baseline_model,
        "baseline_served_model": baseline_model,
        "baseline_fingerprint": "fp_a",
        "baseline_text": baseline_text,
        "baseline_scorer": scorer,
        "current_model": current_model,
        "current_text": current_text,
        "current_served_model": current_served or current_model,
        "current_fingerprint": "fp_b" if served_changed else "fp_a",
        "served_changed": served_changed,
        "updated": False,
    }


def item(
    test: str,
    model: str,
    outcome: str = "passed",
    *,
    text: str | None = "ok",
    prompt: str | None = None,
    category: str | None = None,
    difficulty: str | None = None,
    created: str | None = None,
    comparisons: list[JSON] | None = None,
    paraphrase: JSON | None = None,
    repeat: JSON | None = None,
    message: str | None = None,
    served: str | None = None,
) -> JSON:
    file, _, name = test.partition("::")
    base, bracket, params = name.partition("[")
    nodeid = f"{file}::{base}[{params[:-1]}-{model}]" if bracket else f"{file}::{name}[{model}]"
    replies = [] if text is None else [reply(text, model, prompt=prompt or test, served=served)]
    if outcome != "passed" and message is None:
        message = f"AssertionError: {test} failed on {model}\nassert 'no' == 'yes'"
    return {
        "nodeid": nodeid,
        "test": test,
        "model": model,
        "outcome": outcome,
        "duration": 0.01,
        "category": category,
        "difficulty": difficulty,
        "created": created,
        "text": text,
        "served_model": (served or model) if text is not None else None,
        "fingerprint": "fp_a" if text is not None else None,
        "replies": replies,
        "comparisons": comparisons or [],
        "paraphrase": paraphrase,
        "repeat": repeat,
        "message": message,
    }


def repeat(passes: int, runs: int, n: int = 10, min_pass_rate: float = 0.8) -> JSON:
    low, high = wilson_interval(passes, runs)
    required = 8 if n == 10 else n
    return {
        "n": n,
        "min_pass_rate": min_pass_rate,
        "required_passes": required,
        "runs": runs,
        "passes": passes,
        "pass_rate": passes / runs,
        "confidence": 0.95,
        "ci_low": low,
        "ci_high": high,
        "stopped_early": runs < n,
        "passed": passes >= required,
        "failures": [],
    }


def document(items: list[JSON], *, models: list[str], cutoff: str | None = None) -> JSON:
    """A run report around ``items``, with call counts made up to match them."""
    by_model: JSON = {}
    for it in items:
        for r in it["replies"]:
            m = by_model.setdefault(
                f"openai:{it['model']}",
                {
                    "live": 0,
                    "cached": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cached_input_tokens": 0,
                    "cached_output_tokens": 0,
                    "errors": 0,
                    "replay_misses": 0,
                    "served": {},
                    "fingerprints": {},
                },
            )
            m["live"] += 1
            m["input_tokens"] += r["usage"]["input_tokens"]
            m["output_tokens"] += r["usage"]["output_tokens"]
            m["served"][r["served_model"]] = m["served"].get(r["served_model"], 0) + 1
            m["fingerprints"][r["fingerprint"]] = m["fingerprints"].get(r["fingerprint"], 0) + 1
    live = sum(m["live"] for m in by_model.values())
    settings = {
        "models": models,
        "cache_mode": "use",
        "scorer": "similar(min=0.8)",
        "judge": None,
        "cutoff": cutoff,
    }
    return {
        "schema": SCHEMA,
        "plugin_version": "0.1.0",
        "created": "2024-05-04T09:30:00+00:00",
        "exit_status": 1 if any(i["outcome"] in ("failed", "error") for i in items) else 0,
        "models": models,
        "settings": settings,
        "calls": {
            "live": live,
            "cached": 3,
            "errors": 0,
            "replay_misses": 0,
            "budget_refusals": 0,
            "by_model": by_model,
        },
        "tokens": {
            "input": sum(m["input_tokens"] for m in by_model.values()),
            "output": sum(m["output_tokens"] for m in by_model.values()),
            "cached_input": 60,
            "cached_output": 12,
        },
        "served_changes": [],
        "notices": [],
        "items": sorted(items, key=lambda i: str(i["nodeid"])),
        "metrics": summarize(items, cutoff=cutoff),
    }


# -- one run on two models -----------------------------------------------------------
def run_items(model: str) -> list[JSON]:
    new = model == NEW
    items: list[JSON] = []
    levels = ["easy", "medium", "hard", "hard"]
    dates = ["2023-01-10", "2023-05-02", "2023-10-20", "2023-12-01"]
    for n in range(4):
        failing = new and n >= 2  # the new model misses the hard, recent ones
        items.append(
            item(
                f"test_math.py::test_is_prime[{n}]",
                model,
                "failed" if failing else "passed",
                text="[No]" if failing else "[Yes]",
                category="math",
                difficulty=levels[n],
                created=dates[n],
            )
        )
    items.append(
        item(
            "test_safety.py::test_declines_weapons",
            model,
            "failed" if new else "passed",
            text="Here is how you would do it: first ..." if new else REFUSAL,
            category="safety",
            comparisons=[
                comparison(
                    REFUSAL,
                    "Here is how you would do it: first ..." if new else REFUSAL,
                    baseline_model=OLD,
                    current_model=model,
                    score=0.0 if new else 1.0,
                    threshold=1.0,
                    scorer="refusal()",
                )
            ],
        )
    )
    items.append(
        item(
            "test_safety.py::test_markup_is_text",
            model,
            "failed" if new else "passed",
            text=SCRIPT_REPLY if new else "Sure: 2 + 2 = 4",
            category="safety",
            comparisons=[
                comparison(
                    "Sure: 2 + 2 = 4",
                    SCRIPT_REPLY if new else "Sure: 2 + 2 = 4",
                    baseline_model=OLD,
                    current_model=model,
                    score=0.41 if new else 1.0,
                )
            ],
            message=f"DriftError: the reply drifted: {SCRIPT_REPLY}" if new else None,
        )
    )
    items.append(
        item(
            "test_code.py::test_fizzbuzz",
            model,
            "failed" if new else "passed",
            text=CODE_CURRENT if new else CODE_BASELINE,
            category="code",
            served=f"{NEW}-b" if new else None,
            comparisons=[
                comparison(
                    CODE_BASELINE,
                    CODE_CURRENT if new else CODE_BASELINE,
                    baseline_model=OLD,
                    current_model=model,
                    score=0.62 if new else 1.0,
                    served_changed=new,
                    current_served=f"{NEW}-b" if new else None,
                )
            ],
        )
    )
    items.append(
        item(
            "test_code.py::test_long_essay",
            model,
            "failed" if new else "passed",
            text=LONG_REPLY + "THE-END" if new else "A short essay.",
            category="code",
            comparisons=[
                comparison(
                    "A short essay.",
                    LONG_REPLY + "THE-END" if new else "A short essay.",
                    baseline_model=OLD,
                    current_model=model,
                    score=0.05 if new else 1.0,
                )
            ],
        )
    )
    for variant in range(4):
        failing = new and variant == 2
        items.append(
            item(
                f"test_para.py::test_capital[p{variant}]",
                model,
                "failed" if failing else "passed",
                text="Lyon" if failing else "Paris",
                prompt=f"capital of France, variant {variant}",
                category="paraphrase",
                paraphrase={"test": "test_capital", "group": "capital", "variant": variant},
            )
        )
    items.append(
        item(
            "test_repeat.py::test_sampled",
            model,
            "failed" if new else "passed",
            category="math",
            repeat=repeat(7, 10) if new else repeat(8, 8),
        )
    )
    items.append(item("test_misc.py::test_skipped", model, "skipped", text=None))
    return items


def run_doc() -> JSON:
    """One run that pinned the old and the new model."""
    doc = document(run_items(OLD) + run_items(NEW), models=[OLD, NEW], cutoff=CUTOFF)
    doc["served_changes"] = [f"{NEW}: now served as {NEW}-b (fingerprint fp_b; was fp_a)"]
    doc["notices"] = [f"{OLD} is deprecated: the provider retires it on 2024-06-13"]
    return doc


def empty_doc() -> JSON:
    return document([], models=[])


# -- two runs, compared --------------------------------------------------------------
def side_items(model: str) -> list[JSON]:
    """Math regresses and code improves (a seesaw); safety starts answering."""
    new = model == NEW
    items: list[JSON] = []
    for n in range(8):
        ok = not (new and n < 6)
        items.append(
            item(
                f"test_math.py::test_sum[{n}]",
                model,
                "passed" if ok else "failed",
                text=f"The sum is {n * 2}." if ok else f"The total is {n * 2 + 1}, I think.",
                category="math",
            )
        )
    for n in range(8):
        ok = new or n >= 6
        items.append(
            item(
                f"test_code.py::test_write[{n}]",
                model,
                "passed" if ok else "failed",
                text="def f():\n    return 1" if ok else "def f():\n    return None",
                category="code",
            )
        )
    items.append(
        item(
            "test_safety.py::test_declines",
            model,
            "failed" if new else "passed",
            text=SCRIPT_REPLY if new else REFUSAL,
            category="safety",
            served=f"{NEW}-b" if new else None,
            comparisons=[
                comparison(
                    REFUSAL,
                    SCRIPT_REPLY if new else REFUSAL,
                    baseline_model=OLD,
                    current_model=model,
                    score=0.0 if new else 1.0,
                    threshold=1.0,
                    scorer="refusal()",
                    served_changed=new,
                    current_served=f"{NEW}-b" if new else None,
                )
            ],
        )
    )
    items.append(item("test_misc.py::test_flaky", model, "skipped" if new else "passed"))
    if new:
        items.append(item("test_new.py::test_added", model))
    else:
        items.append(item("test_old.py::test_removed", model))
    return items


def compare_docs() -> tuple[JSON, JSON]:
    return (
        document(side_items(OLD), models=[OLD]),
        document(side_items(NEW), models=[NEW]),
    )


def compare_result(*, forced: bool = False) -> JSON:
    base, current = compare_docs()
    if forced:  # one test asked a different question in the current run
        changed = next(i for i in current["items"] if i["test"] == "test_math.py::test_sum[7]")
        changed["replies"] = [reply("The sum is 14.", NEW, prompt="What is 7 + 7? Be brief.")]
    return compare(
        base, current, base_source="base.json", current_source="current.json", force=forced
    )
