"""Meaning-keeping rewrites of a prompt. Pure and deterministic.

Each :class:`Transform` offers ``options`` numbered variants of a text; option 0 is the
lightest change, and the option number alone decides everything (which word gets a
typo, which frame is used): there is no randomness here. Transforms see *masked* text
(see :mod:`.spans`), so protected spans are out of their reach; :func:`rewrite` does
the masking and proves afterwards that every span survived::

    >>> rewrite("Is 17077 a prime number?", [("frame", 2)])
    'Please answer: Is 17077 a prime number?'

A transform that does not apply to a text (no typo-able word, no instruction to move)
returns the text unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pytest_llmdrift.paraphrase.spans import (
    TOKEN_PATTERN,
    mask,
    spans_preserved,
    tokens_intact,
    unmask,
)

__all__ = ["ALL_TRANSFORMS", "TRANSFORMS", "Transform", "check_transforms", "rewrite"]


@dataclass(frozen=True)
class Transform:
    """A named family of rewrites: ``apply(masked_text, option)`` for ``option`` in
    ``range(options)``, option 0 being the lightest change."""

    name: str
    options: int
    function: Callable[[str, int], str]
    description: str = ""

    def apply(self, masked_text: str, option: int) -> str:
        if isinstance(option, bool) or not isinstance(option, int):
            raise TypeError(f"transform {self.name!r}: option must be an int, got {option!r}")
        if not 0 <= option < self.options:
            raise ValueError(
                f"transform {self.name!r} has options 0..{self.options - 1}, got {option}"
            )
        return self.function(masked_text, option)


# -- helpers ------------------------------------------------------------------------------
_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])(\s+)(?=\S)")
_WORD = re.compile(r"[A-Za-z]+")
_TOKEN_AT_END = re.compile(f"{TOKEN_PATTERN.pattern}$")
_TOKEN_AT_START = re.compile(f"^{TOKEN_PATTERN.pattern}")


def _edges(text: str) -> tuple[str, str, str]:
    match = _EDGES.match(text)
    assert match is not None
    return match.group(1), match.group(2), match.group(3)


def _on_core(text: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the text without its leading/trailing whitespace."""
    lead, core, trail = _edges(text)
    if not core:
        return text
    return lead + change(core) + trail


def _sentences(core: str) -> tuple[list[str], list[str]]:
    """Split at sentence ends; returns the sentences and the whitespace between them."""
    parts = _SENTENCE_BREAK.split(core)
    return parts[0::2], parts[1::2]


def _join(sentences: Sequence[str], separators: Sequence[str]) -> str:
    out = [sentences[0]]
    for sep, sentence in zip(separators, sentences[1:], strict=True):
        out += [sep, sentence]
    return "".join(out)


def _sep(core: str) -> str:
    return "\n" if "\n" in core else " "


def _lower_first(text: str) -> str:
    """Lower-case the first letter, unless the first word is "I" or an acronym."""
    match = _WORD.match(text)
    if match is None:
        return text
    word = match.group(0)
    if word == "I" or (len(word) > 1 and word.isupper()):
        return text
    return text[0].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].isalpha() else text


def _is_question(core: str) -> bool:
    sentences, _ = _sentences(core)
    return sentences[0].rstrip().endswith("?")


def _ends_sentence(text: str) -> bool:
    return text.rstrip()[-1:] in (".", "!", "?", ":")


# -- frame --------------------------------------------------------------------------------
_QUESTION_FRAMES = (
    "Question: {q}",
    "Can you answer this: {q}",
    "Please answer: {q}",
    "I have a question. {q}",
    "Here is a question for you: {q}",
    None,  # imperative rewrite of the question
    "Answer the following question. {q}",
    "Quick question: {q}",
)
_INSTRUCTION_FRAMES = (
    "Task: {q}",
    None,  # "Can you ...?" rewrite of the instruction
    "Please do the following. {q}",
    "I need your help with this. {q}",
    "Here is a task for you: {q}",
    "Can you help me with this? {q}",
    "Do the following. {q}",
    "Your task: {q}",
)
_PRONOUNS = {"it", "this", "that", "there", "he", "she", "they", "you", "we", "these", "those"}
_WH_QUESTION = re.compile(
    r"^(What|Who|Which|Where|When|Why|How)\s+(is|are|was|were)\s+(.+?)\?$", re.DOTALL
)
_YES_NO = re.compile(
    r"^(Is|Are|Was|Were|Does|Do|Did|Can|Could|Will|Would|Should|Has|Have)\s+(\S+)\s+(.+?)\?$",
    re.DOTALL,
)


