"""Converting ONNX graphs of LSTM, GRU and RNN nodes (with the glue that
torch.onnx and tf2onnx put around them) into recur layers.

    python -m recur convert model.onnx model.recur [--test-data DIR] [--bind NAME=FILE.pb]

Recur runs a chain of layers over one sequence, batch 1 per stream. The
converter follows the graph from its one sequence input, maps each node to a
layer (or folds it into one), and refuses, naming the node and the reason,
any op or attribute it cannot map. Nothing is dropped silently.
"""
import sys

import numpy as np

from . import writer


class ConversionError(ValueError):
    pass


class Seq:
    """A per-step vector flowing through the layer chain: `width` floats,
    produced by layers[:index] (`final`: a final-state output, Y_h/Y_c)."""

    def __init__(self, width, index, final=None, tokens=False):
        self.width, self.index, self.final, self.tokens = width, index, final, tokens


class Unknown:
    """A shape computation on a sequence (Shape, Gather of a shape, ...)."""


class Filled:
    """A tensor of unknown shape whose every element is `value` (torch.onnx
    builds zero initial states as Expand(0, Shape(x)...))."""

    def __init__(self, value):
        self.value = float(value)


ONNX_FUNCTIONS = {
    "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "affine": "affine", "leakyrelu": "leaky_relu",
    "thresholdedrelu": "thresholded_relu", "scaledtanh": "scaled_tanh", "hardsigmoid": "hard_sigmoid",
    "elu": "elu", "softsign": "softsign", "softplus": "softplus",
}
# How many of activation_alpha / activation_beta each function consumes.
USES = {"affine": (1, 1), "leaky_relu": (1, 0), "thresholded_relu": (1, 0), "scaled_tanh": (1, 1),
        "hard_sigmoid": (1, 1), "elu": (1, 0)}
POINTWISE = {"Tanh": "tanh", "Relu": "relu", "Sigmoid": "sigmoid", "LeakyRelu": "leaky_relu", "Elu": "elu",
             "Softsign": "softsign", "Softplus": "softplus", "HardSigmoid": "hard_sigmoid",
             "ThresholdedRelu": "thresholded_relu"}


def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _functions(node, per_direction, defaults, attrs):
    """Per direction, the list of writer.Function for an RNN node."""
    given = [n.decode() if isinstance(n, bytes) else n for n in attrs.get("activations", [])]
    alphas = list(attrs.get("activation_alpha", []))
    betas = list(attrs.get("activation_beta", []))
    directions = 2 if attrs.get("direction", b"forward") in (b"bidirectional", "bidirectional") else 1
    if given and len(given) != per_direction * directions:
        raise ConversionError(f"node '{node.name}' ({node.op_type}): {len(given)} activations, expected "
                              f"{per_direction * directions}")
    names_out = given or defaults * directions
    out = []
    for name in names_out:
        key = ONNX_FUNCTIONS.get(name.lower())
        if key is None:
            raise ConversionError(f"node '{node.name}' ({node.op_type}): activation '{name}' is not supported")
        a_use, b_use = USES.get(key, (0, 0))
        alpha = alphas.pop(0) if a_use and alphas else None
        beta = betas.pop(0) if b_use and betas else None
        out.append(writer.Function(key, alpha, beta))
    return [out[d * per_direction:(d + 1) * per_direction] for d in range(directions)]


