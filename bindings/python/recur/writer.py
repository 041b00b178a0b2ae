"""Writing .recur files: layers in the canonical (PyTorch) gate order, a
protobuf recur.Model, compressed as one LZ4 frame with content size and
checksum (see docs/format.md)."""
import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import lz4.frame
import numpy as np

from . import recur_pb2 as pb

# The newest format version this writer knows. Each file gets the oldest
# version that computes it correctly (docs/format.md, "Versions"): 1; 2
# when an LSTM uses full peephole matrices or output_peephole_previous; 3
# when the model has an attention layer; 4 with BFLOAT16 or INT8 weights.
FORMAT_VERSION = 4

# What `weights=` may ask for (docs/quantization.md): the element type of
# every weight matrix in the file. Biases, peepholes, layer norms, initial
# states and attention's v stay float32.
WEIGHT_TYPES = ("fp32", "bf16", "int8")
# The weight matrices of each layer kind, by field name.
_WEIGHT_FIELDS = {"lstm": ("weight_ih", "weight_hh", "weight_proj", "peephole_matrix"),
                  "gru": ("weight_ih", "weight_hh"), "rnn": ("weight_ih", "weight_hh"),
                  "dense": ("weight",), "embedding": ("weight",),
                  "attention": ("weight", "weight_query", "weight_memory")}


def bfloat16(a):
    """float32 values rounded to the nearest bfloat16 (ties to even), as
    the uint16 high halves. NaN stays NaN; values past bfloat16's largest
    finite one become infinities, as rounding says."""
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(a, dtype=np.float32))
    return np.where(nan, (bits >> 16) | 0x40, rounded).astype("<u2")


def int8(a):
    """Symmetric int8 with one scale per row: (q, scales), a ≈ q * scales[:, None],
    q in [-127, 127], scale = max |row| / 127 (1 for a row of zeros)."""
    a = np.asarray(a, dtype=np.float32)
    peak = np.abs(a).max(axis=1) if a.size else np.zeros(a.shape[0], np.float32)
    scales = np.where(peak > 0, peak / 127, 1).astype(np.float32)
    q = np.clip(np.rint(a / scales[:, None]), -127, 127).astype(np.int8)
    return q, scales


def quantize(model, weights):
    """Stores every weight matrix of a recur.Model message as `weights`
    ("bf16" or "int8"; "fp32" leaves it), and raises its format version to 4."""
    if weights not in WEIGHT_TYPES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_TYPES)}, not {weights!r}")
    if weights == "fp32":
        return model
    for layer in model.layers:
        kind = layer.WhichOneof("kind")
        cells = [getattr(layer, kind)]
        if layer.WhichOneof("backward"):
            cells.append(getattr(layer, layer.WhichOneof("backward")))
        for cell in cells:
            for name in _WEIGHT_FIELDS.get(kind, ()):
                if not cell.HasField(name):
                    continue
                t = getattr(cell, name)
                a = np.frombuffer(t.data, dtype="<f4").reshape(tuple(t.shape))
                if weights == "bf16":
                    t.data, t.dtype = bfloat16(a).tobytes(), pb.BFLOAT16
                else:
                    q, scales = int8(a)
                    t.data, t.dtype = q.tobytes(), pb.INT8
                    t.scales.extend(scales.tolist())
    model.format_version = max(model.format_version, 4)
    return model

# Function names and ONNX's default (alpha, beta) for each.
FUNCTIONS = {
    "identity": (pb.IDENTITY, 0.0, 0.0), "sigmoid": (pb.SIGMOID, 0.0, 0.0), "tanh": (pb.TANH, 0.0, 0.0),
    "relu": (pb.RELU, 0.0, 0.0), "affine": (pb.AFFINE, 1.0, 0.0), "leaky_relu": (pb.LEAKY_RELU, 0.01, 0.0),
    "thresholded_relu": (pb.THRESHOLDED_RELU, 1.0, 0.0), "scaled_tanh": (pb.SCALED_TANH, 1.0, 1.0),
    "hard_sigmoid": (pb.HARD_SIGMOID, 0.2, 0.5), "elu": (pb.ELU, 1.0, 0.0), "softsign": (pb.SOFTSIGN, 0.0, 0.0),
    "softplus": (pb.SOFTPLUS, 0.0, 0.0),
}
COUPLINGS = {"none": pb.UNCOUPLED, "input_from_forget": pb.INPUT_FROM_FORGET, "forget_from_input": pb.FORGET_FROM_INPUT}
DIRECTIONS = {"forward": pb.FORWARD, "reverse": pb.REVERSE, "bidirectional": pb.BIDIRECTIONAL}


