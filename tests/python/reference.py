"""An independent float64 NumPy reference for recur models, written from the
equations in docs/ (PyTorch semantics), not from the Swift code. It reads the
weights back out of a .recur file with the protobuf message, so it checks the
writer, the reader, the packing and the kernels at once."""
import numpy as np

import recur


def _array(t):
    return np.frombuffer(t.data, dtype="<f4").astype(np.float64).reshape(tuple(t.shape))


def _bias(message, name, rows):
    return _array(getattr(message, name)) if message.HasField(name) else np.zeros(rows)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {0: lambda v: v, 1: sigmoid, 2: np.tanh, 3: lambda v: np.maximum(v, 0.0)}


class Reference:
    def __init__(self, data):
        self.model = recur.load_message(data)
        self.reset()

    def reset(self):
        self.state = []
        for layer in self.model.layers:
            kind = layer.WhichOneof("kind")
            h = getattr(layer, kind).hidden_size if kind != "dense" else 0
            self.state.append({"h": np.zeros(h), "c": np.zeros(h)})

    def step(self, x):
        v = np.asarray(x, dtype=np.float64)
        for layer, s in zip(self.model.layers, self.state):
            kind = layer.WhichOneof("kind")
            m = getattr(layer, kind)
            if kind == "dense":
                v = ACTIVATIONS[m.activation](_array(m.weight) @ v + _bias(m, "bias", m.output_size))
                continue
            H = m.hidden_size
            gx = _array(m.weight_ih) @ v + _bias(m, "bias_ih", 4 * H if kind == "lstm" else 3 * H)
            gh = _array(m.weight_hh) @ s["h"] + _bias(m, "bias_hh", 4 * H if kind == "lstm" else 3 * H)
            if kind == "lstm":
                g = gx + gh
                i, f, c_hat, o = sigmoid(g[:H]), sigmoid(g[H:2 * H]), np.tanh(g[2 * H:3 * H]), sigmoid(g[3 * H:])
                s["c"] = f * s["c"] + i * c_hat
                s["h"] = o * np.tanh(s["c"])
            else:
                r = sigmoid(gx[:H] + gh[:H])
                z = sigmoid(gx[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gx[2 * H:] + r * gh[2 * H:])
                s["h"] = (1 - z) * n + z * s["h"]
            v = s["h"]
        return v

    def run(self, xs):
        return np.stack([self.step(x) for x in xs])
