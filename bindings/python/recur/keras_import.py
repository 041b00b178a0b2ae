"""Keras 3 models to Recur layers, verified against Keras.

    layers, report = recur.from_keras(model)     # a keras.Model; report says what was checked
    recur.save("model.recur", layers)
    recur convert model.keras model.recur        # a saved model (loaded with safe_mode)

Keras runs on any backend; set KERAS_BACKEND (torch here) before Keras is
first imported. Read: Sequential models and functional models that are one
chain of layers, with LSTM, GRU (both reset modes), SimpleRNN (each with
its activation, recurrent_activation, use_bias, go_backwards and
return_sequences), Bidirectional (merge modes concat, sum, ave), Dense and
TimeDistributed(Dense), Embedding (first layer), Activation, Softmax, ReLU,
LeakyReLU, ELU, and Dropout-like layers (identity at inference). Anything
else is refused, naming the layer.

Keras's layouts (docs/cells/*.md): kernels are [inputs, gates · units]
with columns i, f, c, o (LSTM) or z, r, h (GRU); Recur's rows are
PyTorch's i, f, g, o and r, z, n. Keras's hard_sigmoid is x/6 + 1/2
clipped. A go_backwards layer returns its outputs in reversed time order;
Recur runs it as a reverse layer whose output at step t belongs to input
step t, so the converted model's outputs are Keras's in input order (the
report says so).
"""
import os

import numpy as np

from . import writer
from .conversion import (ConversionError, Report, add_weights_argument, failed, run_layers,  # noqa: F401
                         write)  # (keras_import.ConversionError)


# Keras function name -> Recur function (name, alpha, beta).
_FUNCTIONS = {"tanh": ("tanh",), "sigmoid": ("sigmoid",), "relu": ("relu",), "linear": ("identity",),
              "elu": ("elu", 1.0), "softplus": ("softplus",), "softsign": ("softsign",),
              "hard_sigmoid": ("hard_sigmoid", 1 / 6, 0.5)}


def function(name, where):
    """The Recur function for a Keras activation name (not softmax)."""
    if name is None:
        name = "linear"
    if not isinstance(name, str) or name not in _FUNCTIONS:
        raise ConversionError(f"{where}: activation {name!r} is not one Recur has (Keras names it maps: "
                              f"{', '.join(sorted(_FUNCTIONS))}, softmax)")
    return writer.Function(*_FUNCTIONS[name])


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _gru_order(units):
    """Keras columns z, r, h -> Recur rows r, z, n."""
    return np.concatenate([np.arange(units, 2 * units), np.arange(units), np.arange(2 * units, 3 * units)])


def lstm(kernel, recurrent, bias, activation="tanh", recurrent_activation="sigmoid", where="LSTM"):
    """A writer.LSTM from Keras's kernel [I, 4U], recurrent kernel [U, 4U] and
    bias [4U] (or None): i, f, c, o is already PyTorch's i, f, g, o."""
    units = np.shape(recurrent)[0]
    return writer.LSTM(_f32(kernel).T, _f32(recurrent).T, None if bias is None else _f32(bias),
                       None if bias is None else np.zeros(4 * units, np.float32),
                       f=function(recurrent_activation, where), g=function(activation, where),
                       h=function(activation, where))


def gru(kernel, recurrent, bias, reset_after=True, activation="tanh", recurrent_activation="sigmoid", where="GRU"):
    """A writer.GRU from Keras's kernel [I, 3U], recurrent kernel [U, 3U] and
    bias [2, 3U] (reset_after=True: input and recurrent rows) or [3U]
    (reset_after=False), columns z, r, h reordered to r, z, n."""
    units = np.shape(recurrent)[0]
    order = _gru_order(units)
    b_ih = b_hh = None
    if bias is not None:
        bias = _f32(bias)
        if reset_after:
            b_ih, b_hh = bias[0][order], bias[1][order]
        else:
            b_ih, b_hh = bias[order], np.zeros(3 * units, np.float32)
    return writer.GRU(_f32(kernel).T[order], _f32(recurrent).T[order], b_ih, b_hh,
                      reset_before_matmul=not reset_after, f=function(recurrent_activation, where),
                      g=function(activation, where))


def rnn(kernel, recurrent, bias, activation="tanh", where="SimpleRNN"):
    units = np.shape(recurrent)[0]
    return writer.RNN(_f32(kernel).T, _f32(recurrent).T, None if bias is None else _f32(bias),
                      None if bias is None else np.zeros(units, np.float32), f=function(activation, where))


def dense(kernel, bias, activation, where="Dense"):
    """[writer.Dense] (plus a writer.Softmax for a softmax activation) from
    Keras's kernel [I, O] and bias [O] or None."""
    kernel = _f32(kernel)
    if activation == "softmax":
        return [writer.Dense(kernel.T, None if bias is None else _f32(bias)), writer.Softmax(kernel.shape[1])]
    f = function(activation, where)
    return [writer.Dense(kernel.T, None if bias is None else _f32(bias), f.kind, alpha=f.alpha, beta=f.beta)]


