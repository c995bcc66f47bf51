"""Bad input through the Python bindings: an exception naming the argument and what was
expected, never a crash. Each case runs in a child interpreter so that a segfault fails
the one test instead of killing the whole session."""
import subprocess
import sys
import textwrap

import pytest

from conftest import BUILD

PRELUDE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {build!r})
    import numpy as np
    import trusty
    net = trusty.MLP([2, 4, 3], seed=0)
    tr = trusty.Trainer(net, epochs=1)
    x = np.zeros((4, 2), np.float32)
""")


def raises_in_child(body):
    """Runs body after PRELUDE; returns (exception type name, message) it raised."""
    code = PRELUDE.format(build=str(BUILD / "python")) + textwrap.dedent(f"""
        try:
            {body}
        except Exception as e:
            print(type(e).__name__ + ": " + str(e))
            sys.exit(3)
        print("no exception")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, f"exit {r.returncode} (negative: killed by a signal)\n{r.stdout}{r.stderr}"
    kind, _, msg = r.stdout.strip().partition(": ")
    return kind, msg


@pytest.mark.parametrize("y", ["None", "3", "'labels'", "[0, 1, 2, 0]", "{'a': 1}"])
def test_evaluate_with_y_not_an_array_is_a_type_error(y):
    kind, msg = raises_in_child(f"tr.evaluate(x, {y})")
    assert kind == "TypeError"
    assert msg.startswith("y: expected a numpy array"), msg


@pytest.mark.parametrize("y", ["None", "3", "'labels'", "[0, 1, 2, 0]"])
def test_fit_with_y_not_an_array_is_a_type_error(y):
    kind, msg = raises_in_child(f"tr.fit(x, {y})")
    assert kind == "TypeError"
    assert msg.startswith("y: expected a numpy array"), msg
