"""The paraphrase core: protected spans, transforms, the Hypothesis strategies, the
stable variant list, the committed file, the model paraphraser and agreement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from pytest_llmdrift import strategies
from pytest_llmdrift.paraphrase import (
    ALL_TRANSFORMS,
    TRANSFORMS,
    UPDATE_ENV,
    Agreement,
    ParaphraseDisagreement,
    ParaphraseFileError,
    agreement,
    assert_agreement,
    generate,
    paraphrases,
    protected_spans,
    rewrite,
    spans_preserved,
)
from pytest_llmdrift.paraphrase.spans import mask, unmask
from pytest_llmdrift.paraphrase.variants import (
    FORMAT,
    RUN_DIR_ENV,
    RegenerationRun,
    group_key,
    paraphrase_file,
)
from pytest_llmdrift.reply import Reply
from pytest_llmdrift.scorers import extract

PRIME = "Is 17077 a prime number? Think step by step and then answer [Yes] or [No]."

# Realistic prompts: numbers, quoted reviews, code, fences, placeholders, JSON, URLs.
PROMPTS = [
    PRIME,
    'Classify the sentiment of this review as positive or negative: "The battery died '
    'after 2 days, but support replaced it quickly." Answer with one word.',
    "What does `sorted([3, 1, 2])[-1]` return in Python? Reply with the value only.",
    "Fix the bug in this function and explain the change briefly:\n```python\n"
    "def mean(xs):\n    return sum(xs) / len(xs) + 1\n```",
    "Translate {text} into {language}. Keep the tone {tone}.",
    'Extract the city and the year from {"name": "Ada", "born": 1815, "city": "London"} '
    "and reply in JSON.",
    "You have 3 apples and buy 2.5 kg of pears at $4.20 per kg. How much do you pay? "
    "Show your work.",
    "Summarize the following text in 2 sentences: {document}",
    "Don't use more than 50 words. Describe what 'rubber duck debugging' means to a beginner.",
    "Write a Python function `is_happy(n: int) -> bool` that returns whether n is a happy "
    "number. Use the examples 7 -> True and 4 -> False.",
    "Rate this answer from 1 to 10: \u201cThe capital of Australia is Sydney.\u201d "
    "Then give the correct answer.",
    "See https://example.com/docs?id=42 and list the 3 main points. Respond in Markdown.",
    "What is 1,000 times -3.5e2? Answer with a number only.",
]


# -- a strategy for realistic templates ---------------------------------------------------
_SAFE_TEXT = st.text(
    alphabet=st.sampled_from("abcdefghij KLMNOP,.!?;:'-\u00e9"), min_size=1, max_size=30
).filter(lambda s: s.strip() != "")


@st.composite
def templates(draw: st.DrawFn) -> str:
    number = st.integers(-(10**6), 10**6)
    parts = [
        st.builds("Is {} a prime number?".format, number),
        st.builds("What is {} plus {}?".format, number, st.floats(0, 1e4).map("{:.2f}".format)),
        st.builds('Classify this review: "{}"'.format, _SAFE_TEXT.filter(lambda s: '"' not in s)),
        st.builds("What does `{}` print?".format, st.sampled_from(["print(1 + 2)", "len('ab')"])),
        st.builds(
            "Fix this code:\n```python\n{}\n```".format,
            st.sampled_from(["def f(x):\n    return x * 2", "print('Hello, World!')"]),
        ),
        st.builds(
            "Translate {{{}}} into {{language}}.".format,
            st.sampled_from(["text", "document", "user_input"]),
        ),
        st.builds(
            "Extract the fields from {} and reply in JSON.".format,
            st.dictionaries(
                st.sampled_from(["name", "age", "city"]),
                st.integers(0, 99) | st.sampled_from(["Ada", "Paris"]),
                min_size=1,
            ).map(json.dumps),
        ),
        st.just("Summarize the following review."),
    ]
    tails = st.sampled_from(
        [
            "",
            "Answer [Yes] or [No].",
            "Think step by step.",
            "Reply in JSON.",
            "Please be brief.",
            "Don't explain.",
        ]
    )
    body = draw(st.lists(st.one_of(parts), min_size=1, max_size=3))
    tail = draw(tails)
    sep = draw(st.sampled_from([" ", "\n"]))
    return sep.join([*body, tail] if tail else body)


def _span_texts(text: str) -> list[str]:
    return [text[a:b] for a, b, _ in protected_spans(text)]


def _every_single_step(template: str) -> dict[tuple[str, int], str]:
    return {
        (name, option): rewrite(template, [(name, option)])
        for name, transform in TRANSFORMS.items()
        for option in range(transform.options)
    }


# -- protected spans ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PRIME, [("17077", "number"), ("[Yes]", "brace"), ("[No]", "brace")]),
        (
            "Cost -3.5 or 1,000 or 2.5e3",
            [("-3.5", "number"), ("1,000", "number"), ("2.5e3", "number")],
        ),
        ("gpt-4 and 5-3", [("4", "number"), ("5", "number"), ("3", "number")]),
        ("Translate {text} now", [("{text}", "brace")]),
        ('Parse {"a": [1, 2]} please', [('{"a": [1, 2]}', "json")]),
        ("Run `ls -la` first", [("`ls -la`", "code")]),
        ("Fix:\n```py\nx = 1\n```\ndone", [("```py\nx = 1\n```", "fence")]),
        ("Unclosed:\n```py\nx = 1", [("```py\nx = 1", "fence")]),
        ('He said "it is 5 stars" loudly', [('"it is 5 stars"', "quote")]),
        ("\u201cGreat\u201d she wrote", [("\u201cGreat\u201d", "quote")]),
        ("I don't know what 'rubber duck' means", [("'rubber duck'", "quote")]),
        ("don't won't can't", []),
        ("See https://example.com/a?b=1.", [("https://example.com/a?b=1", "url")]),
        ("No spans here at all", []),
    ],
)
def test_protected_spans(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(text[a:b], kind) for a, b, kind in protected_spans(text)] == expected


@pytest.mark.parametrize("text", PROMPTS)
def test_mask_round_trips_and_hides_spans(text: str) -> None:
    masked, spans = mask(text)
    assert unmask(masked, spans) == text
    assert spans == _span_texts(text)
    assert not any(ch.isdigit() for ch in masked)  # every number is a span


def test_spans_preserved_detects_changes() -> None:
    assert spans_preserved(PRIME, PRIME)
    assert spans_preserved(PRIME, "Answer [Yes] or [No]. Is 17077 prime?")  # order is free
    assert not spans_preserved(PRIME, PRIME.replace("17077", "17078"))
    assert not spans_preserved(PRIME, PRIME.replace("17077", "170771"))  # not inside a number
    assert not spans_preserved(PRIME, PRIME.replace("[Yes]", "[YES]"))
    assert not spans_preserved("Add 2 and 2.", "Add 2 and two.")  # each span needs its own place


# -- transforms ---------------------------------------------------------------------------
def test_registry_names() -> None:
    assert ALL_TRANSFORMS == (
        "frame", "order", "politeness", "preamble", "casing",
        "whitespace", "punctuation", "typo", "synonym",
    )  # fmt: skip
    assert all(
        TRANSFORMS[name].name == name and TRANSFORMS[name].options > 0 for name in ALL_TRANSFORMS
    )


@pytest.mark.parametrize("template", PROMPTS)
def test_every_transform_at_every_option_keeps_every_span(template: str) -> None:
    for (name, option), variant in _every_single_step(template).items():
        assert spans_preserved(template, variant), (name, option, variant)
        for span in _span_texts(template):
            assert span in variant, (name, option, span)


@settings(deadline=None, max_examples=60)
@given(template=templates())
def test_every_transform_keeps_spans_of_generated_templates(template: str) -> None:
    for (name, option), variant in _every_single_step(template).items():
        assert spans_preserved(template, variant), (name, option, variant)


@settings(deadline=None, max_examples=60)
@given(
    template=templates(),
    steps=st.lists(st.tuples(st.sampled_from(ALL_TRANSFORMS), st.integers(0, 200)), max_size=5),
)
def test_chained_rewrites_keep_spans(template: str, steps: list[tuple[str, int]]) -> None:
    steps = [(name, option % TRANSFORMS[name].options) for name, option in steps]
    assert spans_preserved(template, rewrite(template, steps))


def test_transforms_are_pure_and_change_the_wording() -> None:
    assert _every_single_step(PRIME) == _every_single_step(PRIME)
    assert rewrite(PRIME, []) == PRIME
    assert rewrite(PRIME, [("frame", 2)]).startswith("Please answer: Is 17077")
    assert rewrite(PRIME, [("frame", 5)]) == (
        "Tell me whether 17077 is a prime number. Think step by step and then answer [Yes] or [No]."
    )
    assert rewrite(PRIME, [("order", 0)]) == (
        "Think step by step and then answer [Yes] or [No]. Is 17077 a prime number?"
    )
    assert rewrite(PRIME, [("casing", 2)]).startswith("IS 17077 A PRIME NUMBER?")
    assert rewrite(PRIME, [("casing", 2)]).endswith("[Yes] OR [No].")  # spans keep their case
    assert rewrite(PRIME, [("synonym", 1)]).endswith("then reply [Yes] or [No].")
    assert rewrite("Answer now.", [("synonym", 0)]) == "Reply now."
    assert rewrite("Fix it.", [("frame", 1)]) == "Can you fix it?"
    assert rewrite("Fix it.", [("politeness", 1)]) == "Please fix it."
    assert rewrite("Please fix it. Thanks!", [("politeness", 7)]) == "Fix it."


def test_typos_stay_in_long_words() -> None:
    template = "Is it ok to add 12 to `count`? Answer yes."
    variants = {rewrite(template, [("typo", o)]) for o in range(TRANSFORMS["typo"].options)}
    assert len(variants) > 5
    for variant in variants:
        assert variant.startswith("Is it ok to add 12 to `count`? ")  # only "Answer" qualifies
    assert rewrite("Is it ok?", [("typo", 3)]) == "Is it ok?"  # nothing to touch


def test_rewrite_rejects_unknown_transforms_and_options() -> None:
    with pytest.raises(ValueError, match=r"unknown paraphrase transform.*'frames'.*choose from"):
        rewrite(PRIME, [("frames", 0)])
    with pytest.raises(ValueError, match=r"options 0\.\.7"):
        rewrite(PRIME, [("frame", 8)])


# -- generate() ---------------------------------------------------------------------------
@pytest.mark.parametrize("template", PROMPTS)
def test_generate_makes_n_distinct_variants_keeping_spans(template: str) -> None:
    variants = generate(template, n=8)
    assert variants[0] == template
    assert len(variants) == len(set(variants)) == 8
    assert all(spans_preserved(template, v) for v in variants)
    assert generate(template, n=8) == variants
    assert generate(template, n=5) == variants[:5]  # more variants keep the first ones


@settings(deadline=None, max_examples=40)
@given(template=templates(), n=st.integers(1, 12))
def test_generate_property(template: str, n: int) -> None:
    variants = generate(template, n=n)
    assert variants[0] == template
    assert len(set(variants)) == n
    assert all(spans_preserved(template, v) for v in variants)


def test_generate_with_chosen_transforms() -> None:
    variants = generate(PRIME, n=6, transforms=["casing", "punctuation"])
    assert len(set(variants)) == 6
    assert all(v.lower().rstrip(".!?").startswith("is 17077 a prime") for v in variants)
    assert generate(PRIME, n=6, transforms=["punctuation", "casing"]) == variants


def test_generate_says_when_it_cannot_make_enough() -> None:
    with pytest.raises(ValueError, match=r"only \d+ distinct variants of '42'.*not n=8"):
        generate("42", n=8, transforms=["casing", "typo", "synonym"])
    with pytest.raises(ValueError, match="only 1 distinct"):
        generate(PRIME, n=2, transforms=[])
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        generate(PRIME, n=0)
    with pytest.raises(TypeError, match="list of names"):
        generate(PRIME, n=2, transforms="typo")


def test_generate_is_the_same_across_processes_and_hash_seeds() -> None:
    script = (
        "import json, sys; from pytest_llmdrift.paraphrase import generate; "
        "print(json.dumps([generate(t, 8) for t in json.loads(sys.argv[1])]))"
    )
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(PROMPTS[:6])],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0]) == [generate(t, 8) for t in PROMPTS[:6]]


# -- paraphrases() and the committed file -------------------------------------------------
def _ids_and_values(params: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(p.id, p.values[0]) for p in params]


def test_paraphrases_params_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    file = tmp_path / "__paraphrases__" / "test_mod.json"
    params = paraphrases(PRIME, n=5, file=file)
    assert [p.id for p in params] == ["p0", "p1", "p2", "p3", "p4"]
    assert [p.values[0] for p in params] == generate(PRIME, 5)
    key = group_key(PRIME, 5)
    mark = params[3].marks[0]
    assert (mark.name, mark.kwargs) == ("llm_paraphrase", {"group": key, "variant": 3})

    text = file.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data == {
        "format": FORMAT,
        "groups": {
            key: {
                "template": PRIME,
                "n": 5,
                "transforms": None,
                "source": "generated",
                "variants": generate(PRIME, 5),
            }
        },
    }
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    # A second group joins the first; asking again changes nothing.
    other = paraphrases("Summarize {doc}.", n=3, transforms=["frame"], file=file)
    assert len(json.loads(file.read_text())["groups"]) == 2
    before = file.read_text()
    assert _ids_and_values(
        paraphrases("Summarize {doc}.", n=3, transforms=["frame"], file=file)
    ) == (_ids_and_values(other))
    assert file.read_text() == before

    # Edited (reviewed) variants are used as stored ...
    data = json.loads(before)
    data["groups"][key]["variants"][2] = "Is 17077 prime? Answer [Yes] or [No]."
    file.write_text(json.dumps(data))
    assert (
        paraphrases(PRIME, n=5, file=file)[2].values[0] == "Is 17077 prime? Answer [Yes] or [No]."
    )
    # ... until regeneration is asked for.
    monkeypatch.setenv(UPDATE_ENV, "update")
    assert [p.values[0] for p in paraphrases(PRIME, n=5, file=file)] == generate(PRIME, 5)
    assert file.read_text() == before


def test_paraphrases_default_file_is_beside_the_calling_module(tmp_path: Path) -> None:
    module = tmp_path / "test_calls.py"
    module.write_text(
        "from pytest_llmdrift.paraphrase import paraphrases\n"
        f"PARAMS = paraphrases({PRIME!r}, n=3)\n"
    )
    namespace: dict[str, object] = {"__file__": str(module)}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    assert paraphrase_file(module) == tmp_path / "__paraphrases__" / "test_calls.json"
    assert json.loads(paraphrase_file(module).read_text())["groups"][group_key(PRIME, 3)]
    # Without a file (a REPL), nothing is written and the list is the same.
    repl: dict[str, object] = {}
    exec(
        "from pytest_llmdrift.paraphrase import paraphrases\nP = paraphrases(T, n=3)",
        repl | {"T": PRIME},
        repl,
    )
    assert [p.values[0] for p in repl["P"]] == generate(PRIME, 3)  # type: ignore[attr-defined]


def _one_group(group: dict[str, object]) -> str:
    return json.dumps({"format": FORMAT, "groups": {"k": group}})


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "is not JSON"),
        ('{"groups": {}}', 'lacks "format"'),
        (f'{{"format": "{FORMAT}"}}', 'lacks a "groups" object'),
        (
            _one_group({"template": "a", "n": 2, "variants": ["a"]}),
            "has 1 variants, but n is 2",
        ),
        (
            _one_group({"template": "a", "n": 2, "variants": ["b", "a"]}),
            "must be the template",
        ),
    ],
)
def test_malformed_file_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, why: str
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    file = tmp_path / "bad.json"
    file.write_text(content)
    with pytest.raises(ParaphraseFileError, match=why) as info:
        paraphrases(PRIME, n=3, file=file)
    assert str(file) in str(info.value)
    assert "Delete the file" in str(info.value)
    assert "--snapshot-update" in str(info.value)
    assert file.read_text() == content  # never overwritten without being asked
    monkeypatch.setenv(UPDATE_ENV, "update")
    assert len(paraphrases(PRIME, n=3, file=file)) == 3
    assert json.loads(file.read_text())["format"] == FORMAT


def test_paraphrases_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown paraphrase transform"):
        paraphrases(PRIME, n=3, transforms=["nope"], file=tmp_path / "x.json")
    with pytest.raises(ValueError, match="n must be"):
        paraphrases(PRIME, n=-1, file=tmp_path / "x.json")
    with pytest.raises(ValueError, match="using= must be a model name"):
        paraphrases(PRIME, n=3, using="  ", file=tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


# -- the model paraphraser ----------------------------------------------------------------
def _stub_model(
    monkeypatch: pytest.MonkeyPatch, candidates: list[str]
) -> list[tuple[str, int, str]]:
    calls: list[tuple[str, int, str]] = []

    def rewrite_with_model(template: str, n: int, model: str) -> list[str]:
        calls.append((template, n, model))
        return list(candidates)

    stub = types.ModuleType("pytest_llmdrift.paraphrase.model")
    stub.rewrite_with_model = rewrite_with_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_llmdrift.paraphrase.model", stub)
    return calls


def test_model_rewordings_are_checked_and_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    good = [
        "Is 17077 prime? Reason it out, then answer [Yes] or [No].",
        "Answer [Yes] or [No] after thinking step by step: is 17077 a prime number?",
        "Can you tell whether 17077 is prime? Think it through and answer [Yes] or [No].",
    ]
    bad = [
        "Is 17078 a prime number? Answer [Yes] or [No].",  # number changed
        "Is 17077 prime? Answer yes or no.",  # [Yes]/[No] lost
        PRIME,  # the template itself
        good[0],  # a duplicate
        "   ",
    ]
    calls = _stub_model(
        monkeypatch, [bad[0], good[0], bad[1], bad[2], good[1], bad[3], bad[4], good[2]]
    )
    file = tmp_path / "m.json"
    params = paraphrases(PRIME, n=4, using="demo-good", file=file)
    assert calls == [(PRIME, 4, "demo-good")]
    assert [p.values[0] for p in params] == [PRIME, *good]
    group = json.loads(file.read_text())["groups"][group_key(PRIME, 4, None, "demo-good")]
    assert group["source"] == "model:demo-good"
    assert group["variants"] == [PRIME, *good]

    # CI never calls the model again: the stored group is used.
    paraphrases(PRIME, n=4, using="demo-good", file=file)
    assert len(calls) == 1


def test_too_few_model_rewordings_are_filled_with_generated_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    _stub_model(monkeypatch, ["Is 17077 prime? Answer [Yes] or [No].", "Is 17 prime?"])
    file = tmp_path / "m.json"
    variants = [p.values[0] for p in paraphrases(PRIME, n=5, using="demo-x", file=file)]
    assert variants[:2] == [PRIME, "Is 17077 prime? Answer [Yes] or [No]."]
    assert len(set(variants)) == 5
    assert all(spans_preserved(PRIME, v) for v in variants)
    group = json.loads(file.read_text())["groups"][group_key(PRIME, 5, None, "demo-x")]
    assert group["source"] == "model:demo-x+generated"


# -- agreement ----------------------------------------------------------------------------
YES_NO = extract(r"\[(Yes|No)\]")


def _reply(text: str) -> Reply:
    return Reply(text=text, model="demo", requested_model="demo")


def test_agreement_passes_when_all_variants_agree() -> None:
    result = assert_agreement([_reply("so [Yes]"), "[Yes] it is", _reply("[Yes]!")], YES_NO)
    assert isinstance(result, Agreement)
    assert (result.passed, result.agreeing, result.total, result.rate) == (True, 2, 2, 1.0)
    assert result.disagreeing == []
    assert agreement(["only the reference"], YES_NO).rate == 1.0


def test_agreement_lists_the_disagreeing_variants() -> None:
    replies = ["Thinking... [Yes]", "[Yes]", "[No], it has a factor", "no idea", "[Yes]"]
    result = agreement(replies, YES_NO)
    assert not result.passed
    assert (result.agreeing, result.total, result.rate) == (2, 4, 0.5)
    assert [label for label, _, _ in result.disagreeing] == ["p2", "p3"]
    with pytest.raises(ParaphraseDisagreement) as info:
        assert_agreement(replies, YES_NO)
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "2 of 4 variants agree with p0" in message
    assert "p2: score 0.00 < 1.00: answer changed: 'yes' -> 'no'" in message
    assert "p3: score 0.00 < 1.00: no answer found" in message
    assert "'no idea'" in message
    assert "p0 (reference): 'Thinking... [Yes]'" in message
    assert info.value.agreement == result
    assert assert_agreement(replies, YES_NO, min_rate=0.5).passed


def test_agreement_labels_and_argument_checks() -> None:
    result = agreement(["[Yes]", "[No]"], YES_NO, labels=["base", "polite"])
    assert result.disagreeing[0][0] == "polite"
    with pytest.raises(ValueError, match="2 replies but 1 labels"):
        agreement(["[Yes]", "[No]"], YES_NO, labels=["base"])
    with pytest.raises(ValueError, match="at least one reply"):
        agreement([], YES_NO)
    with pytest.raises(ValueError, match="min_rate"):
        agreement(["[Yes]"], YES_NO, min_rate=2)


# -- strategies ---------------------------------------------------------------------------
FIND = settings(database=None, max_examples=500, deadline=None)
PER_TRANSFORM = {
    "frame": strategies.frames,
    "order": strategies.orders,
    "politeness": strategies.politeness,
    "preamble": strategies.preambles,
    "casing": strategies.casings,
    "whitespace": strategies.whitespace,
    "punctuation": strategies.punctuation,
    "typo": strategies.typos,
    "synonym": strategies.synonyms,
}


def test_one_strategy_per_transform() -> None:
    assert set(PER_TRANSFORM) == set(ALL_TRANSFORMS)


@settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), template=st.sampled_from(PROMPTS) | templates())
def test_paraphrase_examples_keep_spans(data: st.DataObject, template: str) -> None:
    prompt = data.draw(strategies.paraphrase(template))
    assert spans_preserved(template, prompt)
    name = data.draw(st.sampled_from(ALL_TRANSFORMS))
    single = data.draw(PER_TRANSFORM[name](template))
    assert spans_preserved(template, single)


def test_paraphrase_shrinks_to_the_template() -> None:
    for template in PROMPTS[:4]:
        assert find(strategies.paraphrase(template), lambda s: True, settings=FIND) == template


def test_paraphrase_shrinks_to_a_single_light_change() -> None:
    singles = {
        rewrite(PRIME, [(name, option)])
        for name in ALL_TRANSFORMS
        for option in range(TRANSFORMS[name].options)
    }
    found = find(strategies.paraphrase(PRIME), lambda s: "Please" in s, settings=FIND)
    assert "Please" in found
    assert found in singles
    polite = strategies.paraphrase(PRIME, ["politeness"])
    assert find(polite, lambda s: "Please" in s, settings=FIND) == rewrite(
        PRIME, [("politeness", 1)]
    )


@pytest.mark.parametrize("name", ALL_TRANSFORMS)
def test_per_transform_strategies_shrink_to_the_template_then_option_0(name: str) -> None:
    strategy = PER_TRANSFORM[name](PRIME)
    assert find(strategy, lambda s: True, settings=FIND) == PRIME
    lightest = rewrite(PRIME, [(name, 0)])
    if lightest != PRIME:
        assert find(strategy, lambda s: s != PRIME, settings=FIND) == lightest


def test_strategy_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown paraphrase transform"):
        strategies.paraphrase(PRIME, ["nope"])
    with pytest.raises(ValueError, match="max_steps"):
        strategies.paraphrase(PRIME, max_steps=-1)
    assert find(strategies.paraphrase(PRIME, max_steps=0), lambda s: True) == PRIME


# -- end to end: parametrize, xdist, the committed file -----------------------------------
TEST_MODULE = textwrap.dedent(
    f"""
    import json, os
    from pathlib import Path
    import pytest
    from pytest_llmdrift.paraphrase import paraphrases

    @pytest.mark.parametrize("prompt", paraphrases({PRIME!r}, n=5))
    def test_prime(request, prompt):
        line = json.dumps([request.node.callspec.id, prompt])
        with open(Path(__file__).parent / "seen.jsonl", "a") as f:
            f.write(line + "\\n")
    """
)


def _run(pytester: pytest.Pytester, *args: str) -> list[list[str]]:
    seen = pytester.path / "seen.jsonl"
    seen.unlink(missing_ok=True)
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=5)
    return sorted(json.loads(line) for line in seen.read_text().splitlines())


def test_parametrized_paraphrases_are_stable_across_runs_and_workers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    pytester.makepyfile(test_x=TEST_MODULE)
    stored = pytester.path / "__paraphrases__" / "test_x.json"

    under_xdist = _run(pytester, "-n", "2")  # two workers race to write the file
    written = stored.read_text()
    stored.unlink()
    plain = _run(pytester)
    assert stored.read_text() == written
    assert plain == under_xdist
    assert [row[0] for row in plain] == ["p0", "p1", "p2", "p3", "p4"]
    assert [row[1] for row in plain] == generate(PRIME, 5)

    collected = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    collected.stdout.fnmatch_lines([f"test_x.py::test_prime[[]p{i}[]]" for i in range(5)])
    assert stored.read_text() == written  # unchanged by later runs

    # A reviewed edit is kept, and used, until regeneration is requested.
    data = json.loads(written)
    (group,) = data["groups"].values()
    group["variants"][4] = "Is 17077 prime? Answer [Yes] or [No]."
    stored.write_text(json.dumps(data, indent=2) + "\n")
    edited = stored.read_text()
    assert _run(pytester)[4][1] == "Is 17077 prime? Answer [Yes] or [No]."
    assert stored.read_text() == edited
    monkeypatch.setenv(UPDATE_ENV, "update")
    # Regeneration under xdist leaves nothing in the temp dir (it left a
    # llmdrift-paraphrases-* mark per group and run): point it at an empty one for the
    # workers (TMPDIR) and the in-process controller (tempfile.tempdir, read once).
    scratch = pytester.path.parent / f"{pytester.path.name}-tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert _run(pytester, "-n", "2") == plain
    assert stored.read_text() == written
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_a_regeneration_run_marks_groups_once_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UPDATE_ENV, "update")
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    file = tmp_path / "__paraphrases__" / "test_mod.json"
    run = RegenerationRun()
    try:
        assert os.environ[RUN_DIR_ENV] == str(run.path)
        first = [p.values[0] for p in paraphrases(PRIME, n=3, file=file)]
        assert len(list(run.path.iterdir())) == 1  # the group is marked regenerated
        # Another worker of the same run uses what the first one wrote (a model's
        # rewording is asked once), here seen through an edit made in between.
        data = json.loads(file.read_text())
        (group,) = data["groups"].values()
        group["variants"][2] = "Is 17077 prime? Answer [Yes] or [No]."
        file.write_text(json.dumps(data))
        again = [p.values[0] for p in paraphrases(PRIME, n=3, file=file)]
        assert again == [*first[:2], "Is 17077 prime? Answer [Yes] or [No]."]
    finally:
        run.close()
    assert not run.path.exists()
    assert RUN_DIR_ENV not in os.environ
    # a new run regenerates
    assert [p.values[0] for p in paraphrases(PRIME, n=3, file=file)] == first


def test_malformed_file_fails_collection_with_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    pytester.makepyfile(test_x=TEST_MODULE)
    stored = pytester.path / "__paraphrases__" / "test_x.json"
    stored.parent.mkdir()
    stored.write_text("{broken")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_x.json is not a valid paraphrase file: it is not JSON*"])
    result.stdout.fnmatch_lines(["*Delete the file*--llm-paraphrases-update*"])
    assert stored.read_text() == "{broken"


def test_the_paraphrase_package_does_not_import_hypothesis() -> None:
    script = (
        "import sys, pytest_llmdrift.paraphrase as p; p.generate('Is 2 prime?', 3); "
        "print('hypothesis' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
