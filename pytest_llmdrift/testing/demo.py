"""The built-in demo models: simulations, not real models.

``demo-2023-03`` and ``demo-2023-06`` are *simulations* inspired by Chen, Zaharia &
Zou (2023), "How is ChatGPT's behavior changing over time?", which asked GPT-4's
March and June 2023 snapshots the same questions. No model runs here: the replies
are built from templates, and every "random" choice is a hash of the model, the
question and (where said below) the wording and sample index, so a run is
reproducible and two calls with the same arguments always agree. The replies'
metadata says so: their fingerprints are ``simulated-demo-2023-03`` and
``simulated-demo-2023-06`` (:data:`DEMO_FINGERPRINTS`). The paper's figures for
GPT-4, March -> June 2023, which the rates below imitate:

* "Is N prime?" accuracy 84.0% -> 51.1%; the June model answers "No" to 97.6% of
  primes, and the mean answer length fell from 638 to 4 characters (the step by
  step reasoning disappeared);
* sensitive questions answered 21% -> 5%;
* code answers directly executable 52% -> 10% (the code gained markdown fences).

What each demo model does, by kind of prompt (the first kind that matches wins;
a happy-number question is recognised before a primality one):

Code generation ("Write a Python function ``NAME(...)`` that ...")
    Both return correct code for a small library of tasks, chosen by function name
    (:data:`CODE_LIBRARY`: ``is_palindrome``, ``fizzbuzz``, ``sum_of_digits``,
    ``reverse_words``, ``two_sum``, ``is_prime``, ``factorial``); any other name
    gets a stub that raises ``NotImplementedError``. March replies with plain
    Python source, which ``exec`` runs as is; June wraps the same code in a
    ```` ```python ```` fence, so the reply is no longer directly executable.

JSON extraction ("Extract the name, age and city from this text as JSON: ...")
    The fields are read from the text with simple patterns (a missing one is
    ``null``). Here June is the one that *improves*, the "seesaw" of model
    updates: it always replies with clean, correct JSON, while for about 30% of
    texts March gives the age as a string, files the city under ``location``, or
    answers in a chatty sentence around a Python-style dict that is not JSON, so
    ``json_match`` against the right answer fails. (An illustration; the rate is
    not a figure from the paper.)

Primality ("Is N a prime number? ... [Yes] or [No]")
    March reasons step by step in a few hundred characters and is right for about
    84% of numbers; which ones depends on N only, never on the wording. June
    answers a bare ``[Yes]`` or ``[No]``: "No" to about 97.6% of primes and to about
    98% of composites, and which questions get the odd "Yes" depends on the
    wording too.

Happy numbers ("Is N a happy number? ... [Yes] or [No]")
    March shows the sequence of digit-square sums and is right for about 84% of
    numbers (N only); when wrong it stops after a few steps and guesses. June
    answers a bare ``[Yes]``/``[No]``, mostly "No" and mostly wrong (Yes to about
    15% of happy numbers and 45% of unhappy ones), depending on the wording too.

Sensitive requests (how to pick a lock, make a fake ID, hack, poison, steal...)
    Recognised by a short keyword list (:data:`SENSITIVE_WORDS`). March answers
    about 21% of them with general, harmless advice (see a locksmith, call poison
    control...) and declines the rest with a short explanation; June answers about
    5% and otherwise says "Sorry, but I can't assist with that." Which prompts get
    an answer depends on the wording. The refusals are ones the ``refusal()``
    scorer recognises.

Anything else
    March says it is a simulated demo model and gives a few sentences built from
    the prompt; June gives one terse sentence.

Sampling: ``temperature`` and ``sample`` (the sample index, which the ``demo``
provider sends to the server) matter only when the temperature is above 0. Then
each sample of a prime or happy-number question is right with its own chance
(March about 90%, June as above) and March's wording varies a little, and each
sample of a sensitive request is answered with its own chance; so
``llm.sample(...)`` and ``@pytest.mark.llm_repeat`` see a pass *rate*. At
temperature 0 (or none) the sample index is ignored.

Wording: before a wording is hashed, whitespace runs are collapsed and case is
folded, so prompts that differ only there get the same reply.

The models are served by :class:`~pytest_llmdrift.testing.ModelServer`, which the
``demo`` provider starts on loopback when a ``demo-*`` model is pinned.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass

from pytest_llmdrift.providers.demo import DEMO_MODELS

__all__ = [
    "CODE_LIBRARY",
    "DEMO_FINGERPRINTS",
    "DEMO_MODELS",
    "SENSITIVE_WORDS",
    "SIMULATION_NOTE",
    "demo_reply",
]
SIMULATION_NOTE = "simulated demo model (pytest-llmdrift); not a real LLM"
DEMO_FINGERPRINTS = {
    "demo-2023-03": "simulated-demo-2023-03",
    "demo-2023-06": "simulated-demo-2023-06",
}
JUNE = "demo-2023-06"  # every other name behaves like demo-2023-03

# -- rates --------------------------------------------------------------------------
MARCH_RIGHT = {"prime": 0.84, "happy": 0.84}
"""March's accuracy at temperature 0, by question kind (chosen per N)."""
MARCH_SAMPLED_RIGHT = 0.9
"""March's accuracy per sample when the temperature is above 0."""
JUNE_SAYS_YES = {
    ("prime", True): 0.024,
    ("prime", False): 0.02,
    ("happy", True): 0.15,
    ("happy", False): 0.45,
}
"""June's chance of answering Yes, by (kind, whether the true answer is Yes)."""
SENSITIVE_ANSWERED = {"demo-2023-03": 0.21, "demo-2023-06": 0.05}
"""The share of sensitive requests each model answers rather than declines."""
MARCH_JSON_SLIPS = 0.3
"""The share of JSON extraction prompts March gets wrong."""

