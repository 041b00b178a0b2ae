"""RTNeural's JSON models to Recur layers.

RTNeural's Keras exporter (python/model_utils.py in its repository) writes a
self-describing file: "in_shape" ([null, null, inputs] or [null, inputs])
and "layers", each with "type", "activation", "shape" ([..., units]) and
"weights" in Keras's layout. This reads the types a streaming model needs:

    dense, time-distributed-dense  kernel (I, O), bias (O) optional; activation
    lstm                           kernel (I, 4U), recurrent (U, 4U), bias (4U); columns i, f, c, o
    gru                            kernel (I, 3U), recurrent (U, 3U), bias (2, 3U) (reset_after=True)
                                   or (3U,) (reset_after=False); columns z, r, h
    activation                     tanh, sigmoid, relu, elu, softmax, linear

and refuses, naming it, any other type (conv1d, conv2d, batchnorm, prelu
...). Keras's column orders become Recur's (PyTorch's) rows: LSTM i, f, c, o
is already i, f, g, o; GRU z, r, h becomes r, z, n. A GRU's update
h' = z h + (1 - z) h~ is PyTorch's. RTNeural runs every LSTM and GRU with
tanh and sigmoid whatever "activation" says, so a file naming another
function is refused (the Keras model it came from would compute something
else).

RTNeural's PyTorch files are bare state_dicts (names such as
"lstm.weight_ih_l0", no architecture): those are refused with a note on how
to convert the module they came from (recur.from_torch).

`convert` maps a file; `verify` runs the result against a float64 NumPy
evaluation of the JSON in Keras's own layout (an independent reading of
the same file) over a random sequence.

    recur convert model.json model.recur [--tolerance 1e-5] [--steps 300] [--no-verify]
"""
import json

import numpy as np

from . import keras_import
from .conversion import ConversionError, Report, add_weights_argument, failed, run_layers, write


_FUNCTIONS = {"tanh", "sigmoid", "relu", "elu", "linear", ""}
_REFUSED = {"conv1d", "conv2d", "batchnorm", "batchnorm2d", "prelu"}


