"""The wire format between the grader and the child process that runs learner code.

A message is a JSON header plus raw binary buffers (array data). Nothing is ever pickled:
the grader decodes only numbers, strings, lists, dicts, and arrays rebuilt from raw bytes
with an explicit dtype and shape, so a hostile child can send wrong data but never code.

Frame layout (all integers little-endian)::

    u32 header_length | u32 buffer_count | header (UTF-8 JSON) | (u64 length | bytes) * buffer_count

Value encoding (the ``"t"`` tag of each JSON node):

    none, bool, int, float (repr string, so nan/inf survive), str, list, tuple, dict,
    ndarray {dtype, shape, buf}, npscalar {dtype, v}, tensor {dtype, shape, device, buf},
    expr {v: expression tree, see grader.expressions}, opaque {type, repr} (anything else).

Aliasing: an array or tensor met twice in one message (``dot(a, a)``) is sent once; both
nodes name the same buffer. A decoder given a ``shared`` dict rebuilds it as one object again,
so a learner's function sees exactly the aliasing its caller made.

This module is imported by the child too, by file path, so it must depend on the
standard library and NumPy only (torch is imported lazily, and only if already loaded).
"""
from __future__ import annotations

import json
import math
import struct
import sys

import numpy as np

# Bounds checked before anything is read: a forged length costs the grader nothing.
MAX_HEADER_BYTES = 8 << 20  # 8 MiB of JSON (values are small; arrays travel as raw buffers)
MAX_MESSAGE_BYTES = 256 << 20  # 256 MiB for one whole message, buffers included
MAX_STR = 2000  # strings and reprs coming back are cut to this length
MAX_DEPTH = 32

_ALLOWED_DTYPES = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
}


class WireError(Exception):
    """A message that does not follow the wire format."""


class WireTensor:
    """A torch tensor as it crossed the wire: its values as NumPy, its dtype and device.

    The grader compares values with NumPy and checks ``dtype``/``device`` separately, so it
    never needs the learner's tensor object itself.
    """

    def __init__(self, array: np.ndarray, dtype: str, device: str):
        self.array = array
        self.dtype = dtype  # torch dtype name without the "torch." prefix, e.g. "float32"
        self.device = device  # e.g. "cpu", "cuda:0"

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"WireTensor({self.array!r}, dtype={self.dtype}, device={self.device})"


class Opaque:
    """Something the child could not encode (a learner's own object, a generator, ...)."""

    def __init__(self, type_name: str, text: str):
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return self.text


class Handle:
    """An object that stays in the child (e.g. the learner's model), named by an id."""

    def __init__(self, id: int, type_name: str):
        self.id = id
        self.type_name = type_name

    def ref(self) -> dict:
        return {"t": "ref", "id": self.id}

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


# --------------------------------------------------------------------------- encoding


def encode(value, buffers: list, depth: int = 0, expr_to_tree=None, seen: dict | None = None):
    """Turn ``value`` into a JSON-able tree, appending array bytes to ``buffers``.

    ``seen`` (one dict for every value of a message) sends an array or tensor that was
    already sent as the same buffer again, which keeps ``f(a, a)`` an aliased call.
    """
    if depth > MAX_DEPTH:
        return {"t": "opaque", "type": "nested", "repr": "(nested too deeply)"}
    # Exact type checks: a subclass of float or list may override anything, so it is
    # reduced to its base value by the base class's own methods.
    t = type(value)
    if value is None:
        return {"t": "none"}
    if t is bool:
        return {"t": "bool", "v": value}
    if t is int:
        return {"t": "int", "v": value if abs(value) < (1 << 63) else str(value)}
    if t is float:
        return {"t": "float", "v": float.__repr__(value)}
    if t is str:
        return {"t": "str", "v": value[:MAX_STR]}
    if t is list or t is tuple:
        return {"t": "list" if t is list else "tuple",
                "v": [encode(v, buffers, depth + 1, expr_to_tree, seen) for v in value]}
    if t is dict:
        return {"t": "dict", "v": {str(k)[:MAX_STR]: encode(v, buffers, depth + 1, expr_to_tree, seen)
                                   for k, v in value.items()}}
    if seen is not None and id(value) in seen:
        return dict(seen[id(value)][1])
    node = _encode_object(value, buffers, expr_to_tree)
    if seen is not None and node.get("t") in ("ndarray", "tensor"):
        seen[id(value)] = (value, node)  # the value is kept so that its id is not reused
    return node