def _imperative(question: str) -> str | None:
    """ "What is X?" -> "Tell me what X is."; "Is 17077 a prime?" -> "Tell me whether
    17077 is a prime." (only when the subject is one protected span or a pronoun)."""
    if m := _WH_QUESTION.match(question):
        return f"Tell me {m.group(1).lower()} {m.group(3)} {m.group(2)}."
    if m := _YES_NO.match(question):
        subject = m.group(2)
        if TOKEN_PATTERN.fullmatch(subject) or subject.lower() in _PRONOUNS:
            return f"Tell me whether {subject} {m.group(1).lower()} {m.group(3)}."
    return None


def _frame(text: str, option: int) -> str:
    def change(core: str) -> str:
        sentences, _ = _sentences(core)
        first = sentences[0]
        rest = core[len(first) :]
        if _is_question(core):
            pattern = _QUESTION_FRAMES[option]
            if pattern is None:
                imperative = _imperative(first)
                return imperative + rest if imperative else f"Tell me: {core}"
        else:
            pattern = _INSTRUCTION_FRAMES[option]
            if pattern is None:
                if first.endswith((".", "!")) and _WORD.match(first):
                    return f"Can you {_lower_first(first[:-1])}?{rest}"
                return f"Can you do this for me? {core}"
        return pattern.format(q=core)

    return _on_core(text, change)


# -- order --------------------------------------------------------------------------------
_INSTRUCTION = re.compile(
    r"^(?:please,?\s+)?(?:answer|reply|respond|return|output|give|think|format|use|write|"
    r"explain|be|keep|only|do not|don't|never|always|provide|include|show|let's|end|start|"
    r"begin|make|limit|list|avoid|put|wrap|remember|note|state|say|choose|pick|select|"
    r"classify|summari[sz]e|translate|rate|label|check|verify|consider|assume|ignore|"
    r"your answer|the answer|no need|skip|respond)\b",
    re.IGNORECASE,
)


def _order(text: str, option: int) -> str:
    def change(core: str) -> str:
        sentences, seps = _sentences(core)
        if len(sentences) < 2:
            return core
        joiner = " " if option < 2 else ("\n" if option == 2 else "\n\n")
        if option in (0, 2):  # the closing instruction goes first
            last = sentences[-1]
            if not _INSTRUCTION.match(last):
                return core
            if not _ends_sentence(last):
                last += "."
            return last + joiner + _join(sentences[:-1], seps[:-1])
        first = sentences[0]  # the opening instruction goes last
        if not _INSTRUCTION.match(first):
            return core
        rest = _join(sentences[1:], seps[1:])
        if _TOKEN_AT_END.search(rest) or "\n" in rest:
            joiner = "\n\n" if option == 3 else "\n"
        return rest + joiner + first

    return _on_core(text, change)


# -- politeness ---------------------------------------------------------------------------
_PLEASE = re.compile(r"\bplease\b,?\s*", re.IGNORECASE)
_THANKS = re.compile(r"\s*\b(?:thank you|thanks)(?: in advance| a lot| so much)?[.!]*", re.I)


def _append(core: str, phrase: str) -> str:
    return core + _sep(core) + phrase


def _prepend(core: str, phrase: str) -> str:
    return phrase + ("" if phrase.endswith("\n") else _sep(core)) + core


def _blunt(core: str) -> str:
    out = _THANKS.sub("", core)
    out = _PLEASE.sub("", out)
    if not out.strip():
        return core
    # Re-capitalise sentence starts that lost their first word.
    out = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), out)
    return out


# First words after which "Please ..." would not read as a request.
_NOT_VERBS = frozenset({
    "you", "i", "we", "as", "the", "this", "that", "these", "those", "here", "there", "my",
    "our", "a", "an", "it", "hi", "hello", "dear", "question", "task", "your", "quick",
    "given", "if", "when", "for", "in", "on",
})  # fmt: skip