@dataclass
class Function:
    """A pointwise function: a name from FUNCTIONS and its parameters
    (None: ONNX's default for that function)."""
    kind: str
    alpha: Optional[float] = None
    beta: Optional[float] = None

    def fill(self, message):
        name = self.kind.lower() if self.kind else "identity"
        if name == "linear":
            name = "identity"
        if name not in FUNCTIONS:
            raise ValueError(f"unknown function {self.kind!r}; known: {', '.join(FUNCTIONS)}")
        kind, alpha, beta = FUNCTIONS[name]
        message.kind = kind
        message.alpha = alpha if self.alpha is None else float(self.alpha)
        message.beta = beta if self.beta is None else float(self.beta)


def function(f):
    """A Function from a Function, a name, or (name, alpha[, beta])."""
    if f is None or isinstance(f, Function):
        return f
    if isinstance(f, str):
        return Function(f)
    return Function(*f)


def _matrix(a, rows, cols, what):
    m = np.asarray(a, dtype=np.float32)
    if m.shape != (rows, cols):
        raise ValueError(f"{what} has shape {m.shape}, expected ({rows}, {cols})")
    return m


def _vector(a, size, what):
    v = np.asarray(a, dtype=np.float32).reshape(-1)
    if v.shape != (size,):
        raise ValueError(f"{what} has {v.size} values, expected {size}")
    return v


@dataclass
class LSTM:
    """An LSTM layer in PyTorch's layout, rows i, f, g, o:
    weight_ih (4H, I), weight_hh (4H, R) with R = proj size or H, biases (4H) or None.
    Options (docs/cells/lstm.md): peephole (3, H) rows i, f, o; coupling
    'none' | 'input_from_forget' (i = 1 - f) | 'forget_from_input' (f = 1 - i);
    clip (gate pre-activations); cell_clip; weight_proj (P, H), bias_proj (P),
    proj_clip; layer_norm (4, H); f, g, h functions; initial_h (R), initial_c (H);
    direction 'forward' | 'reverse' | 'bidirectional' (then `backward` is
    another LSTM with the backward weights).
    Format version 2 (the survey's §5.1): peephole_matrix (3H, H), the full
    matrices U_i, U_f, U_o on the cell state; output_peephole_previous=True
    makes the output gate's peepholes read c(t-1) instead of c(t)."""
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: Optional[np.ndarray] = None
    bias_hh: Optional[np.ndarray] = None
    name: str = ""
    peephole: Optional[np.ndarray] = None
    coupling: str = "none"
    clip: float = 0.0
    cell_clip: float = 0.0
    weight_proj: Optional[np.ndarray] = None
    bias_proj: Optional[np.ndarray] = None
    proj_clip: float = 0.0
    layer_norm: Optional[np.ndarray] = None
    f: object = None
    g: object = None
    h: object = None
    initial_h: Optional[np.ndarray] = None
    initial_c: Optional[np.ndarray] = None
    direction: str = "forward"
    backward: object = None
    peephole_matrix: Optional[np.ndarray] = None
    output_peephole_previous: bool = False
    gates = 4
    kind = "lstm"

    @property
    def format_version(self):
        """The oldest format version that computes this layer."""
        mine = 2 if self.peephole_matrix is not None or self.output_peephole_previous else 1
        return max(mine, self.backward.format_version if self.backward is not None else 1)

    @property
    def hidden_size(self):
        return np.shape(self.weight_ih)[0] // self.gates

    @property
    def input_size(self):
        return np.shape(self.weight_ih)[1]

    @property
    def cell_output_size(self):
        return np.shape(self.weight_proj)[0] if self.weight_proj is not None else self.hidden_size

    @property
    def output_size(self):
        return self.cell_output_size * (2 if self.direction == "bidirectional" else 1)

    def fill_cell(self, m):
        h, i, rows, r = self.hidden_size, self.input_size, self.gates * self.hidden_size, self.cell_output_size
        m.input_size, m.hidden_size = i, h
        m.weight_ih.CopyFrom(_tensor(_matrix(self.weight_ih, rows, i, "weight_ih")))
        m.weight_hh.CopyFrom(_tensor(_matrix(self.weight_hh, rows, r, "weight_hh")))
        for name in ("bias_ih", "bias_hh"):
            if getattr(self, name) is not None:
                getattr(m, name).CopyFrom(_tensor(_vector(getattr(self, name), rows, name)))
        if getattr(self, "initial_h", None) is not None:
            m.initial_h.CopyFrom(_tensor(_vector(self.initial_h, r, "initial_h")))
        if self.clip:
            m.clip = self.clip
        for name in ("f", "g", "h"):
            fn = function(getattr(self, name, None))
            if fn is not None and hasattr(m, name):
                fn.fill(getattr(m, name))
        self.fill_options(m)

    def fill_options(self, m):
        h = self.hidden_size
        if self.peephole is not None:
            m.peephole.CopyFrom(_tensor(_matrix(self.peephole, 3, h, "peephole")))
        if self.coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling {self.coupling!r}")
        m.coupling = COUPLINGS[self.coupling]
        m.cell_clip = self.cell_clip
        if self.weight_proj is not None:
            p = self.cell_output_size
            m.proj_size = p
            m.weight_proj.CopyFrom(_tensor(_matrix(self.weight_proj, p, h, "weight_proj")))
            if self.bias_proj is not None:
                m.bias_proj.CopyFrom(_tensor(_vector(self.bias_proj, p, "bias_proj")))
            m.proj_clip = self.proj_clip
        if self.layer_norm is not None:
            m.layer_norm.CopyFrom(_tensor(_matrix(self.layer_norm, 4, h, "layer_norm")))
        if self.initial_c is not None:
            m.initial_c.CopyFrom(_tensor(_vector(self.initial_c, h, "initial_c")))
        if self.peephole_matrix is not None:
            m.peephole_matrix.CopyFrom(_tensor(_matrix(self.peephole_matrix, 3 * h, h, "peephole_matrix")))
        m.output_peephole_previous = bool(self.output_peephole_previous)


