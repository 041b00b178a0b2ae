"""An independent float64 NumPy reference for recur models, written from the
equations in docs/cells/ (not from the Swift code). It reads the weights back
out of a .recur file with the protobuf message, so it checks the writer, the
reader, the packing and the kernels at once."""
import numpy as np

import recur
from recur import recur_pb2 as pb


def _array(t):
    """A tensor's values in float64, read from the file as its element type says
    (bfloat16: the high half of a float32; int8: times its row's scale)."""
    shape = tuple(t.shape)
    if t.dtype == pb.BFLOAT16:
        halves = np.frombuffer(t.data, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).astype(np.float64).reshape(shape)
    if t.dtype == pb.INT8:
        q = np.frombuffer(t.data, dtype=np.int8).astype(np.float64).reshape(shape)
        return q * np.asarray(t.scales, dtype=np.float32).astype(np.float64)[:, None]
    return np.frombuffer(t.data, dtype="<f4").astype(np.float64).reshape(shape)


def _opt(message, name, shape):
    return _array(getattr(message, name)) if message.HasField(name) else np.zeros(shape)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def function(kind, alpha=0.0, beta=0.0):
    a, b = float(alpha), float(beta)
    return {
        pb.IDENTITY: lambda v: v,
        pb.SIGMOID: sigmoid,
        pb.TANH: np.tanh,
        pb.RELU: lambda v: np.maximum(v, 0.0),
        pb.AFFINE: lambda v: a * v + b,
        pb.LEAKY_RELU: lambda v: np.where(v >= 0, v, a * v),
        pb.THRESHOLDED_RELU: lambda v: np.where(v > a, v, 0.0),
        pb.SCALED_TANH: lambda v: a * np.tanh(b * v),
        pb.HARD_SIGMOID: lambda v: np.clip(a * v + b, 0.0, 1.0),
        pb.ELU: lambda v: np.where(v >= 0, v, a * (np.exp(np.minimum(v, 0)) - 1)),
        pb.SOFTSIGN: lambda v: v / (1 + np.abs(v)),
        pb.SOFTPLUS: lambda v: np.log1p(np.exp(v)),
    }[kind]


def _fn(message, name, default):
    if message.HasField(name):
        f = getattr(message, name)
        return function(f.kind, f.alpha, f.beta)
    return default


def _clip(v, limit):
    return np.clip(v, -limit, limit) if limit > 0 else v


def _layer_norm(v, w, b):
    mean = v.mean()
    var = ((v - mean) ** 2).mean()
    return (v - mean) / np.sqrt(var + 1e-8) * w + b


class Cell:
    """One direction of an LSTM, GRU or RNN layer."""

    def __init__(self, kind, m):
        self.kind, self.m = kind, m
        H = self.H = m.hidden_size
        G = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
        self.W, self.R = _array(m.weight_ih), _array(m.weight_hh)
        self.bx, self.bh = _opt(m, "bias_ih", G * H), _opt(m, "bias_hh", G * H)
        self.clip = m.clip
        if kind == "rnn":
            self.f = _fn(m, "f", np.tanh)
        else:
            self.f, self.g = _fn(m, "f", sigmoid), _fn(m, "g", np.tanh)
        if kind == "lstm":
            self.h_fn = _fn(m, "h", np.tanh)
            self.P = _array(m.peephole) if m.HasField("peephole") else None
            self.U = _array(m.peephole_matrix) if m.HasField("peephole_matrix") else None  # [3H, H]: U_i, U_f, U_o
            self.o_previous = m.output_peephole_previous
            self.LN = _array(m.layer_norm) if m.HasField("layer_norm") else None
            self.Wp = _array(m.weight_proj) if m.proj_size else None
            self.bp = _opt(m, "bias_proj", m.proj_size) if m.proj_size else None
        self.out = m.proj_size if kind == "lstm" and m.proj_size else H
        self.reset()

    def reset(self):
        m = self.m
        self.h = _opt(m, "initial_h", self.out)
        self.c = _opt(m, "initial_c", self.H) if self.kind == "lstm" else None

    def step(self, x):
        m, H, c = self.m, self.H, self.clip
        gx, gh = self.W @ x + self.bx, self.R @ self.h + self.bh
        if self.kind == "rnn":
            self.h = self.f(_clip(gx + gh, c))
        elif self.kind == "gru":
            r = self.f(_clip(gx[:H] + gh[:H], c))
            z = self.f(_clip(gx[H:2 * H] + gh[H:2 * H], c))
            if m.reset_before_matmul:
                n_h = self.R[2 * H:] @ (r * self.h) + self.bh[2 * H:]
            else:
                n_h = r * gh[2 * H:]
            n = self.g(_clip(gx[2 * H:] + n_h, c))
            self.h = (1 - z) * n + z * self.h
        else:
            if self.LN is not None:
                z = self.W @ x + self.R @ self.h
                bias = self.bx + self.bh
            else:
                z = gx + gh
            zi, zf, zg, zo = z[:H].copy(), z[H:2 * H].copy(), z[2 * H:3 * H].copy(), z[3 * H:].copy()
            previous = self.c
            if self.U is not None:
                zi += self.U[:H] @ previous
                zf += self.U[H:2 * H] @ previous
            if self.P is not None:
                zi += self.P[0] * self.c
                zf += self.P[1] * self.c
            if self.LN is not None:
                zi = _layer_norm(zi, self.LN[0], bias[:H])
                zf = _layer_norm(zf, self.LN[1], bias[H:2 * H])
                zg = _layer_norm(zg, self.LN[2], bias[2 * H:3 * H])
            i, f, g = self.f(_clip(zi, c)), self.f(_clip(zf, c)), self.g(_clip(zg, c))
            if m.coupling == pb.INPUT_FROM_FORGET:
                i = 1 - f
            elif m.coupling == pb.FORGET_FROM_INPUT:
                f = 1 - i
            self.c = _clip(f * self.c + i * g, m.cell_clip)
            seen = previous if self.o_previous else self.c  # what the output gate's peepholes read
            if self.P is not None:
                zo = zo + self.P[2] * seen
            if self.U is not None:
                zo = zo + self.U[2 * H:] @ seen
            if self.LN is not None:
                zo = _layer_norm(zo, self.LN[3], bias[3 * H:])
            h = self.f(_clip(zo, c)) * self.h_fn(self.c)
            if self.Wp is not None:
                h = _clip(self.Wp @ h + self.bp, m.proj_clip)
            self.h = h
        return self.h