def _encode_object(value, buffers: list, expr_to_tree):
    t = type(value)
    if t is np.ndarray:
        return _encode_array(value, buffers)
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return {"t": "npscalar", "dtype": value.dtype.name, "v": repr(value.item())}
    # getattr: the grader may be importing torch on another thread (grading._import_meanwhile),
    # and a module half imported has no Tensor yet; the grader's own tensors are WireTensors.
    torch = sys.modules.get("torch")
    if torch is not None and type(value) is getattr(torch, "Tensor", None):
        return _encode_tensor(value, buffers, torch)
    if isinstance(value, Handle):
        return value.ref()
    if isinstance(value, WireTensor):  # the grader sends tensors without importing torch
        node = _encode_array(value.array, buffers)
        node.update(t="tensor", dtype=value.dtype, device=value.device)
        return node
    if expr_to_tree is not None:
        tree = expr_to_tree(value)
        if tree is not None:
            return {"t": "expr", "v": tree}
    return {"t": "opaque", "type": _type_name(value), "repr": _safe_repr(value)}


def _encode_array(a: np.ndarray, buffers: list) -> dict:
    if a.dtype.name not in _ALLOWED_DTYPES:
        return {"t": "opaque", "type": f"ndarray[{a.dtype.name}]", "repr": _safe_repr(a)}
    data = np.ascontiguousarray(a)
    buffers.append(data.tobytes())
    return {"t": "ndarray", "dtype": a.dtype.name, "shape": list(a.shape), "buf": len(buffers) - 1}


def _encode_tensor(x, buffers: list, torch) -> dict:
    dtype = str(x.dtype).replace("torch.", "")
    try:
        arr = x.detach().to("cpu").contiguous().numpy()
    except Exception:  # e.g. bfloat16 has no NumPy dtype
        return {"t": "opaque", "type": f"Tensor[{dtype}]", "repr": _safe_repr(x)}
    node = _encode_array(arr, buffers)
    if node["t"] != "ndarray":
        return node
    node.update(t="tensor", dtype=dtype, device=str(x.device))
    return node


def _type_name(value) -> str:
    try:
        t = type(value)
        return f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__
    except Exception:
        return "object"


def _safe_repr(value) -> str:
    try:
        text = repr(value)
        if type(text) is not str:
            raise TypeError
    except BaseException:
        text = f"<{_type_name(value)} object>"
    return text[:MAX_STR]


# --------------------------------------------------------------------------- decoding


def decode(node, buffers: list, depth: int = 0, tensor_factory=None, expr_factory=None,
           ref_factory=None, shared: dict | None = None):
    """Inverse of :func:`encode`, validating everything (the sender may be hostile).

    ``tensor_factory(array, dtype, device)`` builds tensors (the child makes real torch
    tensors; the grader keeps :class:`WireTensor`). ``expr_factory(tree)`` rebuilds
    functions sent as data. ``ref_factory(id)`` (child only) looks up a kept object.
    ``shared`` (one dict for every value of a message) rebuilds nodes that name the same
    buffer as one object; without it every node is a fresh copy (what the grader wants
    from a child, whose aliasing it never needs and should not trust).
    """
    kw = dict(tensor_factory=tensor_factory, expr_factory=expr_factory, ref_factory=ref_factory,
              shared=shared)
    if depth > MAX_DEPTH or not isinstance(node, dict):
        raise WireError("malformed value")
    tag = node.get("t")
    if tag == "none":
        return None
    if tag == "bool":
        return _want(node.get("v"), bool)
    if tag == "int":
        v = node.get("v")
        if isinstance(v, str) and len(v) < 400:
            return int(v)
        return _want(v, int)
    if tag == "float":
        return float(_want(node.get("v"), str)[:64])
    if tag == "str":
        return _want(node.get("v"), str)[:MAX_STR]
    if tag in ("list", "tuple"):
        items = [decode(v, buffers, depth + 1, **kw)
                 for v in _want(node.get("v"), list)]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        return {str(k): decode(v, buffers, depth + 1, **kw)
                for k, v in _want(node.get("v"), dict).items()}
    if tag in ("ndarray", "tensor"):
        key = None
        if shared is not None:
            # The whole node is the key: the same buffer read as another dtype, shape or
            # device is another object.
            key = json.dumps(node, sort_keys=True)
            if key in shared:
                return shared[key]
        value = _decode_array(node, buffers)
        if tag == "tensor":
            dtype = _want(node.get("dtype"), str)
            device = _want(node.get("device"), str)[:64]
            value = WireTensor(value, dtype, device) if tensor_factory is None else \
                tensor_factory(value, dtype, device)
        if key is not None:
            shared[key] = value
        return value
    if tag == "npscalar":
        dtype = _want(node.get("dtype"), str)
        if dtype not in _ALLOWED_DTYPES:
            raise WireError("bad dtype")
        text = _want(node.get("v"), str)[:64]
        if dtype == "bool":
            return np.bool_(text == "True")
        if dtype.startswith("complex"):
            return np.dtype(dtype).type(complex(text))
        if dtype.startswith(("int", "uint")):
            return np.dtype(dtype).type(int(text))
        return np.dtype(dtype).type(float(text))
    if tag == "expr":
        if expr_factory is None:
            raise WireError("unexpected function value")
        return expr_factory(node.get("v"))
    if tag == "ref":
        if ref_factory is None:
            raise WireError("unexpected object reference")
        return ref_factory(_want(node.get("id"), int))
    if tag == "handle":
        return Handle(_want(node.get("id"), int), str(node.get("type"))[:200])
    if tag == "opaque":
        return Opaque(str(node.get("type"))[:200], str(node.get("repr"))[:MAX_STR])
    raise WireError(f"unknown value tag {tag!r}")


