"""Writing .recur files: layers in the canonical (PyTorch) gate order, a
protobuf recur.Model, compressed as one LZ4 frame with content size and
checksum (see docs/format.md)."""
from dataclasses import dataclass, field
from typing import Optional

import lz4.frame
import numpy as np

from . import recur_pb2 as pb

FORMAT_VERSION = 1
_ACTIVATIONS = {"identity": pb.IDENTITY, "linear": pb.IDENTITY, None: pb.IDENTITY,
                "sigmoid": pb.SIGMOID, "tanh": pb.TANH, "relu": pb.RELU}


def _matrix(a, rows, cols, what):
    m = np.asarray(a, dtype=np.float32)
    if m.shape != (rows, cols):
        raise ValueError(f"{what} has shape {m.shape}, expected ({rows}, {cols})")
    return m


@dataclass
class LSTM:
    """PyTorch nn.LSTM layer weights: rows i, f, g, o.
    weight_ih (4H, I), weight_hh (4H, H), bias_ih / bias_hh (4H) or None."""
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: Optional[np.ndarray] = None
    bias_hh: Optional[np.ndarray] = None
    name: str = ""
    gates = 4

    @property
    def hidden_size(self):
        return np.shape(self.weight_hh)[1]

    @property
    def input_size(self):
        return np.shape(self.weight_ih)[1]

    output_size = hidden_size


@dataclass
class GRU(LSTM):
    """PyTorch nn.GRU layer weights (reset gate after the matmul): rows r, z, n.
    weight_ih (3H, I), weight_hh (3H, H), bias_ih / bias_hh (3H) or None."""
    gates = 3


@dataclass
class Dense:
    """y = activation(weight @ x + bias); weight (O, I), bias (O) or None.
    activation: 'identity', 'sigmoid', 'tanh' or 'relu'."""
    weight: np.ndarray
    bias: Optional[np.ndarray] = None
    activation: Optional[str] = "identity"
    name: str = ""

    @property
    def input_size(self):
        return np.shape(self.weight)[1]

    @property
    def output_size(self):
        return np.shape(self.weight)[0]


def _tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4")
    return pb.Tensor(shape=list(a.shape), dtype=pb.FLOAT32, data=a.tobytes())


def _recurrent(layer, message):
    h, i, rows = layer.hidden_size, layer.input_size, layer.gates * layer.hidden_size
    message.input_size = i
    message.hidden_size = h
    message.weight_ih.CopyFrom(_tensor(_matrix(layer.weight_ih, rows, i, "weight_ih")))
    message.weight_hh.CopyFrom(_tensor(_matrix(layer.weight_hh, rows, h, "weight_hh")))
    for name in ("bias_ih", "bias_hh"):
        b = getattr(layer, name)
        if b is not None:
            b = np.asarray(b, dtype=np.float32).reshape(-1)
            if b.shape != (rows,):
                raise ValueError(f"{name} has {b.size} values, expected {rows}")
            getattr(message, name).CopyFrom(_tensor(b))


def to_message(layers, producer="recur-python", metadata=None):
    """The recur.Model protobuf message for `layers`."""
    layers = list(layers)
    if not layers:
        raise ValueError("a model needs at least one layer")
    model = pb.Model(format_version=FORMAT_VERSION, input_size=layers[0].input_size, producer=producer)
    width = layers[0].input_size
    for index, layer in enumerate(layers):
        if layer.input_size != width:
            raise ValueError(f"layer {index} takes {layer.input_size} inputs, the previous layer gives {width}")
        entry = model.layers.add(name=layer.name)
        if isinstance(layer, GRU):
            _recurrent(layer, entry.gru)
        elif isinstance(layer, LSTM):
            _recurrent(layer, entry.lstm)
        elif isinstance(layer, Dense):
            d = entry.dense
            d.input_size, d.output_size = layer.input_size, layer.output_size
            d.weight.CopyFrom(_tensor(_matrix(layer.weight, layer.output_size, layer.input_size, "weight")))
            if layer.bias is not None:
                d.bias.CopyFrom(_tensor(np.asarray(layer.bias, dtype=np.float32).reshape(layer.output_size)))
            if layer.activation not in _ACTIVATIONS:
                raise ValueError(f"unknown activation {layer.activation!r}")
            d.activation = _ACTIVATIONS[layer.activation]
        else:
            raise TypeError(f"layer {index}: {type(layer).__name__} is not recur.LSTM, GRU or Dense")
        width = layer.output_size
    for key, value in (metadata or {}).items():
        model.metadata.add(key=str(key), value=str(value))
    return model


def frame(payload):
    """An LZ4 frame holding `payload`, with content size and checksum."""
    return lz4.frame.compress(payload, content_checksum=True, store_size=True,
                              compression_level=lz4.frame.COMPRESSIONLEVEL_MINHC)


def dumps(layers, producer="recur-python", metadata=None):
    """The bytes of a .recur file for `layers`."""
    return frame(to_message(layers, producer, metadata).SerializeToString())


def save(path, layers, producer="recur-python", metadata=None):
    """Writes `layers` (recur.LSTM / GRU / Dense, applied in order) to `path`."""
    data = dumps(layers, producer, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def load_message(data):
    """Decodes a .recur file's bytes into its recur.Model message."""
    return pb.Model.FromString(lz4.frame.decompress(data))