def _politeness(text: str, option: int) -> str:
    def change(core: str) -> str:
        if option == 0:
            return _append(core, "Thank you.")
        if option == 1:
            if _PLEASE.match(core):
                return core
            if _is_question(core):
                return "Please, " + _lower_first(core)
            first = _WORD.match(core)
            if first is None or first.group(0).lower() in _NOT_VERBS:
                return _prepend(core, "Please help with this.")
            return "Please " + _lower_first(core)
        if option == 2:
            return _append(core, "Thanks!")
        if option == 3:
            return _prepend(core, "Hi!")
        if option == 4:
            return _prepend(core, "Hello, could you help me?")
        if option == 5:
            return _prepend(core, "I would really appreciate your help.")
        if option == 6:
            return _append(core, "Thanks in advance.")
        return _blunt(core)

    return _on_core(text, change)


# -- preamble -----------------------------------------------------------------------------
_PREAMBLES = (
    "You are a helpful assistant.",
    "As an expert, please help.",
    "You are a knowledgeable and careful assistant.",
    "You are an expert in this field.",
    "Act as a helpful assistant.",
    "You are an AI assistant that answers accurately.",
    "You are a helpful assistant.\n",
)


def _preamble(text: str, option: int) -> str:
    return _on_core(text, lambda core: _prepend(core, _PREAMBLES[option]))


# -- casing -------------------------------------------------------------------------------
def _title(text: str) -> str:
    return re.sub(r"(?<![\w'\u2019])([a-z])", lambda m: m.group(1).upper(), text)


def _casing(text: str, option: int) -> str:
    if option == 0:
        return _on_core(text, _lower_first)
    if option == 1:
        return text.lower()
    if option == 2:
        return text.upper()
    return _title(text)


# -- whitespace ---------------------------------------------------------------------------
def _whitespace(text: str, option: int) -> str:
    if option == 0:
        return text + "\n"
    if option == 1:
        return re.sub(r"(?<=[.!?]) (?=\S)", "  ", text)
    if option == 2:
        return f"  {text}  "
    if option == 3:
        return re.sub(r"(?<=[.!?]) +(?=\S)", "\n", text)
    if option == 4:
        return "\n" + text
    if option == 5:
        return re.sub(r"(?<=\S) (?=\S)", "  ", text)
    out = re.sub(r"[ \t]+", " ", text.strip())
    out = re.sub(r" ?\n ?", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out)


# -- punctuation --------------------------------------------------------------------------
def _punctuation(text: str, option: int) -> str:
    def change(core: str) -> str:
        end = core[-1]
        if option == 0:
            return core[:-1] if end in ".!?" and len(core) > 1 else core
        if option == 1:
            return core[:-1] + "!" if end == "." else core
        if option == 2:
            return core.replace(",", "")
        if option == 3:
            return core + "." if end.isalpha() else core
        emphasis = {"?": "??", ".": "...", "!": "!!"}
        return core[:-1] + emphasis[end] if end in emphasis else core

    return _on_core(text, change)


# -- typo ---------------------------------------------------------------------------------
_TYPO_WORD = re.compile(r"(?<![A-Za-z'\u2019])[A-Za-z]{4,}(?![A-Za-z'\u2019])")
_KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "ol", "a": "qsz", "s": "adw", "d": "sfe", "f": "dgr",
    "g": "fht", "h": "gjy", "j": "hku", "k": "jli", "l": "ko", "z": "xa", "x": "zcs",
    "c": "xvd", "v": "cbf", "b": "vng", "n": "bmh", "m": "nj",
}  # fmt: skip
_TYPO_KINDS = 3  # adjacent swap, dropped letter, keyboard neighbour
_TYPO_OPTIONS = _TYPO_KINDS * 40


def _typo_word(word: str, kind: int, j: int) -> str:
    if kind == 0:  # swap two adjacent letters (never the first one)
        slots = len(word) - 2
        for step in range(slots):
            p = 1 + (j + step) % slots
            if word[p] != word[p + 1]:
                return word[:p] + word[p + 1] + word[p] + word[p + 2 :]
        return word
    p = 1 + j % (len(word) - 1)
    if kind == 1:  # drop a letter
        return word[:p] + word[p + 1 :]
    near = _KEYBOARD[word[p].lower()]
    letter = near[j % len(near)]
    return word[:p] + (letter.upper() if word[p].isupper() else letter) + word[p + 1 :]