class Converter:
    def __init__(self, model, bind=None):
        import onnx
        from onnx import numpy_helper
        self.onnx, self.nh = onnx, numpy_helper
        self.graph = model.graph
        self.values = {}
        for init in self.graph.initializer:
            self.values[init.name] = numpy_helper.to_array(init)
        for name, array in (bind or {}).items():
            self.values[name] = np.asarray(array)
        inputs = [i for i in self.graph.input if i.name not in self.values]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise ConversionError(f"the graph needs exactly one sequence input without a value; it has: {names} "
                                  "(bind constant inputs with --bind NAME=FILE.pb or --test-data DIR)")
        self.input = inputs[0]
        elem = self.input.type.tensor_type.elem_type
        tokens = elem in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
        dims = [d.dim_value for d in self.input.type.tensor_type.shape.dim]
        width = 1 if tokens else (dims[-1] if dims and dims[-1] > 0 else None)
        self.layers = []
        self.values[self.input.name] = Seq(width, 0, tokens=tokens)
        self.notes = []

    def where(self, node):
        return f"node '{node.name or node.output[0]}' ({node.op_type})"

    def current(self, node, value):
        if value.index != len(self.layers):
            raise ConversionError(f"{self.where(node)}: the graph branches; recur runs one chain of layers")
        if value.tokens:
            raise ConversionError(f"{self.where(node)}: token ids must go through an embedding (Gather) first")
        return value

    def const(self, node, name, what):
        v = self.values.get(name)
        if not isinstance(v, np.ndarray):
            raise ConversionError(f"{self.where(node)}: {what} ('{name}') must be a constant")
        return v

    def optional(self, node, i, filled=False):
        if len(node.input) > i and node.input[i]:
            if filled and isinstance(self.values.get(node.input[i]), Filled):
                return self.values[node.input[i]]
            return self.const(node, node.input[i], f"input {i}")
        return None

    def push(self, layer):
        self.layers.append(layer)
        return Seq(layer.output_size, len(self.layers))

    def activate(self, node, value, name, alpha=None, beta=None):
        """Applies a pointwise function to the sequence value."""
        self.current(node, value)
        last = self.layers[-1] if self.layers else None
        if isinstance(last, writer.Dense) and (last.activation or "identity") == "identity":
            last.activation, last.alpha, last.beta = name, alpha, beta
            return Seq(value.width, len(self.layers))
        return self.push(writer.Dense(np.eye(value.width, dtype=np.float32), None, name, alpha=alpha, beta=beta,
                                      name=node.name))

    def convert(self):
        for node in self.graph.node:
            outputs = self.run_node(node)
            for name, value in zip(node.output, outputs):
                if name:
                    self.values[name] = value
        results = [self.values.get(o.name) for o in self.graph.output]
        seqs = [(o.name, v) for o, v in zip(self.graph.output, results) if isinstance(v, Seq)]
        if not seqs:
            raise ConversionError("no graph output comes from the sequence input")
        main = next(((n, v) for n, v in seqs if v.final is None), seqs[0])
        name, value = main
        if value.index != len(self.layers):
            raise ConversionError(f"graph output '{name}' is not the end of the layer chain")
        if value.final == "forward":
            self.notes.append(f"output '{name}' is a final state: recur gives h at every step; its last step is '{name}'")
        elif value.final:
            self.notes.append(f"output '{name}' is the final state of a {value.final} layer: recur gives the per-step "
                              f"output (Y); '{name}' is recur_stream_get_state of that layer after the run")
        for other, _ in seqs:
            if other != name:
                self.notes.append(f"graph output '{other}' is not produced (recur gives one output, '{name}'); "
                                  "final states are available with recur_stream_get_state")
        if not self.layers:
            raise ConversionError("the graph has no layer to convert")
        return self.layers

    # ---- nodes ------------------------------------------------------------------
    def run_node(self, node):
        op = node.op_type
        ins = [self.values.get(i) if i else None for i in node.input]
        attrs = _attrs(node)
        if node.domain not in ("", "ai.onnx"):
            raise ConversionError(f"{self.where(node)}: domain '{node.domain}' is not supported")
        consts = all(isinstance(v, np.ndarray) or v is None for v in ins)
        if op in ("LSTM", "GRU", "RNN"):
            return self.recurrent(node, ins, attrs)
        if op == "Constant":
            return [self.nh.to_array(attrs["value"]) if "value" in attrs else np.array(attrs.get("value_float",
                    attrs.get("value_int", attrs.get("value_floats", attrs.get("value_ints")))))]
        if op == "Expand" and isinstance(ins[0], np.ndarray) and ins[0].size and np.all(ins[0] == ins[0].flat[0]) \
                and isinstance(ins[1], Unknown):
            return [Filled(ins[0].reshape(-1)[0])]
        if op == "ConstantOfShape" and isinstance(ins[0], Unknown):
            value = attrs.get("value")
            return [Filled(self.nh.to_array(value).reshape(-1)[0] if value is not None else 0.0)]
        filled = [v for v in ins if isinstance(v, Filled)]
        if filled and op in ("Unsqueeze", "Squeeze", "Reshape", "Transpose", "Slice", "Cast", "Identity", "Expand",
                             "Concat") and all(v.value == filled[0].value for v in filled) \
                and all(isinstance(v, (Filled, np.ndarray, Unknown)) or v is None for v in ins):
            return [filled[0]]
        if any(isinstance(v, Unknown) for v in ins):
            return [Unknown() for _ in node.output]
        seq = next((v for v in ins if isinstance(v, Seq)), None)
        if seq is None and consts:
            return self.fold(node, ins, attrs)
        if op == "Shape":
            return [Unknown()]
        if op in ("Identity", "Dropout"):
            return [seq] + [None] * (len(node.output) - 1)
        if op == "Cast":
            return [seq]
        if op in ("Squeeze", "Unsqueeze", "Transpose", "Reshape", "Flatten"):
            if ins[0] is not seq:
                raise ConversionError(f"{self.where(node)}: only the data input may be a sequence")
            return [seq]
        if op == "Gather":
            if not seq.tokens or ins[1] is not seq or not isinstance(ins[0], np.ndarray):
                raise ConversionError(f"{self.where(node)}: only an embedding lookup (constant table, token "
                                      "indices from the graph input) is supported")
            if self.layers:
                raise ConversionError(f"{self.where(node)}: an embedding must be the first layer")
            table = ins[0]
            if table.ndim != 2 or attrs.get("axis", 0) != 0:
                raise ConversionError(f"{self.where(node)}: the embedding table must be 2-D, gathered on axis 0")
            return [self.push(writer.Embedding(table, name=node.name))]
        if op in ("MatMul", "Gemm"):
            self.current(node, seq)
            if ins[0] is not seq:
                raise ConversionError(f"{self.where(node)}: the sequence must be the first operand")
            w = self.const(node, node.input[1], "the weight")
            if op == "Gemm":
                if attrs.get("transA", 0):
                    raise ConversionError(f"{self.where(node)}: transA=1 is not supported")
                w = w.T if attrs.get("transB", 0) else w
                w = w * attrs.get("alpha", 1.0)
                b = self.optional(node, 2)
                b = None if b is None else np.broadcast_to(b * attrs.get("beta", 1.0), (w.shape[1],))
            else:
                b = None
            if w.ndim != 2 or w.shape[0] != seq.width:
                raise ConversionError(f"{self.where(node)}: weight of shape {w.shape} does not take {seq.width} inputs")
            return [self.push(writer.Dense(w.T, b, "identity", name=node.name))]
        if op in ("Add", "Sub"):
            self.current(node, seq)
            other = ins[1] if ins[0] is seq else ins[0]
            if not isinstance(other, np.ndarray):
                raise ConversionError(f"{self.where(node)}: only a constant can be added to the sequence")
            b = np.broadcast_to(other, (seq.width,)) if other.size in (1, seq.width) else None
            if b is None or (op == "Sub" and ins[0] is not seq):
                raise ConversionError(f"{self.where(node)}: only a per-feature constant can be added")
            b = b if op == "Add" else -b
            last = self.layers[-1] if self.layers else None
            if isinstance(last, writer.Dense) and (last.activation or "identity") == "identity":
                last.bias = (last.bias if last.bias is not None else 0) + b
                return [Seq(seq.width, len(self.layers))]
            return [self.push(writer.Dense(np.eye(seq.width, dtype=np.float32), b, "identity", name=node.name))]
        if op in POINTWISE:
            key = POINTWISE[op]
            alpha = attrs.get("alpha")
            beta = attrs.get("beta")
            if op == "Elu" and alpha is None:
                alpha = 1.0
            return [self.activate(node, seq, key, alpha, beta)]
        if op in ("Softmax", "LogSoftmax"):
            self.current(node, seq)
            if op == "LogSoftmax":
                raise ConversionError(f"{self.where(node)}: LogSoftmax is not supported (Softmax is)")
            if attrs.get("axis", -1) not in (-1, 2, 1) and attrs.get("axis", -1) is not None:
                raise ConversionError(f"{self.where(node)}: softmax must run over the feature axis")
            return [self.push(writer.Softmax(seq.width, name=node.name))]
        if op == "Concat" or op == "Slice":
            raise ConversionError(f"{self.where(node)}: {op} on the sequence path is not supported "
                                  "(only on constants and shapes)")
        raise ConversionError(f"{self.where(node)}: op {op} is not supported")

    def fold(self, node, ins, attrs):
        """Evaluates a node whose inputs are all constants, with onnxruntime's
        reference evaluator (onnx.reference)."""
        from onnx.reference import ReferenceEvaluator
        onnx = self.onnx
        names = [f"i{k}" for k in range(len(ins))]
        inputs = [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                  for n, v in zip(names, ins) if v is not None]
        single = onnx.helper.make_node(node.op_type, [n if v is not None else "" for n, v in zip(names, ins)],
                                       [f"o{k}" for k in range(len(node.output))], domain=node.domain)
        single.attribute.extend(node.attribute)
        graph = onnx.helper.make_graph([single], "fold", inputs,
                                       [onnx.helper.make_value_info(f"o{k}", onnx.TypeProto()) for k in range(len(node.output))])
        evaluator = ReferenceEvaluator(onnx.helper.make_model(graph))
        return list(evaluator.run(None, {n: v for n, v in zip(names, ins) if v is not None}))

    def recurrent(self, node, ins, attrs):
        op = node.op_type
        x = ins[0]
        if not isinstance(x, Seq):
            raise ConversionError(f"{self.where(node)}: X must come from the sequence input")
        self.current(node, x)
        known = {"activations", "activation_alpha", "activation_beta", "clip", "direction", "hidden_size", "layout"}
        known |= {"LSTM": {"input_forget"}, "GRU": {"linear_before_reset"}, "RNN": set()}[op]
        for name in attrs:
            if name not in known:
                raise ConversionError(f"{self.where(node)}: attribute '{name}' is not supported")
        direction = attrs.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else direction
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ConversionError(f"{self.where(node)}: direction '{direction}' is not supported")
        if attrs.get("layout", 0) not in (0, 1):
            raise ConversionError(f"{self.where(node)}: layout {attrs['layout']} is not supported")
        W = self.const(node, node.input[1], "W")
        R = self.const(node, node.input[2], "R")
        D, GH, I = W.shape
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
        H = GH // gates
        if "hidden_size" in attrs and attrs["hidden_size"] != H:
            raise ConversionError(f"{self.where(node)}: hidden_size {attrs['hidden_size']} disagrees with W ({H})")
        if x.width is not None and x.width != I:
            raise ConversionError(f"{self.where(node)}: X has {x.width} features, W takes {I}")
        B = self.optional(node, 3)
        lens = self.optional(node, 4)
        if lens is not None and np.unique(lens).size > 1:
            raise ConversionError(f"{self.where(node)}: sequence_lens differ between batch entries ({lens.tolist()}); "
                                  "recur runs one sequence per stream")
        if lens is not None:
            self.notes.append(f"{self.where(node)}: sequence_lens is uniform ({int(lens.flat[0])}); "
                              "run sequences of that length")
        elif len(node.input) > 4 and node.input[4] and isinstance(self.values.get(node.input[4]), Seq):
            raise ConversionError(f"{self.where(node)}: sequence_lens must be a constant")
        init_h = self.optional(node, 5, filled=True)
        init_c = self.optional(node, 6, filled=True) if op == "LSTM" else None
        P = self.optional(node, 7) if op == "LSTM" else None
        clip = float(attrs.get("clip", 0.0))
        if op == "LSTM":
            fns = _functions(node, 3, ["Sigmoid", "Tanh", "Tanh"], attrs)
        elif op == "GRU":
            fns = _functions(node, 2, ["Sigmoid", "Tanh"], attrs)
        else:
            fns = _functions(node, 1, ["Tanh"], attrs)

        def state(v, d, size, what):
            if v is None:
                return None
            if isinstance(v, Filled):
                return None if v.value == 0 else np.full(size, v.value, dtype=np.float32)
            v = v.reshape(D, -1, size)[d]
            if not np.all(v == v[0]):
                raise ConversionError(f"{self.where(node)}: {what} differs between batch entries; "
                                      "recur runs one sequence per stream (set per-stream state instead)")
            return v[0]

        cells = []
        for d in range(D):
            w, r = W[d], R[d]
            b = B[d] if B is not None else np.zeros(2 * gates * H, dtype=np.float32)
            wb, rb = b[:gates * H], b[gates * H:]
            if op == "LSTM":
                order = np.concatenate([np.arange(k * H, (k + 1) * H) for k in (0, 2, 3, 1)])  # iofc -> ifco
                peephole = None
                if P is not None:
                    p = P[d].reshape(3, H)
                    peephole = np.stack([p[0], p[2], p[1]])  # i, o, f -> i, f, o
                cell = writer.LSTM(w[order], r[order], wb[order], rb[order], name=node.name, peephole=peephole,
                                   coupling="forget_from_input" if attrs.get("input_forget", 0) else "none",
                                   clip=clip, f=fns[d][0], g=fns[d][1], h=fns[d][2],
                                   initial_h=state(init_h, d, H, "initial_h"), initial_c=state(init_c, d, H, "initial_c"))
            elif op == "GRU":
                order = np.concatenate([np.arange(k * H, (k + 1) * H) for k in (1, 0, 2)])  # zrh -> rzn
                cell = writer.GRU(w[order], r[order], wb[order], rb[order], name=node.name, clip=clip,
                                  reset_before_matmul=not attrs.get("linear_before_reset", 0),
                                  f=fns[d][0], g=fns[d][1], initial_h=state(init_h, d, H, "initial_h"))
            else:
                cell = writer.RNN(w, r, wb, rb, name=node.name, clip=clip, f=fns[d][0],
                                  initial_h=state(init_h, d, H, "initial_h"))
            cells.append(cell)
        layer = cells[0]
        layer.direction = direction
        if direction == "bidirectional":
            layer.backward = cells[1]
        y = self.push(layer)
        final = "bidirectional" if direction == "bidirectional" else ("reverse" if direction == "reverse" else "forward")
        finals = [Seq(layer.output_size, len(self.layers), final=final) for _ in node.output[1:]]
        return [y] + finals