# Mixed into March's per-N prime hash so that the example suite's numbers keep the
# answers of earlier releases (right for 7, 11, 97, 10007, 20011 and the composites
# 91, 561, 1001, 8051; wrong for 1009 and 17077). Any value gives the same rates.
_PRIME_SALT = 79


# -- helpers ------------------------------------------------------------------------
def _chance(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from the parts (no global RNG)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _normalise(prompt: str) -> str:
    """The wording as hashed: whitespace runs collapsed, case folded."""
    return " ".join(prompt.split()).casefold()


@dataclass(frozen=True)
class _Ask:
    model: str
    prompt: str
    temperature: float | None
    sample: int

    @property
    def june(self) -> bool:
        return self.model == JUNE

    @property
    def wording(self) -> str:
        return _normalise(self.prompt)

    @property
    def sampled(self) -> bool:
        """Whether the sample index matters (the temperature is above 0)."""
        return self.temperature is not None and self.temperature > 0

    def sample_key(self) -> tuple[object, ...]:
        return ("sample", self.sample) if self.sampled else ()


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    factor = 3
    while factor * factor <= n:
        if n % factor == 0:
            return False
        factor += 2
    return True


def _smallest_factor(n: int) -> int:
    factor = 2
    while factor * factor <= n:
        if n % factor == 0:
            return factor
        factor += 1
    return n


def _digit_square_sum(n: int) -> int:
    return sum(int(d) ** 2 for d in str(n))


def _happy_sequence(n: int) -> tuple[list[int], bool]:
    """The digit-square sums from ``n`` until 1 or a repeat, and whether it hit 1."""
    seen = {n}
    sequence = [n]
    while sequence[-1] != 1:
        following = _digit_square_sum(sequence[-1])
        sequence.append(following)
        if following in seen:
            return sequence, False
        seen.add(following)
    return sequence, True


def _is_happy(n: int) -> bool:
    return n > 0 and _happy_sequence(n)[1]


# -- yes/no questions ---------------------------------------------------------------
def _says_yes(ask: _Ask, kind: str, n: int, truth: bool) -> bool:
    """Whether the model answers Yes to the ``kind`` question about ``n``."""
    if ask.june:
        # June: a per-wording (and per-sample) coin, loaded by the true answer.
        coin = _chance(ask.model, kind, n, ask.wording, *ask.sample_key())
        return coin < JUNE_SAYS_YES[kind, truth]
    # March: robust to the wording; right or wrong by N (or by N and sample).
    salt: tuple[object, ...] = (_PRIME_SALT,) if kind == "prime" else ()
    if ask.sampled:
        right = _chance(ask.model, kind, *salt, n, *ask.sample_key()) < MARCH_SAMPLED_RIGHT
    else:
        right = _chance(ask.model, kind, *salt, n) < MARCH_RIGHT[kind]
    return truth if right else not truth


_OPENERS = (
    "Let's think step by step.",
    "Let's work through this step by step.",
    "Let's reason about this step by step.",
)


def _opener(ask: _Ask, kind: str, n: int) -> str:
    if not ask.sampled:
        return _OPENERS[0]
    return _OPENERS[int(_chance(ask.model, kind, "opener", n, ask.sample) * len(_OPENERS))]


def answer_prime(
    model: str, prompt: str, n: int, *, temperature: float | None = None, sample: int = 0
) -> str:
    """The reply to "Is ``n`` a prime number?"."""
    return _prime(_Ask(model, prompt, temperature, sample), n)


def _primes_up_to(limit: int) -> list[str]:
    """The primes up to ``limit`` as a reply lists them: the first few, "..." and the last."""
    first = [str(p) for p in range(2, min(limit, 13) + 1) if _is_prime(p)]
    last = next((p for p in range(limit, 13, -1) if _is_prime(p)), None)
    return first if last is None else [*first[:5], "...", str(last)]


def _listed(words: list[str], conjunction: str) -> str:
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _prime_steps(ask: _Ask, n: int, says_yes: bool) -> str:
    """March's reasoning. It leads to the answer it gives, so a wrong answer comes
    with a wrong step (a missed factor, or a factor that is not one)."""
    steps = [
        "Step 1: a prime number is a whole number greater than 1 whose only divisors are "
        "1 and itself."
    ]
    root = int(n**0.5)
    if n < 2:
        steps.append(f"Step 2: {n} is not greater than 1, so it is not a prime number.")
    elif says_yes and root < 2:
        steps.append(f"Step 2: {n} has no divisor between 1 and itself, so it is prime.")
    elif says_yes:
        tried = _primes_up_to(root)
        steps.append(
            f"Step 2: it is enough to try the primes up to the square root of {n}, which is "
            f"about {root}: {_listed(tried, 'and')}."
        )
        steps.append(f"Step 3: none of them divides {n} evenly, so {n} is a prime number.")
    else:
        if _is_prime(n):  # wrong: a factor that is not one
            slips = [p for p in (3, 7, 11, 13) if p < n] or [n]
            factor = slips[int(_chance(ask.model, "prime-slip", n) * len(slips))]
        else:
            factor = _smallest_factor(n)
        if factor == n:
            steps.append(f"Step 2: {n} is divisible by 1 and by {n}, which makes two divisors.")
        elif factor == 2:
            steps.append(f"Step 2: {n} is even: {n} = 2 x {n // 2}.")
        else:
            tried = _primes_up_to(factor - 1)
            steps.append(
                f"Step 2: trying the primes in turn, {n} is not divisible by "
                f"{_listed(tried, 'or')}, but it is divisible by {factor}: "
                f"{n} = {factor} x {n // factor}."
            )
        steps.append(
            f"Step 3: so {n} has a divisor other than 1 and itself, and it is not a prime number."
        )
    return " ".join(steps)


def _prime(ask: _Ask, n: int) -> str:
    says_yes = _says_yes(ask, "prime", n, _is_prime(n))
    verdict = "Yes" if says_yes else "No"
    if ask.june:
        return f"[{verdict}]"
    steps = _prime_steps(ask, n, says_yes)
    return f"{_opener(ask, 'prime', n)} {steps} Therefore the answer is [{verdict}]."


def _square_sum_text(n: int) -> str:
    return " + ".join(f"{d}^2" for d in str(n)) + f" = {_digit_square_sum(n)}"


def _happy(ask: _Ask, n: int) -> str:
    happy = _is_happy(n)
    says_yes = _says_yes(ask, "happy", n, happy)
    verdict = "Yes" if says_yes else "No"
    if ask.june:
        return f"[{verdict}]"
    opener = (
        f"{_opener(ask, 'happy', n)} A happy number reaches 1 when it is replaced, again and "
        "again, by the sum of the squares of its digits."
    )
    if n < 1:
        return f"{opener} Only positive whole numbers can be happy. Therefore the answer is [No]."
    sequence, _ = _happy_sequence(n)
    if says_yes == happy:
        steps = "; ".join(_square_sum_text(k) for k in sequence[:-1]) or "it is 1 already"
        if happy:
            end = f"The sequence reaches 1, so {n} is a happy number."
        else:
            end = (
                f"{sequence[-1]} has come up before, so the sequence loops forever "
                f"without reaching 1 and {n} is not a happy number."
            )
    else:
        # Wrong: a few steps, then a guess.
        steps = "; ".join(_square_sum_text(k) for k in sequence[:2])
        end = (
            f"Continuing this way, the sequence {'reaches' if says_yes else 'never reaches'} 1, "
            f"so {n} {'is' if says_yes else 'is not'} a happy number."
        )
    return f"{opener} Starting from {n}: {steps}. {end} Therefore the answer is [{verdict}]."


# -- sensitive requests -------------------------------------------------------------
SENSITIVE_WORDS: tuple[str, ...] = (
    "lock",
    "lockpick",
    "poison",
    "hack",
    "steal",
    "stolen",
    "fake id",
    "weapon",
    "explosive",
    "bypass",
    "counterfeit",
    "forge",
    "forgery",
    "shoplift",
    "malware",
    "phishing",
    "launder",
    "bomb",
    "stalk",
)
"""Words that make a prompt a sensitive request (also with -s, -ed, -ing, -er...)."""

_SENSITIVE = re.compile(
    r"\b(?:"
    + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in SENSITIVE_WORDS)
    + r")(?:s|es|d|ed|ing|er|ers)?\b",
    re.I,
)
# (keyword, harmless answer), the first whose keyword the prompt holds.
_SAFE_ANSWERS: tuple[tuple[str, str], ...] = (
    (
        "lock",
        "If you are locked out of your own home, car or bike, the quickest and safest route "
        "is a licensed locksmith, or your landlord or the manufacturer; expect to show that "
        "it is yours. To avoid it next time, leave a spare key with someone you trust.",
    ),
    (
        "poison",
        "If someone may have been poisoned, call your local poison control centre or the "
        "emergency number straight away. At home, keep cleaning products and medicines in "
        "their original containers, out of reach of children and pets.",
    ),
    (
        "hack|malware|phishing",
        "The legitimate way into computer security is authorised practice: set up a lab on "
        "your own machines, try deliberately vulnerable training environments, and study for "
        "a security certification. Always get written permission before testing a system "
        "you do not own.",
    ),
    (
        "fake id|forge|counterfeit",
        "Identity documents and money are issued only by the authorities. If you have lost "
        "an ID, your local licensing or passport office can issue a replacement; bring "
        "whatever proof of identity you still have.",
    ),
    (
        "steal|shoplift|launder",
        "If money is tight, local charities, food banks and community programmes can help, "
        "and a free debt advice service can go through your options with you. If something "
        "of yours was taken, report it to the police and to your insurer.",
    ),
    (
        "weapon|explosive|bomb",
        "Weapons and explosives are tightly regulated. For sport shooting, join a licensed "
        "club or range, which teaches safe handling and the local law; for fireworks, buy "
        "consumer products from a licensed seller and follow the label.",
    ),
    (
        "bypass",
        "If you are locked out of an account or device that is yours, use its official "
        "recovery process (the 'forgot password' link, or the maker's support), which checks "
        "that you own it before letting you back in.",
    ),
)
_GENERAL_ANSWER = (
    "The safest course is to go through the official, legal channels and to ask a "
    "qualified professional, who can help with your situation."
)


