"""The isolated runner's pieces: the wire format, functions as expressions, the sandbox.

- wire: every value type survives a round trip through a real frame; hostile or
  malformed frames are refused with WireError, without allocating what they claim.
- expressions: the exact derivative agrees with a finite difference on random trees,
  and the text shown to learners is Python that means the same tree.
- sandbox: a real child process answers pings, is stopped when a call runs too long,
  and leaves nothing behind when closed.
"""
import ast
import io
import math
import os
import struct
import textwrap
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import strategies as S
from grader.runner import expressions as E
from grader.runner import wire
from grader.runner.sandbox import LearnerProcess, Limits, ProcessGone
from helpers import gone, wait_until

PROPERTY = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


# ============================================================================ wire


def reader(data: bytes):
    stream = io.BytesIO(data)

    def read_exactly(n):
        chunk = stream.read(n)
        if len(chunk) < n:
            raise EOFError
        return chunk

    return read_exactly


def through_frame(value, **decode_kw):
    """Encode, pack, unpack and decode ``value`` as the grader and the child do."""
    buffers = []
    node = wire.encode(value, buffers, expr_to_tree=decode_kw.pop("expr_to_tree", None))
    header, back = wire.unpack(reader(wire.pack({"value": node}, buffers)))
    return wire.decode(header["value"], back, **decode_kw)


SCALARS = [None, True, False, 0, -7, 2 ** 62, 2 ** 70, -(2 ** 80), 0.0, -0.0, 1.5, -1e-300, 1e308,
           float("inf"), float("-inf"), "", "héllo ✓", [], (), {}, [1, [2.5, "x"]], (1,), {"a": [1, {"b": None}]}]


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_plain_values_round_trip(value):
    back = through_frame(value)
    assert type(back) is type(value) and back == value
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)


def test_nan_round_trips():
    assert math.isnan(through_frame(float("nan")))


@pytest.mark.parametrize("dtype", sorted(wire._ALLOWED_DTYPES))
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (1, 0, 2)], ids=str)
def test_arrays_of_every_dtype_and_shape_round_trip(dtype, shape):
    a = (np.arange(int(np.prod(shape))) % 3).reshape(shape).astype(dtype)
    back = through_frame(a)
    assert type(back) is np.ndarray and back.dtype == a.dtype and back.shape == a.shape
    assert np.array_equal(back, a)
    assert back.flags.writeable  # a copy, not a view of the message


def test_non_contiguous_arrays_and_special_floats_round_trip():
    a = np.array([[1.0, np.nan], [-np.inf, -0.0]]).T
    back = through_frame(a)
    assert np.array_equal(back, a, equal_nan=True) and np.signbit(back[1, 1])


@pytest.mark.parametrize("value", [np.float64(2.5), np.float32(-1.25), np.float16(0.5), np.int64(-3),
                                   np.uint8(255), np.bool_(True), np.bool_(False), np.complex128(1 - 2j),
                                   np.int32(2 ** 31 - 1)], ids=repr)
def test_numpy_scalars_round_trip_with_their_dtype(value):
    back = through_frame(value)
    assert type(back) is type(value) and back == value


def test_tensors_round_trip_as_wire_tensors():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    back = through_frame(t)
    assert isinstance(back, wire.WireTensor)
    assert back.dtype == "float32" and back.device == "cpu" and back.shape == (2, 3)
    assert np.array_equal(back.array, t.numpy())
    rebuilt = through_frame(t, tensor_factory=lambda a, d, dev: torch.from_numpy(a).to(dev))
    assert torch.equal(rebuilt, t)


def test_expressions_handles_and_unknown_objects():
    f = E.Function.scalar(["sin", ["var", 0]])
    rebuilt = through_frame(f, expr_to_tree=lambda v: v.to_wire() if isinstance(v, E.Function) else None,
                            expr_factory=lambda tree: E.as_plain_function(E.validate(tree)))
    assert rebuilt(0.5) == np.sin(0.5)

    handle = wire.decode({"t": "handle", "id": 3, "type": "MLP"}, [])
    assert isinstance(handle, wire.Handle) and handle.id == 3 and wire.encode(handle, []) == {"t": "ref", "id": 3}

    class Hostile:
        def __repr__(self):
            raise SystemExit("no")

    opaque = through_frame([Hostile(), object.__new__(type("Thing", (), {}))])
    assert all(isinstance(o, wire.Opaque) for o in opaque)
    assert "Hostile" in opaque[0].type_name and opaque[0].text.startswith("<")