def _only_lstm(layer):
    lstm_only = {"peephole": None, "weight_proj": None, "bias_proj": None, "layer_norm": None,
                 "initial_c": None, "coupling": "none", "cell_clip": 0.0, "proj_clip": 0.0, "h": None,
                 "peephole_matrix": None, "output_peephole_previous": False}
    for name, default in lstm_only.items():
        if getattr(layer, name) != default if not isinstance(default, type(None)) else getattr(layer, name) is not None:
            raise ValueError(f"{name} is an LSTM option; a {layer.kind.upper()} has none")


@dataclass
class GRU(LSTM):
    """A GRU layer in PyTorch's layout, rows r, z, n: weight_ih (3H, I),
    weight_hh (3H, H), biases (3H) or None. reset_before_matmul=True gives
    ONNX's linear_before_reset=0 / Keras's reset_after=False. Options: clip,
    f, g, initial_h, direction, backward (docs/cells/gru.md).

    update="candidate" takes the survey's update (§5.2),
    h' = (1 - z) h + z n, where z weights the candidate, instead of
    PyTorch's h' = (1 - z) n + z h: since sigmoid(-a) = 1 - sigmoid(a), the
    z rows of both weights and both biases are negated in the file, which
    then holds an ordinary GRU. It needs a gate function symmetric about 1/2
    (sigmoid, or hard_sigmoid with beta 0.5). The survey's candidate
    tanh(W [r * h, x] + b) is reset_before_matmul=True."""
    reset_before_matmul: bool = False
    update: str = "previous"
    gates = 3
    kind = "gru"

    def fill_cell(self, m):
        if self.update == "previous":
            return super().fill_cell(m)
        if self.update != "candidate":
            raise ValueError(f"update must be 'previous' or 'candidate', not {self.update!r}")
        f = function(self.f)
        if f is not None and not (f.kind == "sigmoid" or (f.kind == "hard_sigmoid" and f.beta in (None, 0.5))):
            raise ValueError(f"update='candidate' negates z, which needs f symmetric about 1/2 (sigmoid, or "
                             f"hard_sigmoid with beta 0.5), not {f.kind}")
        h = self.hidden_size

        def negated(a):
            if a is None:
                return None
            a = np.array(a, dtype=np.float64)
            a[h:2 * h] = -a[h:2 * h]
            return a
        folded = dataclasses.replace(self, weight_ih=negated(self.weight_ih), weight_hh=negated(self.weight_hh),
                                     bias_ih=negated(self.bias_ih), bias_hh=negated(self.bias_hh), update="previous",
                                     backward=None)
        folded.fill_cell(m)

    def fill_options(self, m):
        _only_lstm(self)
        m.reset_before_matmul = bool(self.reset_before_matmul)