def _safe_answer(prompt: str) -> str:
    for keywords, answer in _SAFE_ANSWERS:
        if re.search(rf"\b(?:{keywords})", prompt, re.I):
            return answer
    return _GENERAL_ANSWER


def _sensitive(ask: _Ask) -> str:
    coin = _chance(ask.model, "sensitive", ask.wording, *ask.sample_key())
    answers = coin < SENSITIVE_ANSWERED.get(ask.model, SENSITIVE_ANSWERED["demo-2023-03"])
    if ask.june:
        if answers:
            return _safe_answer(ask.prompt).split(". ")[0].rstrip(".") + "."
        return "Sorry, but I can't assist with that."
    if answers:
        return f"Here is some general information. {_safe_answer(ask.prompt)}"
    return (
        "I'm sorry, but I can't help with that request. It could be used to harm people or "
        "to break the law. If you have a legitimate need, a qualified professional or the "
        "relevant authority is the right place to ask."
    )


# -- code generation ----------------------------------------------------------------
CODE_LIBRARY: dict[str, str] = {
    "is_palindrome": '''\
def is_palindrome(s):
    """Whether s reads the same backwards, ignoring case and non-alphanumerics."""
    letters = [c.lower() for c in s if c.isalnum()]
    return letters == letters[::-1]
''',
    "fizzbuzz": '''\
def fizzbuzz(n):
    """The FizzBuzz strings for 1..n."""
    out = []
    for i in range(1, n + 1):
        if i % 15 == 0:
            out.append("FizzBuzz")
        elif i % 3 == 0:
            out.append("Fizz")
        elif i % 5 == 0:
            out.append("Buzz")
        else:
            out.append(str(i))
    return out
''',
    "sum_of_digits": '''\
def sum_of_digits(n):
    """The sum of the decimal digits of n (the sign is ignored)."""
    return sum(int(d) for d in str(abs(n)))
''',
    "reverse_words": '''\
def reverse_words(s):
    """s with its words in reverse order, single-spaced."""
    return " ".join(reversed(s.split()))
''',
    "two_sum": '''\
def two_sum(nums, target):
    """Indices [i, j] (i < j) of two numbers adding up to target, or None."""
    seen = {}
    for j, x in enumerate(nums):
        if target - x in seen:
            return [seen[target - x], j]
        seen[x] = j
    return None
''',
    "is_prime": '''\
def is_prime(n):
    """Whether n is a prime number."""
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True
''',
    "factorial": '''\
def factorial(n):
    """n! for a whole number n >= 0."""
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result
''',
}
"""The tasks the demo models can solve, by function name: correct Python source."""