def test_subclasses_of_plain_types_do_not_cross_as_themselves():
    class Sneaky(float):
        def __repr__(self):
            return "__import__('os')"

    back = through_frame(Sneaky(1.0))
    assert not isinstance(back, float)  # never rebuilt from the subclass's own repr


def test_an_array_sent_twice_is_one_buffer_and_comes_back_as_one_object():
    a, t = np.arange(3.0), wire.WireTensor(np.ones((2, 2), dtype=np.float32), "float32", "cpu")
    buffers, seen = [], {}
    nodes = [wire.encode(v, buffers, seen=seen) for v in (a, a, a.copy(), (t, t))]
    assert len(buffers) == 3 and nodes[0] == nodes[1] and nodes[2]["buf"] != nodes[0]["buf"]
    shared = {}
    back = [wire.decode(n, buffers, shared=shared) for n in nodes]
    assert back[0] is back[1] and back[2] is not back[0] and np.array_equal(back[2], a)
    assert back[3][0] is back[3][1] and isinstance(back[3][0], wire.WireTensor)
    # Without ``shared`` (the grader reading a child's reply) every node is a fresh copy.
    fresh = [wire.decode(n, buffers) for n in nodes[:2]]
    assert fresh[0] is not fresh[1]
    # The same buffer read as another dtype or shape is another object.
    other = dict(nodes[0], shape=[3, 1])
    assert wire.decode(other, buffers, shared=shared) is not back[0]


def test_long_strings_are_cut():
    assert len(through_frame("x" * 10_000)) == wire.MAX_STR


def array_node(**changes):
    node = {"t": "ndarray", "dtype": "float64", "shape": [2], "buf": 0}
    node.update(changes)
    return node


TWO_FLOATS = [np.zeros(2).tobytes()]

HOSTILE_VALUES = [
    ("object-dtype", array_node(dtype="object"), TWO_FLOATS),
    ("unicode-dtype", array_node(dtype="<U10"), TWO_FLOATS),
    ("byte-order-dtype", array_node(dtype=">f8"), TWO_FLOATS),
    ("buffer-too-short", array_node(shape=[3]), TWO_FLOATS),
    ("buffer-too-long", array_node(shape=[1]), TWO_FLOATS),
    ("huge-shape", array_node(shape=[2 ** 40, 2 ** 40]), TWO_FLOATS),
    ("negative-shape", array_node(shape=[-2]), TWO_FLOATS),
    ("bool-in-shape", array_node(shape=[True, 2]), TWO_FLOATS),
    ("float-in-shape", array_node(shape=[2.0]), TWO_FLOATS),
    ("too-many-dims", array_node(shape=[1] * 40), TWO_FLOATS),
    ("missing-buffer", array_node(buf=1), TWO_FLOATS),
    ("negative-buffer", array_node(buf=-1), TWO_FLOATS),
    ("tensor-bad-device", {**array_node(), "t": "tensor", "device": 5}, TWO_FLOATS),
    ("npscalar-bad-dtype", {"t": "npscalar", "dtype": "object", "v": "1"}, []),
    ("unknown-tag", {"t": "pickle", "v": "gASV"}, []),
    ("no-tag", {"v": 1}, []),
    ("not-a-mapping", ["t", "int"], []),
    ("bool-as-int", {"t": "int", "v": True}, []),
    ("float-not-text", {"t": "float", "v": 1.5}, []),
    ("list-not-a-list", {"t": "list", "v": "abc"}, []),
    ("expr-without-factory", {"t": "expr", "v": ["var", 0]}, []),
    ("ref-without-factory", {"t": "ref", "id": 1}, []),
]


@pytest.mark.parametrize("node, buffers", [c[1:] for c in HOSTILE_VALUES], ids=[c[0] for c in HOSTILE_VALUES])
def test_malformed_values_are_refused(node, buffers):
    with pytest.raises(wire.WireError):
        wire.decode(node, buffers)


def test_too_deep_values_are_refused():
    node = {"t": "int", "v": 1}
    for _ in range(wire.MAX_DEPTH + 2):
        node = {"t": "list", "v": [node]}
    with pytest.raises(wire.WireError):
        wire.decode(node, [])