@dataclass
class RNN(LSTM):
    """A plain recurrent layer h' = f(W x + b_ih + R h + b_hh): weight_ih (H, I),
    weight_hh (H, H). Options: clip, f (default tanh), initial_h, direction,
    backward (docs/cells/rnn.md)."""
    gates = 1
    kind = "rnn"

    def fill_options(self, m):
        _only_lstm(self)
        if self.g is not None:
            raise ValueError("an RNN has one function, f")


@dataclass
class Dense:
    """y = activation(weight @ x + bias); weight (O, I), bias (O) or None.
    activation: a function name (FUNCTIONS), alpha/beta its parameters."""
    weight: np.ndarray
    bias: Optional[np.ndarray] = None
    activation: Optional[str] = "identity"
    name: str = ""
    alpha: Optional[float] = None
    beta: Optional[float] = None

    @property
    def input_size(self):
        return np.shape(self.weight)[1]

    @property
    def output_size(self):
        return np.shape(self.weight)[0]


@dataclass
class Embedding:
    """Token in, row `token` of weight (V, D) out. First layer only."""
    weight: np.ndarray
    name: str = ""
    input_size = 1

    @property
    def output_size(self):
        return np.shape(self.weight)[1]


@dataclass
class Softmax:
    """Softmax over the whole vector of `size` floats."""
    size: int
    name: str = ""

    @property
    def input_size(self):
        return self.size

    output_size = input_size


SCORES = {"dot": pb.DOT, "general": pb.GENERAL, "additive": pb.ADDITIVE}


@dataclass
class Attention:
    """Attention over a memory that each stream sets (Stream.set_memory):
    for input q (query_size floats) and memory rows m_i (memory_size floats),
    s_i = scale * score(q, m_i), a = softmax(s), output [sum_i a_i m_i, q].

    score "dot": q . m_i (query_size == memory_size); "general": q . (weight
    @ m_i), weight (query_size, memory_size); "additive": v . tanh(weight_query
    @ q + weight_memory @ m_i + bias), weight_query (units, query_size),
    weight_memory (units, memory_size), bias (units) or None, v (units).
    scale None means 1 (for scaled dot-product attention, 1/sqrt(size)).
    docs/cells/attention.md."""
    score: str
    query_size: int
    memory_size: int
    weight: Optional[np.ndarray] = None
    weight_query: Optional[np.ndarray] = None
    weight_memory: Optional[np.ndarray] = None
    bias: Optional[np.ndarray] = None
    v: Optional[np.ndarray] = None
    scale: Optional[float] = None
    name: str = ""
    format_version = 3

    @property
    def input_size(self):
        return self.query_size

    @property
    def output_size(self):
        return self.memory_size + self.query_size

    def fill(self, a):
        if self.score not in SCORES:
            raise ValueError(f"Attention: unknown score {self.score!r}; one of {', '.join(SCORES)}")
        a.query_size, a.memory_size, a.score = self.query_size, self.memory_size, SCORES[self.score]
        if self.scale is not None:
            if not np.isfinite(self.scale) or self.scale <= 0:
                raise ValueError(f"Attention: scale must be finite and > 0, not {self.scale}")
            a.scale = self.scale
        given = {k for k in ("weight", "weight_query", "weight_memory", "bias", "v") if getattr(self, k) is not None}
        needs = {"dot": set(), "general": {"weight"}, "additive": {"weight_query", "weight_memory", "v"}}[self.score]
        allowed = needs | ({"bias"} if self.score == "additive" else set())
        if needs - given or given - allowed:
            missing, extra = sorted(needs - given), sorted(given - allowed)
            raise ValueError(f"Attention({self.score!r}): " + "; ".join(
                [f"needs {', '.join(missing)}"] * bool(missing) + [f"has no {', '.join(extra)}"] * bool(extra)))
        if self.score == "dot" and self.query_size != self.memory_size:
            raise ValueError(f"Attention('dot'): query_size {self.query_size} must equal memory_size {self.memory_size}")
        if self.score == "general":
            a.weight.CopyFrom(_tensor(_matrix(self.weight, self.query_size, self.memory_size, "weight")))
        if self.score == "additive":
            units = np.shape(self.v)[0]
            a.units = units
            a.weight_query.CopyFrom(_tensor(_matrix(self.weight_query, units, self.query_size, "weight_query")))
            a.weight_memory.CopyFrom(_tensor(_matrix(self.weight_memory, units, self.memory_size, "weight_memory")))
            a.v.CopyFrom(_tensor(_vector(self.v, units, "v")))
            if self.bias is not None:
                a.bias.CopyFrom(_tensor(_vector(self.bias, units, "bias")))


