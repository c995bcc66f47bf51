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


# (call, exception type, the start of the message: the argument, what was expected)
CASES = [
    ("trusty.Trainer(net, lr=0)", "ValueError", "Trainer: argument lr: expected a finite number > 0, got 0"),
    ("trusty.Trainer(net, lr=float('inf'))", "ValueError", "Trainer: argument lr: expected a finite number > 0, got inf"),
    ("trusty.Trainer(net, lr=float('nan'))", "ValueError", "Trainer: argument lr: expected a finite number > 0, got nan"),
    ("trusty.Trainer(net, lr=-1.0)", "ValueError", "Trainer: argument lr: expected a finite number > 0, got -1"),
    ("trusty.Trainer(net, momentum=1.0)", "ValueError", "Trainer: argument momentum: expected a number in [0, 1), got 1"),
    ("trusty.Trainer(net, weight_decay=float('inf'))", "ValueError", "Trainer: argument weight_decay: expected a finite number >= 0"),
    ("trusty.Trainer(net, epochs=-1)", "ValueError", "Trainer: argument epochs: expected an integer >= 0, got -1"),
    ("trusty.Trainer(net, batch_size=-2)", "ValueError", "Trainer: argument batch_size: expected an integer >= 1 (or 0 for the full batch)"),
    ("trusty.Trainer(net, l1=-0.5)", "ValueError", "Trainer: argument l1: expected a finite number >= 0, got -0.5"),
    ("trusty.Trainer(net, l2=float('nan'))", "ValueError", "Trainer: argument l2: expected a finite number >= 0, got nan"),
    ("trusty.Trainer(net, clip_norm=-1.0)", "ValueError", "Trainer: argument clip_norm: expected a finite number >= 0"),
    ("trusty.Trainer(net, patience=-3)", "ValueError", "Trainer: argument patience: expected an integer >= 0"),
    ("trusty.Trainer(net, schedule='cosine', t_max=-1)", "ValueError", "Trainer: argument t_max: expected an integer >= 1"),
    ("trusty.Trainer(net, schedule='linear')", "ValueError", "schedule"),
    ("trusty.Trainer(net, optimizer='adamax')", "ValueError", "adamax"),
    ("trusty.Trainer(net, loss='hinge')", "ValueError", "Trainer: unknown loss 'hinge'"),
    ("trusty.Trainer('net')", "TypeError", "net: expected a trusty.MLP, got str"),
    ("trusty.MLP([2, 0, 3])", "ValueError", "MLP: argument widths: expected layer widths in [1, 16777216], got 0"),
    ("trusty.MLP([2, -4, 3])", "ValueError", "MLP: argument widths: expected layer widths in [1, 16777216], got -4"),
    ("trusty.MLP([2, 10**9, 3])", "ValueError", "MLP: argument widths: expected layer widths in [1, 16777216], got 1000000000"),
    ("trusty.MLP([2, 16000000, 16000000, 3])", "ValueError", "MLP: argument widths: the widths make more than 2147483648 parameters"),
    ("trusty.MLP([5])", "ValueError", "MLP: argument widths: expected at least an input and an output width, got 1 widths"),
    ("trusty.MLP([2, 3], dtype='float16')", "TypeError", "dtype: expected 'float32' or 'float64', got 'float16'"),
    ("tr.fit(x.astype(np.float64), np.zeros(4, np.int64))", "TypeError", "x: expected a float32 array of shape (n, 2)"),
    ("tr.fit(np.zeros((4, 3), np.float32), np.zeros(4, np.int64))", "ValueError", "x: expected shape (n, 2)"),
    ("tr.fit(x, np.zeros(3, np.int64))", "ValueError", "y: expected 4 rows (one per row of x), got shape (3,)"),
    ("tr.fit(x, np.array([0, 1, 5, 0]))", "ValueError", "y: label 5 outside [0, 3)"),
    ("tr.fit(x, np.array([0, 1, -1, 0]))", "ValueError", "y: label -1 outside [0, 3)"),
    ("tr.fit(x, np.zeros((4, 2), np.int64))", "ValueError", "y: expected labels of shape (4,), got (4, 2)"),
    ("tr.fit(x, np.zeros(4, np.int64), x_val=x, y_val=None)", "TypeError", "y_val: expected a numpy array, got"),
    ("x[2, 1] = np.nan; tr.fit(x, np.zeros(4, np.int64))", "ValueError", "x: row 2, column 1 (0-based): nan, expected a finite number"),
    ("x[3, 0] = np.inf; tr.evaluate(x, np.zeros(4, np.int64))", "ValueError", "x: row 3, column 0 (0-based): inf, expected a finite number"),
    ("trusty.Trainer(trusty.MLP([2, 1]), loss='mse').fit(x, np.array([[0], [1], [np.nan], [0]], np.float32))", "ValueError",
     "y: row 2, column 0 (0-based): nan, expected a finite number"),
    ("tr.evaluate(None, np.zeros(4, np.int64))", "TypeError", "x: expected a numpy array, got"),
    ("tr.evaluate(np.zeros((0, 2), np.float32), np.zeros(0, np.int64))", "ValueError", "x: 0 rows, expected at least one sample"),
    ("tr.predict([[0.0, 1.0]])", "TypeError", "x: expected a numpy array, got"),
    ("net.forward('x')", "TypeError", "x: expected a numpy array, got"),
    ("net.loss_and_grad(x, np.zeros(4, np.int64), loss='hinge')", "ValueError", "loss: unknown loss 'hinge' (expected bce, cross_entropy, half_sse, mdn or mse)"),
    ("tr.load_checkpoint('/nonexistent/ck.npz')", "ValueError", "cannot open '/nonexistent/ck.npz'"),
    ("tr.load_checkpoint('/')", "ValueError", "/: is a directory, expected a file"),
    ("trusty.fetch('cifar')", "ValueError", "unknown data set 'cifar' (expected one of mnist, fashion-mnist)"),
]


@pytest.mark.parametrize("call,kind,message", CASES, ids=[c[0] for c in CASES])
def test_bad_arguments_name_the_argument(call, kind, message):
    got_kind, msg = raises_in_child(call)
    assert got_kind == kind, msg
    assert msg.startswith(message) or message in msg, msg


def test_zero_rows_predict_and_evaluate():
    """Zero-row inputs: empty predictions of the right width, and a named error for fit."""
    kind, msg = raises_in_child(
        "p = tr.predict(np.zeros((0, 2), np.float32)); assert p.shape == (0, 3), p.shape; "
        "tr.fit(np.zeros((0, 2), np.float32), np.zeros(0, np.int64))")
    assert kind == "ValueError" and "the training set is empty" in msg, msg
