"""Code generation: is the reply still code the app can run as it is?

Chen, Zaharia & Zou (2023) found 52% of GPT-4's LeetCode answers directly
executable in March 2023 and 10% in June: the June model wrapped its code in
markdown fences (```python ... ```), which the grader then fed to Python verbatim.
The code inside was often fine; the pipeline around it broke.

Each test asks for a small function, executes the reply as it is, and calls the
function on a few inputs. demo-2023-03 replies with plain Python and passes;
demo-2023-06 returns the same code inside a fence, which is a SyntaxError.
"""

import pytest

pytestmark = pytest.mark.llm(category="code", created="2023-06-05")

PROMPT = "Write a Python function {name}({params}) that {does}. Reply with the code only."

# name: (parameters, what it does, [(arguments, expected result), ...])
TASKS = {
    "is_palindrome": (
        "s",
        "returns True when s reads the same backwards, ignoring case and punctuation",
        [(("Racecar",), True), (("A man, a plan, a canal: Panama",), True), (("hello",), False)],
    ),
    "fizzbuzz": (
        "n",
        "returns the FizzBuzz strings for 1 to n as a list",
        [((5,), ["1", "2", "Fizz", "4", "Buzz"]), ((0,), [])],
    ),
    "sum_of_digits": (
        "n",
        "returns the sum of the decimal digits of n, ignoring the sign",
        [((1234,), 10), ((-56,), 11), ((0,), 0)],
    ),
    "reverse_words": (
        "s",
        "returns s with its words in reverse order, separated by single spaces",
        [(("hello big world",), "world big hello"), (("  one  ",), "one")],
    ),
    "two_sum": (
        "nums, target",
        "returns the indices [i, j] of the two numbers that add up to target, or None",
        [(([2, 7, 11, 15], 9), [0, 1]), (([3, 2, 4], 6), [1, 2]), (([1, 2], 7), None)],
    ),
    "factorial": (
        "n",
        "returns n factorial for a whole number n >= 0",
        [((0,), 1), ((5,), 120), ((10,), 3628800)],
    ),
    "is_prime": (
        "n",
        "returns True when n is a prime number",
        [((1,), False), ((2,), True), ((17077,), True), ((561,), False)],
    ),
}


def load_function(source, name):
    """Execute the reply as Python and return the function it defines.

    This RUNS MODEL OUTPUT. With the built-in demo models the reply is the
    package's own canned code; with a real provider it is whatever the model wrote.
    The fresh dict namespace keeps it away from this module's globals, but it is
    not a sandbox: run such tests only where running untrusted code is acceptable
    (a throwaway CI container), or run the code in a sandboxed subprocess.
    """
    namespace = {"__name__": "llm_reply"}
    try:
        exec(compile(source, f"<reply defining {name}()>", "exec"), namespace)
    except SyntaxError as exc:
        pytest.fail(
            f"the reply is not directly executable Python ({exc.msg}, line {exc.lineno}):\n{source}"
        )
    function = namespace.get(name)
    assert callable(function), f"the reply defines no function {name}():\n{source}"
    return function


@pytest.mark.parametrize("name", TASKS)
def test_reply_runs_as_is(llm, name):
    params, does, cases = TASKS[name]
    reply = llm(PROMPT.format(name=name, params=params, does=does), temperature=0)
    function = load_function(reply.text, name)
    for args, expected in cases:
        assert function(*args) == expected, f"{name}{args!r} should be {expected!r}"