def load_tensor(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, numpy_helper.to_array(t)


def convert(path, bind=None, test_data=None):
    """(layers, notes) for the ONNX model at `path`. `bind` maps graph input
    names to constant arrays; `test_data` is an ONNX test-data folder whose
    input_N.pb files give the graph inputs N >= 1 (input_0 is the sequence)."""
    import os

    import onnx
    model = onnx.load(path)
    bind = dict(bind or {})
    if test_data:
        names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        for k, name in enumerate(names):
            file = os.path.join(test_data, f"input_{k}.pb")
            if k > 0 and os.path.exists(file):
                bind[name] = load_tensor(file)[1]
    converter = Converter(model, bind)
    return converter.convert(), converter.notes


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m recur convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx_model")
    parser.add_argument("output")
    parser.add_argument("--test-data", help="ONNX test-data folder: input_N.pb (N >= 1) bind graph inputs N")
    parser.add_argument("--bind", action="append", default=[], metavar="NAME=FILE.pb",
                        help="give graph input NAME the value of a TensorProto file")
    args = parser.parse_args(argv)
    bind = {}
    for item in args.bind:
        name, _, file = item.partition("=")
        bind[name] = load_tensor(file)[1]
    try:
        layers, notes = convert(args.onnx_model, bind, args.test_data)
    except ConversionError as exc:
        print(f"recur convert: {args.onnx_model}: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"recur convert: note: {note}", file=sys.stderr)
    size = writer.save(args.output, layers, producer=f"recur convert {args.onnx_model}")
    print(f"{args.output}: {len(layers)} layers, {size} bytes")
    return 0