@pytest.mark.parametrize("node", [{"t": "int", "v": "12x"}, {"t": "float", "v": "one"},
                                  {"t": "npscalar", "dtype": "int64", "v": "1.5"}], ids=repr)
def test_unreadable_numbers_are_refused(node):
    # ValueError is what int()/float() raise; the sandbox treats it like a WireError.
    with pytest.raises((wire.WireError, ValueError)):
        wire.decode(node, [])


def frame(head: bytes, count: int = 0, tail: bytes = b"") -> bytes:
    return struct.pack("<II", len(head), count) + head + tail


class CountingReader:
    """Fails the test if unpack asks for more than it was sent (it must not trust lengths)."""

    def __init__(self, data: bytes):
        self.read = reader(data)
        self.asked = 0

    def __call__(self, n):
        self.asked += n
        return self.read(n)


HOSTILE_FRAMES = [
    ("huge-header-length", struct.pack("<II", wire.MAX_MESSAGE_BYTES + 1, 0)),
    ("huge-buffer-count", struct.pack("<II", 2, 10 ** 9) + b"{}"),
    ("huge-buffer-length", frame(b"{}", 1, struct.pack("<Q", wire.MAX_MESSAGE_BYTES + 1))),
    # each length alone is allowed; together with the header they pass the limit by one byte
    ("buffers-add-up-too-large", frame(b"{}", 2, struct.pack("<Q", 4) + b"abcd"
                                       + struct.pack("<Q", wire.MAX_MESSAGE_BYTES - 5))),
    ("header-not-json", frame(b"{not json")),
    ("header-not-an-object", frame(b"[1, 2]")),
    ("header-not-utf8", frame(b'{"a": "\xff\xfe"}')),
]


@pytest.mark.parametrize("data", [c[1] for c in HOSTILE_FRAMES], ids=[c[0] for c in HOSTILE_FRAMES])
def test_hostile_frames_are_refused_without_reading_what_they_claim(data):
    read = CountingReader(data)
    with pytest.raises(wire.WireError):
        wire.unpack(read)
    assert read.asked <= len(data) + 8


def test_deeply_nested_header_is_refused_with_wire_error():
    # json's parser gives up with RecursionError; unpack must still say WireError.
    with pytest.raises(wire.WireError):
        wire.unpack(reader(frame(b"[" * 100_000 + b"]" * 100_000)))


def test_frames_carry_several_buffers_in_order():
    header, buffers = {"op": "call", "n": [1, 2]}, [b"", b"abc", bytes(range(256))]
    assert wire.unpack(reader(wire.pack(header, buffers))) == (header, buffers)
    with pytest.raises(EOFError):  # a frame cut short
        wire.unpack(reader(wire.pack(header, buffers)[:-1]))


# ============================================================================ expressions

x0 = ["var", 0]
LEAVES = st.one_of(st.just(x0), st.integers(-3, 3).map(lambda c: ["const", float(c)]),
                   st.sampled_from([0.5, -1.5, 2.25]).map(lambda c: ["const", c]))