def load(source):
    """The JSON value of `source` (a path, or already parsed JSON)."""
    if isinstance(source, (dict, list)):
        return source
    try:
        with open(source, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ConversionError(f"not JSON: {e}") from None


def _array(value, where):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConversionError(f"{where}: weights are not a numeric array") from None


def _units(layer, where):
    shape = layer.get("shape")
    if not isinstance(shape, list) or not shape or not isinstance(shape[-1], int) or shape[-1] <= 0:
        raise ConversionError(f"{where}: \"shape\" must end in the layer's width, got {shape!r}")
    return shape[-1]


def _expect(array, shape, what, where):
    if array.shape != shape:
        raise ConversionError(f"{where}: {what} has shape {array.shape}, expected {shape}")


def _activation(layer, where):
    name = layer.get("activation", "")
    if not isinstance(name, str):
        raise ConversionError(f"{where}: \"activation\" must be a string, got {name!r}")
    if name != "softmax" and name not in _FUNCTIONS:
        raise ConversionError(f"{where}: activation {name!r} is not one Recur has (RTNeural's: tanh, sigmoid, "
                              "relu, elu, softmax)")
    return name


def _is_state_dict(model):
    return "layers" not in model and any(isinstance(k, str) and "." in k for k in model)


def parse(model):
    """The JSON's layers as Keras-layout records: (kind, details) with float64
    weights, checked against each other. Raises ConversionError."""
    if not isinstance(model, dict):
        raise ConversionError("the file is not a JSON object")
    if _is_state_dict(model):
        names = ", ".join(list(model)[:3])
        raise ConversionError(
            f"this is an RTNeural PyTorch file: a bare state_dict ({names}, ...) without the architecture, "
            "which only the PyTorch module knows. Load it into that module (module.load_state_dict with the "
            "arrays as tensors) and convert the module: recur.from_torch(module, example_input)")
    shape = model.get("in_shape")
    if not isinstance(shape, list) or not shape or not isinstance(shape[-1], int) or shape[-1] <= 0:
        raise ConversionError(f"\"in_shape\" must end in the input width, got {shape!r}")
    layers = model.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ConversionError("\"layers\" must be a non-empty list")
    width = shape[-1]
    records = []
    for index, layer in enumerate(layers):
        where = f"layer {index}"
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise ConversionError(f"{where}: not an object with a \"type\"")
        kind = layer["type"]
        where = f"layer {index} ({kind})"
        if kind in _REFUSED:
            raise ConversionError(f"{where}: Recur has no {kind} layer; it runs LSTM, GRU, dense and activation "
                                  "layers")
        weights = layer.get("weights", [])
        if not isinstance(weights, list):
            raise ConversionError(f"{where}: \"weights\" must be a list")
        if kind == "activation":
            records.append(("activation", {"function": _activation(layer, where), "size": width}))
            continue
        units = _units(layer, where)
        if kind in ("dense", "time-distributed-dense"):
            if len(weights) not in (1, 2):
                raise ConversionError(f"{where}: expected [kernel] or [kernel, bias], got {len(weights)} arrays")
            kernel = _array(weights[0], where)
            _expect(kernel, (width, units), "the kernel", where)
            bias = _array(weights[1], where) if len(weights) == 2 else np.zeros(units)
            _expect(bias, (units,), "the bias", where)
            records.append(("dense", {"kernel": kernel, "bias": bias, "function": _activation(layer, where)}))
        elif kind in ("lstm", "gru"):
            gates = 4 if kind == "lstm" else 3
            function = layer.get("activation", "tanh")
            if function not in ("tanh", ""):
                raise ConversionError(f"{where}: activation {function!r}: RTNeural runs every {kind.upper()} "
                                      "with tanh, so this file and the Keras model it came from disagree; "
                                      "convert the Keras model instead")
            if len(weights) != 3:
                raise ConversionError(f"{where}: expected [kernel, recurrent_kernel, bias], got {len(weights)} arrays")
            kernel, recurrent, bias = (_array(w, where) for w in weights)
            _expect(kernel, (width, gates * units), "the kernel", where)
            _expect(recurrent, (units, gates * units), "the recurrent kernel", where)
            if kind == "gru" and bias.shape == (gates * units,):
                reset_after = False
            else:
                reset_after = True
                _expect(bias, (2, gates * units) if kind == "gru" else (gates * units,), "the bias", where)
            records.append((kind, {"kernel": kernel, "recurrent": recurrent, "bias": bias,
                                   "reset_after": reset_after}))
        else:
            raise ConversionError(f"{where}: unknown layer type {kind!r}; Recur reads dense, "
                                  "time-distributed-dense, lstm, gru and activation")
        width = units
    return shape[-1], records


def convert(source):
    """(layers for recur.save, notes) for an RTNeural JSON model (a path or
    a parsed dict). Raises ConversionError naming what cannot be converted.
    The weights are Keras's, so keras_import maps them."""
    _, records = parse(load(source))
    layers, notes = [], []
    for index, (kind, r) in enumerate(records):
        where = f"layer {index} ({kind})"
        if kind == "dense":
            layers.extend(keras_import.dense(r["kernel"], r["bias"], r["function"] or "linear", where))
        elif kind == "activation":
            keras_import.activation(layers, r["function"] or "linear", r["size"], notes, where)
        elif kind == "lstm":
            layers.append(keras_import.lstm(r["kernel"], r["recurrent"], r["bias"], where=where))
        else:
            layers.append(keras_import.gru(r["kernel"], r["recurrent"], r["bias"], r["reset_after"], where=where))
            if not r["reset_after"]:
                notes.append(f"{where}: one bias vector is Keras's reset_after=False: Recur runs it as such "
                             "(RTNeural itself reads only reset_after=True)")
    if not layers:
        raise ConversionError("the model has no layer Recur runs")
    return layers, notes  # (parse checked every width against in_shape and the layers before)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _apply(function, x):
    if function == "tanh":
        return np.tanh(x)
    if function == "sigmoid":
        return _sigmoid(x)
    if function == "relu":
        return np.maximum(x, 0)
    if function == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if function == "softmax":
        e = np.exp(x - x.max())
        return e / e.sum()
    return x


def reference(source, xs):
    """The JSON model over the rows of xs (steps, inputs), in float64 and in
    Keras's layout: what the file means, computed without Recur's mapping."""
    _, records = parse(load(source))
    state = [None] * len(records)
    out = []
    for x in np.asarray(xs, dtype=np.float64):
        for i, (kind, r) in enumerate(records):
            if kind == "dense":
                x = _apply(r["function"], x @ r["kernel"] + r["bias"])
            elif kind == "activation":
                x = _apply(r["function"], x)
            elif kind == "lstm":
                u = r["recurrent"].shape[0]
                h, c = state[i] if state[i] is not None else (np.zeros(u), np.zeros(u))
                z = x @ r["kernel"] + h @ r["recurrent"] + r["bias"]
                ig, fg, cg, og = (z[k * u:(k + 1) * u] for k in range(4))
                c = _sigmoid(fg) * c + _sigmoid(ig) * np.tanh(cg)
                h = _sigmoid(og) * np.tanh(c)
                state[i] = (h, c)
                x = h
            else:
                u = r["recurrent"].shape[0]
                h = state[i] if state[i] is not None else np.zeros(u)
                k, rec = r["kernel"], r["recurrent"]
                if r["reset_after"]:
                    xz, hz = x @ k + r["bias"][0], h @ rec + r["bias"][1]
                    z = _sigmoid(xz[:u] + hz[:u])
                    reset = _sigmoid(xz[u:2 * u] + hz[u:2 * u])
                    candidate = np.tanh(xz[2 * u:] + reset * hz[2 * u:])
                else:
                    xz = x @ k + r["bias"]
                    z = _sigmoid(xz[:u] + h @ rec[:, :u])
                    reset = _sigmoid(xz[u:2 * u] + h @ rec[:, u:2 * u])
                    candidate = np.tanh(xz[2 * u:] + (reset * h) @ rec[:, 2 * u:])
                h = z * h + (1 - z) * candidate
                state[i] = h
                x = h
        out.append(x)
    return np.array(out)


def verify(source, layers, steps=300, seed=0, weights="fp32"):
    """(Recur's outputs, the file's float64 reference) for `layers` (their
    weight matrices stored as `weights`) over a random sequence (inputs × 3)
    of `steps` steps."""
    inputs = layers[0].input_size
    xs = (np.random.default_rng(seed).standard_normal((steps, inputs)) * 3).astype(np.float32)
    return run_layers(layers, xs, weights=weights), reference(source, xs)


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="recur convert", description="Convert an RTNeural JSON model (its Keras "
                                     "exporter's format) to .recur, verified against a float64 reading of the file.")
    parser.add_argument("model", help="an RTNeural .json model")
    parser.add_argument("output")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest absolute difference from the float64 reference accepted (default 1e-5)")
    parser.add_argument("--steps", type=int, default=300, help="steps of the verification sequence (default 300)")
    parser.add_argument("--no-verify", action="store_true", help="do not check the result")
    add_weights_argument(parser)
    args = parser.parse_args(argv)
    try:
        layers, notes = convert(args.model)
        report = Report(notes, "a float64 reading of the file", weights=args.weights)
        if not args.no_verify:
            report.compare(*verify(args.model, layers, args.steps, weights=args.weights), args.tolerance)
    except (ConversionError, OSError) as exc:
        return failed(args.model, exc)
    return write(args.model, args.output, layers, report, "RTNeural JSON")