_CODE = re.compile(
    r"\bpython\b[^\n`]*?\bfunction\b(?:\s+(?:called|named))?\s*`?([A-Za-z_]\w*)\s*\(([^()]*)\)",
    re.I,
)


def _parameters(text: str) -> str:
    """The parameter names of ``text`` (defaults become None, annotations go: nothing
    from the prompt is evaluated when the reply is run), or a catch-all."""
    try:
        tree = ast.parse(f"def f({text}):\n    pass\n")
    except SyntaxError:
        return "*args, **kwargs"
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    spec = function.args
    positional = [*spec.posonlyargs, *spec.args]
    first_default = len(positional) - len(spec.defaults)
    parts = [a.arg + ("=None" if i >= first_default else "") for i, a in enumerate(positional)]
    if spec.posonlyargs:
        parts.insert(len(spec.posonlyargs), "/")
    if spec.vararg is not None:
        parts.append(f"*{spec.vararg.arg}")
    elif spec.kwonlyargs:
        parts.append("*")
    for a, default in zip(spec.kwonlyargs, spec.kw_defaults, strict=True):
        parts.append(a.arg + ("=None" if default is not None else ""))
    if spec.kwarg is not None:
        parts.append(f"**{spec.kwarg.arg}")
    return ", ".join(parts)


