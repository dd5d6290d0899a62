"""Structured extraction: customer details as JSON, for the app's CRM import.

Model updates do not only break things: one skill can improve while another
regresses (the "seesaw"). Here the newer demo model is the better one. demo-2023-03
gets about 30% of these texts wrong: the age as a string, the city filed under
"location", or a chatty sentence around a Python dict that is not JSON at all.
demo-2023-06 always replies with clean, correct JSON. (An illustration of the
seesaw; the rate is not a figure from the paper.)

* ``test_extraction_matches_baseline`` (``json_match`` against the baseline) covers
  the texts whose recorded reply was reviewed as right. A baseline pins what the
  model said; a known-wrong reply is not worth pinning.
* ``test_extraction_is_correct`` checks every text against the right answer. The
  texts demo-2023-03 gets wrong are marked ``xfail`` (known failures, not hidden);
  on demo-2023-06 they XPASS: the update fixed them.
"""

import json

import pytest

from pytest_llmdrift import json_match

pytestmark = pytest.mark.llm(category="extraction", created="2023-06-20")

PROMPT = "Extract the name, age and city from this text as JSON: {text}"

# id: (text, the right answer)
REVIEWED = {
    "maria": ("Hi, my name is Maria Lopez, I am 34 years old and I live in Madrid.",
              {"name": "Maria Lopez", "age": 34, "city": "Madrid"}),
    "priya": ("Priya Nair is a 28-year-old engineer who lives in Bangalore.",
              {"name": "Priya Nair", "age": 28, "city": "Bangalore"}),
    "kenji": ("This is Kenji Sato. He is 41 and lives in Osaka.",
              {"name": "Kenji Sato", "age": 41, "city": "Osaka"}),
    "emma": ("Emma Schmidt, aged 31, lives in Vienna with her two cats.",
             {"name": "Emma Schmidt", "age": 31, "city": "Vienna"}),
    "chloe": ("Chloe Dubois is a 25-year-old student living in Paris.",
              {"name": "Chloe Dubois", "age": 25, "city": "Paris"}),
    "aisha": ("Aisha Bello, aged 42, is based in Lagos.",
              {"name": "Aisha Bello", "age": 42, "city": "Lagos"}),
}  # fmt: skip
# Texts demo-2023-03 gets wrong (measured), and how.
KNOWN_BAD = {
    "tom": ("Meet Tom Becker, 27 years old, from Hamburg.",
            {"name": "Tom Becker", "age": 27, "city": "Hamburg"}, "a chatty non-JSON reply"),
    "anna": ("My name is Anna Kowalski, I am 48 and I live in Krakow.",
             {"name": "Anna Kowalski", "age": 48, "city": "Krakow"}, "the age as a string"),
    "lucas": ("Lucas Martin, 26, lives in Lyon.",
              {"name": "Lucas Martin", "age": 26, "city": "Lyon"}, '"location" for "city"'),
    "olga": ("Olga Ivanova is 33 years old and lives in Riga.",
             {"name": "Olga Ivanova", "age": 33, "city": "Riga"}, '"location" for "city"'),
    "jan": ("Jan Novak, 54, lives in Prague.",
            {"name": "Jan Novak", "age": 54, "city": "Prague"}, "the age as a string"),
    "omar": ("Omar Haddad is 53 years old and lives in Beirut.",
             {"name": "Omar Haddad", "age": 53, "city": "Beirut"}, "a chatty non-JSON reply"),
    "lena": ("Meet Lena Fischer, 32 years old, from Zurich.",
             {"name": "Lena Fischer", "age": 32, "city": "Zurich"}, "the age as a string"),
}  # fmt: skip

# A known failure is marked, not deleted: pytest shows it as "x", and as "X" (XPASS)
# once a model gets it right. strict=False, so that is not an error.
ALL_TEXTS = [
    *(pytest.param(text, expected, id=key) for key, (text, expected) in REVIEWED.items()),
    *(
        pytest.param(
            text,
            expected,
            id=key,
            marks=pytest.mark.xfail(reason=f"demo-2023-03 returns {how}", strict=False),
        )
        for key, (text, expected, how) in KNOWN_BAD.items()
    ),
]


@pytest.mark.parametrize("text", [t for t, _ in REVIEWED.values()], ids=REVIEWED.keys())
def test_extraction_matches_baseline(llm, llm_snapshot, text):
    reply = llm(PROMPT.format(text=text), temperature=0)
    assert reply == llm_snapshot(json_match())


@pytest.mark.parametrize(("text", "expected"), ALL_TEXTS)
def test_extraction_is_correct(llm, text, expected):
    reply = llm(PROMPT.format(text=text), temperature=0)
    # A scorer works without a snapshot too: here the "baseline" is the right answer.
    score = json_match().score(baseline=json.dumps(expected), current=reply.text)
    assert score.passed, f"{score.detail}: {reply.text}"