def _typo(text: str, option: int) -> str:
    words = list(_TYPO_WORD.finditer(text))
    if not words:
        return text
    kind, k = option % _TYPO_KINDS, option // _TYPO_KINDS
    match = words[k % len(words)]
    new = _typo_word(match.group(0), kind, k // len(words))
    return text[: match.start()] + new + text[match.end() :]


# -- synonym ------------------------------------------------------------------------------
SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "answer": ("reply",),
        "reply": ("answer",),
        "respond": ("reply",),
        "explain": ("describe",),
        "tell me": ("let me know",),
        "short": ("brief",),
        "brief": ("short",),
        "briefly": ("concisely",),
        "concise": ("brief",),
        "concisely": ("briefly",),
        "summarize": ("sum up",),
        "summarise": ("sum up",),
        "give me": ("provide me with",),
        "provide": ("give",),
        "determine": ("work out", "figure out"),
        "calculate": ("compute",),
        "compute": ("calculate",),
        "verify": ("check",),
        "choose": ("pick", "select"),
        "select": ("choose",),
        "think step by step": ("reason step by step", "work through it step by step"),
        "step by step": ("one step at a time",),
        "classify": ("categorize",),
        "categorize": ("classify",),
        "please": ("kindly",),
        "carefully": ("thoroughly",),
        "create": ("make",),
        "generate": ("produce",),
        "list the": ("enumerate the",),
        "list all": ("enumerate all",),
        "what is": ("what's",),
        "do not": ("don't",),
        "don't": ("do not",),
        "cannot": ("can't",),
        "can't": ("cannot",),
        "whether": ("if",),
        "for example": ("for instance",),
        "help me": ("assist me",),
        "make sure": ("ensure",),
        "correct answer": ("right answer",),
    }
)
_SYNONYM = re.compile(
    r"(?<![\w'\u2019])(?:"
    + "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in sorted(SYNONYMS, key=len)[::-1])
    + r")(?![\w'\u2019])",
    re.IGNORECASE,
)
_SYNONYM_OPTIONS = 16


def _same_case(original: str, replacement: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _synonym(text: str, option: int) -> str:
    matches = list(_SYNONYM.finditer(text))
    if not matches:
        return text
    match = matches[option % len(matches)]
    original = match.group(0)
    choices = SYNONYMS[" ".join(original.lower().split())]
    new = _same_case(original, choices[(option // len(matches)) % len(choices)])
    return text[: match.start()] + new + text[match.end() :]


# -- registry -----------------------------------------------------------------------------
TRANSFORMS: Mapping[str, Transform] = MappingProxyType(
    {
        t.name: t
        for t in (
            Transform("frame", len(_QUESTION_FRAMES), _frame, "wording frame"),
            Transform("order", 4, _order, "instruction before or after the content"),
            Transform("politeness", 8, _politeness, "polite or blunt"),
            Transform("preamble", len(_PREAMBLES), _preamble, "role preamble"),
            Transform("casing", 4, _casing, "letter case"),
            Transform("whitespace", 7, _whitespace, "spaces and line breaks"),
            Transform("punctuation", 5, _punctuation, "punctuation marks"),
            Transform("typo", _TYPO_OPTIONS, _typo, "one keyboard typo"),
            Transform("synonym", _SYNONYM_OPTIONS, _synonym, "one word swapped for a synonym"),
        )
    }
)
ALL_TRANSFORMS: tuple[str, ...] = tuple(TRANSFORMS)


def check_transforms(transforms: Sequence[str] | None) -> tuple[str, ...]:
    """The transform names to use (all when None), validated, in registry order."""
    if transforms is None:
        return ALL_TRANSFORMS
    if isinstance(transforms, str):
        raise TypeError(
            f"transforms must be a list of names, not the string {transforms!r}; "
            f"e.g. transforms=[{transforms!r}]"
        )
    names = list(transforms)
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(
            f"unknown paraphrase transform(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(ALL_TRANSFORMS)}"
        )
    return tuple(name for name in ALL_TRANSFORMS if name in names)


def rewrite(template: str, steps: Sequence[tuple[str, int]]) -> str:
    """``template`` with the transform steps ``(name, option)`` applied in order,
    protected spans masked throughout. Raises ValueError if a span did not survive
    (a bug in a transform: it never happens for the built-in ones)."""
    masked, spans = mask(template)
    for name, option in steps:
        transform = TRANSFORMS.get(name)
        if transform is None:
            check_transforms([name])
            raise AssertionError("unreachable")  # pragma: no cover
        masked = transform.apply(masked, option)
    if not tokens_intact(masked, len(spans)):
        raise ValueError(f"rewriting {template!r} with {list(steps)} lost a protected span")
    result = unmask(masked, spans)
    if not spans_preserved(template, result):
        raise ValueError(f"rewriting {template!r} with {list(steps)} changed a protected span")
    return result