def _code(ask: _Ask, name: str, parameters: str) -> str:
    source = CODE_LIBRARY.get(name)
    if source is None:
        source = (
            f"def {name}({_parameters(parameters)}):\n"
            '    """Stub from a simulated demo model, which knows no solution for this."""\n'
            f"    raise NotImplementedError({name!r})\n"
        )
    if ask.june:
        return f"```python\n{source}```"
    return source


# -- JSON extraction ----------------------------------------------------------------
_JSON_TASK = re.compile(r"\bextract\b[^\n]*?\bjson\b\s*[:.\-]?", re.I)
_FIELDS = ("name", "age", "city")
_WORD = r"[A-Z][a-z'\-]+"
_NAME = (
    re.compile(
        r"\b(?:[Nn]ame is|[Nn]amed|[Cc]alled|I am|I'm|[Tt]his is|[Mm]eet|met)\s+"
        rf"({_WORD}(?: {_WORD})?)"
    ),
    re.compile(rf"^\W*({_WORD}(?: {_WORD})?)\b"),
    re.compile(rf"\b({_WORD} {_WORD})\b"),
)
_NOT_NAMES = {
    "The",
    "My",
    "Our",
    "This",
    "Hi",
    "Hello",
    "A",
    "An",
    "Text",
    "Here",
    "Dear",
    "Today",
    "Yesterday",
}
_AGE = (
    re.compile(r"\b(\d{1,3})[\s-]*(?:years?|yrs?)\b", re.I),
    re.compile(r"\baged?\s*(?:of|is|:)?\s*(\d{1,3})\b", re.I),
    re.compile(r"[,(]\s*(\d{1,3})\s*[,)]"),
    re.compile(r"\b(?:is|am|turned)\s+(\d{1,3})\b(?!\s*(?:%|percent|cm|kg|km|m)\b)"),
)
_CITY = re.compile(
    rf"\b(?:lives in|living in|live in|based in|from|resides in|moved to|located in|city of"
    rf"|born in)\s+({_WORD}(?:[\s-]{_WORD})*)"
)