def _want(v, typ):
    if type(v) is not typ:
        raise WireError(f"expected {typ.__name__}")
    return v


def _decode_array(node: dict, buffers: list) -> np.ndarray:
    dtype = _want(node.get("dtype"), str)
    if dtype not in _ALLOWED_DTYPES:
        raise WireError(f"dtype {dtype!r} not allowed")
    shape = tuple(_want(s, int) for s in _want(node.get("shape"), list))
    if any(s < 0 for s in shape) or len(shape) > 32:
        raise WireError("bad shape")
    index = _want(node.get("buf"), int)
    if not 0 <= index < len(buffers):
        raise WireError("bad buffer index")
    raw = buffers[index]
    expected = math.prod(shape) * np.dtype(dtype).itemsize
    if len(raw) != expected:
        raise WireError("buffer size does not match shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


# --------------------------------------------------------------------------- framing


def pack(header: dict, buffers: list) -> bytes:
    head = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack("<II", len(head), len(buffers)), head]
    for b in buffers:
        parts.append(struct.pack("<Q", len(b)))
        parts.append(b)
    return b"".join(parts)


def unpack(read_exactly) -> tuple[dict, list]:
    """Read one frame with ``read_exactly(n) -> bytes`` (which raises EOFError at the end)."""
    head_len, count = struct.unpack("<II", read_exactly(8))
    if head_len > MAX_HEADER_BYTES or count > 100_000:
        raise WireError(f"a message header of {head_len} bytes, more than the {MAX_HEADER_BYTES >> 20} MiB allowed")
    try:
        header = json.loads(read_exactly(head_len))
    except (ValueError, RecursionError) as e:  # RecursionError: nested past the parser's depth
        raise WireError("header is not JSON") from e
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    buffers, total = [], head_len
    for _ in range(count):
        (n,) = struct.unpack("<Q", read_exactly(8))
        total += n
        if total > MAX_MESSAGE_BYTES:
            raise WireError(f"a message of more than the {MAX_MESSAGE_BYTES >> 20} MiB allowed")
        buffers.append(read_exactly(n))
    return header, buffers


def unpack_from(data) -> tuple[dict, list, int]:
    """Read one frame from the start of ``data`` (bytes or bytearray): ``(header, buffers,
    bytes used)``. Raises EOFError while ``data`` holds less than one whole frame."""
    view, position = memoryview(data), 0

    def read_exactly(n):
        nonlocal position
        if position + n > len(view):
            raise EOFError
        chunk = bytes(view[position:position + n])
        position += n
        return chunk

    try:
        header, buffers = unpack(read_exactly)
    finally:
        view.release()  # a bytearray can be resized again (the caller drops what was used)
    return header, buffers, position