def trees(variables=1):
    leaves = LEAVES if variables == 1 else st.one_of(
        LEAVES, st.integers(0, variables - 1).map(lambda i: ["var", i]))

    def extend(inner):
        return st.one_of(
            st.tuples(st.sampled_from(E.BINARY), inner, inner).map(list),
            st.tuples(st.sampled_from(["sin", "cos", "neg"]), inner).map(list),
            st.tuples(st.just("exp"), inner).map(lambda t: ["exp", ["mul", ["const", 0.25], t[1]]]),
            st.tuples(st.just("pow"), inner, st.integers(0, 3)).map(list),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def nodes(tree):
    yield tree
    for child in tree[1:]:
        if isinstance(child, list):
            yield from nodes(child)


def central(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@PROPERTY
@given(trees(), st.floats(-1.5, 1.5))
def test_exact_derivative_matches_a_finite_difference(tree, x):
    f = E.Function.scalar(tree)
    exact = float(f.derivative()(x))
    numeric = float(central(f, x))
    scale = 1.0 + abs(float(f(x))) + abs(exact)
    assert abs(exact - numeric) <= 1e-5 * scale, (f.text(), x, exact, numeric)


@PROPERTY
@given(S.sizes(1, 3).flatmap(lambda n: st.tuples(trees(variables=n), S.points(n, -1.5, 1.5))))
def test_exact_gradient_matches_finite_differences(case):
    tree, x = case
    f = E.Function.field(tree)
    grad = f.derivative()
    assert grad.kind == "vector"
    exact = grad(x) if f.arity() > 0 else np.zeros(0)
    for i in range(f.arity()):
        step = np.zeros_like(x)
        step[i] = 1e-6
        numeric = float((f(x + step) - f(x - step)) / 2e-6)
        assert abs(exact[i] - numeric) <= 1e-5 * (1 + abs(float(f(x))) + abs(exact[i])), (f.text(), i)


@PROPERTY
@given(S.scalar_functions(), S.point())
def test_the_graders_own_generated_functions_differentiate_exactly(f, x):
    exact = float(f.derivative()(x))
    assert abs(exact - float(central(f, x))) <= 1e-5 * (1 + abs(float(f(x))) + abs(exact))


def from_text(source: str):
    """Python source back into an expression tree (what a learner reading the text understands)."""

    def go(n):
        if isinstance(n, ast.Constant):
            return ["const", float(n.value)]
        if isinstance(n, ast.Name) and n.id == "x":
            return ["var", 0]
        if isinstance(n, ast.Subscript):
            return ["var", n.slice.value]
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return ["neg", go(n.operand)]
        if isinstance(n, ast.Call):
            return [n.func.id, go(n.args[0])]
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow):
            exponent = go(n.right)
            return ["pow", go(n.left), int(exponent[1]) if exponent[0] == "const" else exponent]
        ops = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul"}
        return [ops[type(n.op)], go(n.left), go(n.right)]

    return go(ast.parse(source, mode="eval").body)


def canonical(tree):
    """The same expression up to how + and * chains are grouped (a + (b - c) is a + b - c)."""
    op = tree[0]
    if op == "const" and tree[1] < 0:
        return canonical(["neg", ["const", -tree[1]]])
    if op in ("add", "sub", "neg"):
        terms = []

        def collect(t, sign):
            if t[0] == "const" and t[1] < 0:
                t = ["neg", ["const", -t[1]]]
            if t[0] == "add":
                collect(t[1], sign), collect(t[2], sign)
            elif t[0] == "sub":
                collect(t[1], sign), collect(t[2], -sign)
            elif t[0] == "neg":
                collect(t[1], -sign)
            else:
                terms.append((sign, canonical(t)))

        collect(tree, 1)
        return ("sum", tuple(terms))
    if op == "mul":
        factors = []

        def gather(t):
            if t[0] == "mul":
                gather(t[1]), gather(t[2])
            else:
                factors.append(canonical(t))

        gather(tree)
        return ("prod", tuple(factors))
    if op == "pow":
        return ("pow", canonical(tree[1]), tree[2])
    if op in ("sin", "cos", "exp"):
        return (op, canonical(tree[1]))
    return tuple(tree)


@PROPERTY
@given(trees(variables=3))
def test_text_shown_to_learners_means_the_same_expression(tree):
    for kind in ("scalar", "field"):
        text = E.to_text(tree, kind)
        if kind == "scalar":
            assert "[" not in text
        assert canonical(from_text(text)) == canonical(tree if kind == "field" else _only_x(tree)), text


def _only_x(tree):
    return ["var", 0] if tree[0] == "var" else [t if not isinstance(t, list) else _only_x(t) for t in tree]


@pytest.mark.parametrize("tree, text", [
    (["add", ["pow", x0, 2], ["mul", ["const", 3.0], x0]], "x**2 + 3*x"),
    (["sub", x0, ["sub", x0, ["const", 1.0]]], "x - (x - 1)"),
    (["mul", ["const", -2.0], ["sin", ["pow", x0, 2]]], "(-2)*sin(x**2)"),
    (["pow", ["neg", x0], 2], "(-x)**2"),
    (["neg", ["pow", x0, 2]], "-x**2"),
    (["mul", ["add", x0, ["const", 1.0]], ["exp", ["const", 0.5]]], "(x + 1)*exp(0.5)"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_text_examples(tree, text):
    assert E.to_text(tree) == text
    assert E.Function.scalar(tree).text() == f"lambda x: {text}"
    assert eval(text, {"x": 1.25, "sin": np.sin, "exp": np.exp}) == pytest.approx(E.evaluate(tree, [1.25]))


def test_field_and_vector_text():
    f = E.Function.field(["mul", ["var", 0], ["var", 1]])
    assert f.text() == "lambda x: x[0]*x[1]" and f.arity() == 2
    assert f.derivative().text() == "lambda x: np.array([x[1], x[0]])"


def test_power_of_a_power_is_parenthesised():
    tree = ["pow", ["pow", x0, 2], 3]  # ** is right-associative: x**2**3 would be x**8
    text = E.to_text(tree)
    assert text == "(x**2)**3"
    assert eval(text, {"x": 2.0}) == E.evaluate(tree, [2.0]) == 64.0


@pytest.mark.parametrize("payload", [
    None, {"kind": "scalar"}, {"kind": "matrix", "trees": [x0]}, {"kind": "scalar", "trees": []},
    {"kind": "scalar", "trees": [["log", x0]]}, {"kind": "scalar", "trees": [["const", "1"]]},
    {"kind": "scalar", "trees": [["const", True]]}, {"kind": "scalar", "trees": [["var", 64]]},
    {"kind": "scalar", "trees": [["var", -1]]}, {"kind": "scalar", "trees": [["pow", x0, 17]]},
    {"kind": "scalar", "trees": [["pow", x0, 2.5]]}, {"kind": "scalar", "trees": [["add", x0]]},
    {"kind": "scalar", "trees": [["sin", x0, x0]]}, {"kind": "scalar", "trees": [[]]},
    {"kind": "scalar", "trees": ["__import__('os')"]},
], ids=repr)
def test_malformed_functions_are_refused(payload):
    with pytest.raises(ValueError):
        E.validate(payload)


def test_huge_or_deep_functions_are_refused_before_recursing_into_them():
    deep = x0
    for _ in range(5000):
        deep = ["neg", deep]
    with pytest.raises(ValueError, match="malformed expression"):
        E.validate({"kind": "scalar", "trees": [deep]})


def test_rebuilt_function_is_a_plain_closure():
    f = E.as_plain_function(E.validate({"kind": "field", "trees": [["mul", ["var", 0], ["var", 1]]]}))
    assert f.__name__ == "f" and f(np.array([3.0, 4.0])) == 12.0
    assert not any(isinstance(c.cell_contents, E.Function) for c in f.__closure__ or ())


# ============================================================================ sandbox

SANDBOXED = """
    import os
    import sys
    import time


    def echo(value):
        return value

    def identities(*args, **kwargs):
        # Which arguments are the very same object as the first (an aliased call).
        values = list(args) + [kwargs[k] for k in sorted(kwargs)]
        return [v is values[0] for v in values[1:]]


    def boom(n):
        return [1, 2][n]


    def spin():
        while True:
            pass


    def facts():
        import resource
        return {"isolated": sys.flags.isolated, "cwd": os.getcwd(), "home": os.environ.get("HOME"),
                "env": sorted(os.environ), "stdin": sys.stdin is None or sys.stdin.read() == "",
                "group_leader": os.getpgid(0) == os.getpid(),
                "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
                "pid": os.getpid(), "token": os.environ.get("GRADE_SANDBOX_TOKEN")}


    def start_sleeper(seconds):
        import subprocess
        try:
            return subprocess.Popen(["sleep", str(seconds)]).pid
        except PermissionError:
            pass
        # The guard refuses that. Defence in depth: a process started *around* the guard
        # (here CPython's low-level call, 3.11's signature) must not outlive the learner.
        try:
            import _posixsubprocess
            exe = b"/bin/sleep" if os.path.exists("/bin/sleep") else b"/usr/bin/sleep"
            r, w = os.pipe()
            return _posixsubprocess.fork_exec(
                [exe, str(seconds).encode()], [exe], True, (), None, None, -1, -1, -1, -1, -1, -1,
                r, w, True, False, -1, None, None, -1, -1, None, False)
        except BaseException as refused:
            return "refused: " + repr(refused)


    def start_sleeper_then_spin(seconds):
        started = start_sleeper(seconds)
        while True:
            time.sleep(0.01)
"""


@pytest.fixture
def learner(tmp_path):
    path = tmp_path / "sandboxed.py"
    path.write_text(textwrap.dedent(SANDBOXED))
    process = LearnerProcess("sandboxed", str(path), Limits(call_timeout=5.0, cpu_seconds=30))
    assert process.start() is None
    yield process
    process.close()


def sleepers(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read() and not gone(int(pid)):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_ping_and_calls(learner):
    assert 0 < learner.ping() < 1.0
    reply = learner.call("echo", [[np.arange(3.0), {"k": (1, "two")}]])
    assert reply.status == "ok"
    value = reply.value
    assert np.array_equal(value[0], np.arange(3.0)) and value[1] == {"k": (1, "two")}
    raised = learner.call("boom", [5])
    assert raised.status == "raised" and raised.error["type"] == "IndexError"
    lines = textwrap.dedent(SANDBOXED).splitlines()
    assert raised.error["line"] == 1 + lines.index("    return [1, 2][n]")
    assert raised.error["text"].strip() == "return [1, 2][n]"
    missing = learner.call("nothing_here", [])
    assert missing.status == "raised" and missing.error.get("missing")


def test_an_aliased_call_reaches_the_child_aliased(learner):
    a = np.arange(4.0)
    assert learner.call("identities", [a, a, a.copy()]).value == [True, False]
    assert learner.call("identities", [a], {"b": a}).value == [True]
    handles = learner.store([a, a]).value  # kept values stay aliased as well
    assert learner.call("identities", [wire.Handle(handles[0], "ndarray"), wire.Handle(handles[1], "ndarray")]
                        ).value == [True]


def test_child_is_isolated(learner, monkeypatch):
    facts = learner.call("facts").value
    assert facts["isolated"] == 1 and facts["stdin"]
    # Its own process group, or a PID namespace of its own (ended as a whole).
    assert facts["group_leader"] or learner.sandbox == "namespaces"
    assert facts["home"] == facts["cwd"] and facts["cwd"] != os.getcwd()
    assert facts["cpu"] == 30
    assert not any(k.startswith(("PYTHON", "GITHUB", "AWS")) and k not in ("PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE")
                   for k in facts["env"]), facts["env"]


def test_secrets_in_the_environment_do_not_reach_the_child(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET_TOKEN", "s3cret")
    path = tmp_path / "sandboxed.py"
    path.write_text(textwrap.dedent(SANDBOXED))
    with LearnerProcess("sandboxed", str(path), Limits(call_timeout=5.0)) as process:
        assert process.start() is None
        assert "GRADER_TEST_SECRET_TOKEN" not in process.call("facts").value["env"]


def carrying(token: str) -> list[int]:
    """Live processes started with this learner process's token (host pids, any namespace)."""
    needle = f"GRADE_SANDBOX_TOKEN={token}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read() and not gone(int(pid)):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_timeout_kills_the_child_and_the_next_call_starts_a_fresh_one(learner):
    facts = learner.call("facts").value
    first = facts["token"]
    assert carrying(first), "the child is found by its token"
    started = time.monotonic()
    with pytest.raises(ProcessGone) as stopped:
        learner.call("spin", timeout=0.5)
    assert stopped.value.reason == "timeout" and stopped.value.message == "took longer than 0.5 s"
    assert 0.5 <= time.monotonic() - started < 5.0
    assert wait_until(lambda: not carrying(first)), "the hung child must be killed"
    assert not learner.alive
    assert learner.call("facts").value["token"] != first  # restarted, module imported again
    assert learner.starts == 2


@pytest.mark.parametrize("hang", [False, True], ids=["close", "timeout"])
def test_no_grandchild_outlives_the_child(learner, hang):
    marker = f"{4000 + hang}.{os.getpid()}"  # a sleep no one else runs
    if hang:
        with pytest.raises(ProcessGone):
            learner.call("start_sleeper_then_spin", [marker], timeout=1.0)
    else:
        outcome = learner.call("start_sleeper", [marker]).value
        assert isinstance(outcome, int) or outcome.startswith("refused: ")
        if isinstance(outcome, int):
            assert wait_until(lambda: len(sleepers(marker)) == 1)  # it did start
        learner.close()
    # Whatever the learner managed to start is gone with it.
    assert wait_until(lambda: not sleepers(marker)), f"sleep {marker} survived its learner process"


def test_import_that_hangs_is_stopped(tmp_path):
    path = tmp_path / "stuck.py"
    path.write_text("while True:\n    pass\n")
    started = time.monotonic()
    with LearnerProcess("stuck", str(path), Limits(call_timeout=0.5)) as process:
        with pytest.raises(ProcessGone) as stopped:
            process.start()
        assert stopped.value.reason == "timeout"
    assert time.monotonic() - started < 5.0