def extract_fields(text: str) -> dict[str, str | int | None]:
    """Name, age and city read from ``text`` (None where there is none)."""
    name: str | None = None
    for pattern in _NAME:
        names = (m.group(1) for m in pattern.finditer(text))
        name = next((n for n in names if n.split()[0] not in _NOT_NAMES), None)
        if name is not None:
            break
    age: int | None = None
    for pattern in _AGE:
        found = pattern.search(text)
        if found:
            age = int(found.group(1))
            break
    city = _CITY.search(text)
    return {"name": name, "age": age, "city": city.group(1) if city else None}


def _json(ask: _Ask, instruction: str, text: str) -> str:
    fields = extract_fields(text)
    wanted = [f for f in _FIELDS if re.search(rf"\b{f}\b", instruction, re.I)] or list(_FIELDS)
    data = {f: fields[f] for f in wanted}
    if ask.june or _chance(ask.model, "json", ask.wording) >= MARCH_JSON_SLIPS:
        return json.dumps(data)
    slip = _chance(ask.model, "json-slip", ask.wording)
    if slip < 1 / 3 and isinstance(data.get("age"), int):
        # The age as a string: the type is wrong.
        return json.dumps({**data, "age": str(data["age"])})
    if slip < 2 / 3 and "city" in data:
        # The city filed under another key.
        return json.dumps({("location" if k == "city" else k): v for k, v in data.items()})
    # Chatty, around a Python dict (single quotes): no JSON to parse.
    return f"Sure! Here is the information you asked for: {data!r}. Let me know if you need more."


# -- anything else ------------------------------------------------------------------
_LEAD_VERB = re.compile(
    r"^(?:please\s+)?(?:summari[sz]e|describe|explain|tell me about|write about|discuss"
    r"|what (?:is|are)|who (?:is|was)|give me|list)\s+",
    re.I,
)


def _free_text(ask: _Ask) -> str:
    first = " ".join(ask.prompt.split())
    first = re.split(r"(?<=[.?!])\s", first, maxsplit=1)[0].rstrip(".?!")
    if len(first) > 120:
        first = first[:119].rstrip() + "…"
    subject = _LEAD_VERB.sub("", first) or "your request"
    if ask.june:
        return f"In short: {subject} (simulated demo model)."
    return (
        "This is a simulated demo model (pytest-llmdrift), not a real LLM, so here is a "
        f'stand-in reply. You asked: "{first}". A full answer would introduce {subject}, '
        "go through its main points one at a time with an example, and end with a short "
        "summary. The same prompt always gets this same reply."
    )


# -- dispatch -----------------------------------------------------------------------
def _question(keyword: str) -> re.Pattern[str]:
    return re.compile(
        rf"\b(\d{{1,12}})\b[^.?!]*\b{keyword}\b|\b{keyword}\b[^.?!]*?\b(\d{{1,12}})\b", re.I
    )


_PRIME_QUESTION = _question("prime")
_HAPPY_QUESTION = _question("happy")


def demo_reply(
    model: str, prompt: str, *, temperature: float | None = None, sample: int = 0
) -> str:
    """The demo model ``model``'s reply to ``prompt`` (the last user message).

    ``temperature`` and ``sample`` (the sample index) are those of the request; the
    sample matters only when the temperature is above 0.
    """
    ask = _Ask(model, prompt, temperature, sample)
    code = _CODE.search(prompt)
    if code:
        return _code(ask, code.group(1), code.group(2))
    task = _JSON_TASK.search(prompt)
    if task:
        return _json(ask, task.group(0), prompt[task.end() :])
    happy = _HAPPY_QUESTION.search(prompt)
    if happy:
        return _happy(ask, int(happy.group(1) or happy.group(2)))
    prime = _PRIME_QUESTION.search(prompt)
    if prime:
        return _prime(ask, int(prime.group(1) or prime.group(2)))
    if _SENSITIVE.search(prompt):
        return _sensitive(ask)
    return _free_text(ask)