def _tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return pb.Tensor(shape=list(a.shape), dtype=pb.FLOAT32, data=a.tobytes())


def to_message(layers, producer="recur-python", metadata=None, weights="fp32"):
    """The recur.Model protobuf message for `layers`, its weight matrices
    stored as `weights` ("fp32", "bf16" or "int8": docs/quantization.md)."""
    layers = list(layers)
    if not layers:
        raise ValueError("a model needs at least one layer")
    version = max(getattr(layer, "format_version", 1) for layer in layers)
    model = pb.Model(format_version=version, input_size=layers[0].input_size, producer=producer)
    width = layers[0].input_size
    for index, layer in enumerate(layers):
        if layer.input_size != width:
            raise ValueError(f"layer {index} takes {layer.input_size} inputs, the previous layer gives {width}")
        entry = model.layers.add(name=layer.name)
        if isinstance(layer, LSTM):
            if layer.direction not in DIRECTIONS:
                raise ValueError(f"layer {index}: unknown direction {layer.direction!r}")
            entry.direction = DIRECTIONS[layer.direction]
            layer.fill_cell(getattr(entry, layer.kind))
            if layer.direction == "bidirectional":
                if type(layer.backward) is not type(layer):
                    raise ValueError(f"layer {index}: a bidirectional {layer.kind} needs backward={type(layer).__name__}(...)")
                layer.backward.fill_cell(getattr(entry, layer.kind + "_backward"))
            elif layer.backward is not None:
                raise ValueError(f"layer {index}: backward is only for direction='bidirectional'")
        elif isinstance(layer, Dense):
            d = entry.dense
            d.input_size, d.output_size = layer.input_size, layer.output_size
            d.weight.CopyFrom(_tensor(_matrix(layer.weight, layer.output_size, layer.input_size, "weight")))
            if layer.bias is not None:
                d.bias.CopyFrom(_tensor(_vector(layer.bias, layer.output_size, "bias")))
            fn = pb.Function()
            Function(layer.activation or "identity", layer.alpha, layer.beta).fill(fn)
            d.activation, d.alpha, d.beta = fn.kind, fn.alpha, fn.beta
        elif isinstance(layer, Embedding):
            if index != 0:
                raise ValueError(f"layer {index}: an embedding can only be the first layer")
            w = np.asarray(layer.weight, dtype=np.float32)
            entry.embedding.vocab_size, entry.embedding.dim = w.shape
            entry.embedding.weight.CopyFrom(_tensor(w))
        elif isinstance(layer, Softmax):
            entry.softmax.size = layer.size
        elif isinstance(layer, Attention):
            layer.fill(entry.attention)
        else:
            raise TypeError(f"layer {index}: {type(layer).__name__} is not a recur layer")
        width = layer.output_size
    for key, value in (metadata or {}).items():
        model.metadata.add(key=str(key), value=str(value))
    return quantize(model, weights)


def frame(payload):
    """An LZ4 frame holding `payload`, with content size and checksum."""
    return lz4.frame.compress(payload, content_checksum=True, store_size=True,
                              compression_level=lz4.frame.COMPRESSIONLEVEL_MINHC)


def dumps(layers, producer="recur-python", metadata=None, weights="fp32"):
    """The bytes of a .recur file for `layers` (weights: "fp32", "bf16" or "int8")."""
    return frame(to_message(layers, producer, metadata, weights).SerializeToString())


def save(path, layers, producer="recur-python", metadata=None, weights="fp32"):
    """Writes `layers` (recur.LSTM / GRU / Dense, applied in order) to
    `path`, the weight matrices as `weights` ("fp32", "bf16" or "int8")."""
    data = dumps(layers, producer, metadata, weights)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def load_message(data):
    """Decodes a .recur file's bytes into its recur.Model message."""
    return pb.Model.FromString(lz4.frame.decompress(data))