class Reference:
    def __init__(self, data):
        self.model = recur.load_message(data)
        self.layers = []
        for layer in self.model.layers:
            kind = layer.WhichOneof("kind")
            if kind in ("lstm", "gru", "rnn"):
                cells = [Cell(kind, getattr(layer, kind))]
                if layer.direction == pb.BIDIRECTIONAL:
                    cells.append(Cell(kind, getattr(layer, kind + "_backward")))
                self.layers.append((kind, layer, cells))
            else:
                self.layers.append((kind, layer, None))

    #: Attention memory by layer index: (rows, memory_size) arrays (set_memory).
    memory = None

    def set_memory(self, layer, rows):
        self.memory = dict(self.memory or {})
        self.memory[layer] = np.asarray(rows, dtype=np.float64)

    def reset(self):
        for _, _, cells in self.layers:
            for cell in cells or []:
                cell.reset()

    def run(self, xs):
        """Sequence mode: each layer over the whole sequence (xs: steps x input,
        or token ids for a model that starts with an embedding)."""
        seq = [np.asarray(x, dtype=np.float64) for x in xs]
        for kind, layer, cells in self.layers:
            if kind == "embedding":
                table = _array(layer.embedding.weight)
                seq = [table[int(t)] for t in seq]
            elif kind == "dense":
                d = layer.dense
                f = function(d.activation, d.alpha, d.beta)
                W, b = _array(d.weight), _opt(d, "bias", d.output_size)
                seq = [f(W @ v + b) for v in seq]
            elif kind == "softmax":
                seq = [np.exp(v - v.max()) / np.exp(v - v.max()).sum() for v in seq]
            elif kind == "attention":
                index = next(i for i, entry in enumerate(self.layers) if entry[1] is layer)
                seq = [attention(layer.attention, self.memory[index], v) for v in seq]
            else:
                T = len(seq)
                if layer.direction == pb.REVERSE:
                    cells[0].reset()
                    out = [None] * T
                    for t in reversed(range(T)):
                        out[t] = cells[0].step(seq[t]).copy()
                    seq = out
                else:
                    fwd = [cells[0].step(v).copy() for v in seq]
                    if layer.direction == pb.BIDIRECTIONAL:
                        cells[1].reset()
                        bwd = [None] * T
                        for t in reversed(range(T)):
                            bwd[t] = cells[1].step(seq[t]).copy()
                        fwd = [np.concatenate([a, b]) for a, b in zip(fwd, bwd)]
                    seq = fwd
        return np.stack(seq)


def attention(a, memory, q):
    """proto/recur.proto's Attention, as written there: scores of each
    memory row against q, their softmax, [context, q]."""
    if a.score == pb.DOT:
        s = memory @ q
    elif a.score == pb.GENERAL:
        s = (memory @ _array(a.weight).T) @ q
    else:
        bias = _opt(a, "bias", a.units)
        s = np.tanh(_array(a.weight_query) @ q + memory @ _array(a.weight_memory).T + bias) @ _array(a.v)
    s = s * (a.scale or 1.0)
    w = np.exp(s - s.max())
    w /= w.sum()
    return np.concatenate([w @ memory, q])