def activation(layers, name, size, notes, where, alpha=None):
    """Appends a standalone activation: folded into the dense layer before
    it when that one has none, else a Softmax or an identity dense layer."""
    if name == "softmax":
        layers.append(writer.Softmax(size))
        return
    f = function(name, where)
    if alpha is not None:
        f = writer.Function(f.kind, alpha)
    if f.kind == "identity":
        return
    last = layers[-1] if layers else None
    if isinstance(last, writer.Dense) and last.activation in (None, "identity"):
        last.activation, last.alpha, last.beta = f.kind, f.alpha, f.beta
        return
    layers.append(writer.Dense(np.eye(size, dtype=np.float32), None, f.kind, alpha=f.alpha, beta=f.beta))
    notes.append(f"{where}: the {name} activation runs as an identity dense layer of {size} units")


_IDENTITY_AT_INFERENCE = {"Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                          "ActivityRegularization", "Masking"}


def _chain(model):
    """The model's layers in order, checked to form one chain."""
    import keras
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        return layers
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; Recur "
                              "converts one chain of layers from one input to one output")
    x = model.inputs[0]
    for layer in layers:
        if layer.input is not x:
            raise ConversionError(f"layer '{layer.name}' ({type(layer).__name__}) does not take the output of the "
                                  "layer before it: the model is not one chain of layers")
        x = layer.output
    return layers


def _recurrent(layer, where):
    kind = type(layer).__name__
    config = layer.get_config()
    weights = layer.get_weights()
    bias = weights[2] if config.get("use_bias", True) and len(weights) > 2 else None
    act, rec = config.get("activation"), config.get("recurrent_activation")
    if kind == "LSTM":
        return lstm(weights[0], weights[1], bias, act, rec, where)
    if kind == "GRU":
        return gru(weights[0], weights[1], bias, config.get("reset_after", True), act, rec, where)
    return rnn(weights[0], weights[1], bias, act, where)


def convert(model):
    """(layers, notes, output_order, last_only) for a Keras model (a chain:
    Keras itself refuses a recurrent layer after return_sequences=False);
    output_order "reversed" when Keras gives the outputs in reversed time
    order; last_only when Keras gives only the last step's output (a
    recurrent layer with return_sequences=False). Raises ConversionError."""
    layers, notes = [], []
    reversed_order = False  # is the sequence between layers in reversed time order (go_backwards)?
    sequence = True
    last_only = None
    chain = _chain(model)
    width = model.inputs[0].shape[-1]
    for index, layer in enumerate(chain):
        kind = type(layer).__name__
        where = f"layer {index} '{layer.name}' ({kind})"
        config = layer.get_config()
        if kind in _IDENTITY_AT_INFERENCE:
            if kind == "Masking":
                notes.append(f"{where}: masking only skips padded steps; a stream is fed the steps that exist")
            continue
        if kind in ("LSTM", "GRU", "SimpleRNN"):
            reversed_order ^= bool(config.get("go_backwards"))
            cell = _recurrent(layer, where)
            cell.direction = "reverse" if reversed_order else "forward"
            layers.append(cell)
            width = cell.output_size
            if not config.get("return_sequences"):
                sequence = False
                last_only = "first" if reversed_order else "last"
            continue
        if kind == "Bidirectional":
            merge = config.get("merge_mode")
            if reversed_order:
                raise ConversionError(f"{where} takes a sequence in reversed time order (after go_backwards); "
                                      "Recur's bidirectional layer needs it in input order")
            if not sequence or not layer.forward_layer.get_config().get("return_sequences"):
                raise ConversionError(f"{where}: return_sequences=False; Keras then joins the forward layer's last "
                                      "step with the backward layer's first, which no single step of Recur gives. "
                                      "Convert it with return_sequences=True and take the steps you need")
            if merge not in ("concat", "sum", "ave"):
                raise ConversionError(f"{where}: merge_mode {merge!r}; Recur maps concat, sum and ave")
            forward = _recurrent(layer.forward_layer, where)
            backward = _recurrent(layer.backward_layer, where)
            if type(forward) is not type(backward):
                raise ConversionError(f"{where}: the forward and backward layers are of different kinds")
            forward.direction, forward.backward = "bidirectional", backward
            layers.append(forward)
            units = forward.cell_output_size
            width = 2 * units
            if merge != "concat":
                scale = 1.0 if merge == "sum" else 0.5
                eye = np.eye(units, dtype=np.float32) * scale
                layers.append(writer.Dense(np.concatenate([eye, eye], axis=1), None))
                notes.append(f"{where}: merge_mode {merge} runs as a dense layer over [forward, backward]")
                width = units
            continue
        if kind == "TimeDistributed":
            inner = layer.layer
            if type(inner).__name__ != "Dense":
                raise ConversionError(f"{where}: TimeDistributed({type(inner).__name__}); Recur maps "
                                      "TimeDistributed(Dense)")
            layer, config, kind = inner, inner.get_config(), "Dense"
        if kind == "Dense":
            weights = layer.get_weights()
            bias = weights[1] if config.get("use_bias", True) and len(weights) > 1 else None
            layers.extend(dense(weights[0], bias, config.get("activation"), where))
            width = weights[0].shape[1]
        elif kind == "Embedding":
            if layers or index:
                raise ConversionError(f"{where}: an embedding must be the first layer")
            table = layer.get_weights()[0]
            layers.append(writer.Embedding(_f32(table)))
            width = table.shape[1]
        elif kind == "Activation":
            activation(layers, config.get("activation"), width, notes, where)
        elif kind == "Softmax":
            if config.get("axis", -1) not in (-1, [-1]):
                raise ConversionError(f"{where}: softmax over axis {config.get('axis')}; Recur's is over the features")
            layers.append(writer.Softmax(width))
        elif kind == "ReLU":
            if config.get("max_value") is not None or config.get("threshold", 0) != 0:
                raise ConversionError(f"{where}: max_value or threshold; Recur's relu has neither")
            slope = config.get("negative_slope", 0)
            if slope:
                activation(layers, "relu", width, notes, where)
                layers[-1].activation, layers[-1].alpha = "leaky_relu", float(slope)
            else:
                activation(layers, "relu", width, notes, where)
        elif kind == "LeakyReLU":
            activation(layers, "relu", width, notes, where)
            layers[-1].activation, layers[-1].alpha = "leaky_relu", float(config.get("negative_slope", 0.3))
        elif kind == "ELU":
            activation(layers, "elu", width, notes, where, alpha=float(config.get("alpha", 1.0)))
        else:
            raise ConversionError(f"{where}: Recur has no {kind} layer; it maps LSTM, GRU, SimpleRNN, Bidirectional, "
                                  "Dense, TimeDistributed(Dense), Embedding and activation layers")
    if not layers:
        raise ConversionError("the model has no layer Recur runs")
    if reversed_order and sequence:
        notes.append("Keras returns this model's outputs in reversed time order (go_backwards); Recur gives "
                     "step t's output at step t")
    if last_only:
        notes.append("a recurrent layer has return_sequences=False: Keras gives one output per sequence, Recur one "
                     f"per step; Keras's is Recur's at the sequence's {last_only} step")
    return layers, notes, ("reversed" if reversed_order and sequence else "input"), last_only


class _fresh_states:
    """Stateful recurrent layers start the verification from zero, as a new
    stream does, and get their states back afterwards."""

    def __init__(self, model):
        self.layers = []
        for layer in model.layers:
            for inner in (layer, getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)):
                if getattr(inner, "stateful", False) and getattr(inner, "states", None) is not None:
                    self.layers.append(inner)

    def __enter__(self):
        self.saved = [[np.array(s) for s in layer.states] for layer in self.layers]
        for layer in self.layers:
            layer.reset_state()

    def __exit__(self, *exc):
        for layer, saved in zip(self.layers, self.saved):
            for state, value in zip(layer.states, saved):
                state.assign(value)


def from_keras(model, steps=300, tolerance=1e-5, verify=True, seed=0, weights="fp32"):
    """(layers, Report) for a Keras 3 model: the layers for recur.save, and
    the largest difference from Keras's own outputs over a random sequence
    of `steps` steps (inputs ~ N(0, 3²), or random tokens), which must be
    within `tolerance` (ConversionError otherwise). `weights` ("bf16",
    "int8") checks the layers with reduced weight matrices, against their
    budget (docs/quantization.md); save them with recur.save(..., weights=)."""
    layers, notes, order, last_only = convert(model)
    report = Report(notes, "Keras", output_order=order, weights=weights)
    if not verify:
        return layers, report
    rng = np.random.default_rng(seed)
    if isinstance(layers[0], writer.Embedding):
        xs = rng.integers(0, layers[0].weight.shape[0], size=steps)
        batch = xs.reshape(1, steps)
    else:
        xs = (rng.standard_normal((steps, layers[0].input_size)) * 3).astype(np.float32)
        batch = xs.reshape(1, steps, -1)
    with _fresh_states(model):
        want = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    got = run_layers(layers, xs, weights=weights)
    if last_only:
        got = got[0 if last_only == "first" else -1]
        want = want.reshape(got.shape)
    else:
        want = want.reshape(got.shape)
        if order == "reversed":
            want = want[::-1]
    report.compare(got, want, tolerance, steps)
    return layers, report


def main(argv):
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="recur convert", description="Convert a saved Keras 3 model (.keras) to "
                                     ".recur, verified against Keras.")
    parser.add_argument("model", help="a .keras file (loaded with safe_mode: no custom code runs)")
    parser.add_argument("output")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest absolute difference from Keras "
                        "accepted (default 1e-5)")
    parser.add_argument("--steps", type=int, default=300, help="steps of the verification sequence (default 300)")
    parser.add_argument("--no-verify", action="store_true", help="do not run Keras against the result")
    add_weights_argument(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ModuleNotFoundError:
        print("recur convert: converting a .keras file needs keras (pip install keras)", file=sys.stderr)
        return 1
    try:
        model = keras.saving.load_model(args.model, safe_mode=True)
        layers, report = from_keras(model, args.steps, args.tolerance, not args.no_verify, weights=args.weights)
    except (ConversionError, OSError, ValueError) as exc:
        return failed(args.model, exc)
    return write(args.model, args.output, layers, report, "Keras")
