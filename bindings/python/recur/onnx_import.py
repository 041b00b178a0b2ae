"""Converting ONNX graphs of LSTM, GRU and RNN nodes (with the glue that
torch.onnx and tf2onnx put around them) into recur layers.

    python -m recur convert model.onnx model.recur [--test-data DIR] [--bind NAME=FILE.pb]
                                                   [--tolerance T | --no-verify]

Recur runs a chain of layers over one sequence, batch 1 per stream. The
converter follows the graph from its one sequence input, maps each node to a
layer (or folds it into one), and refuses, naming the node and the reason,
any op or attribute it cannot map. Graph inputs that give recurrent nodes
their initial_h / initial_c become state the host sets per stream
(recur_stream_set_state). Then it verifies itself: onnxruntime and recur
run the same random sequence and the largest difference must stay within
the tolerance (docs/onnx.md).
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


class StateInput:
    """A graph input that gives recurrent nodes their initial state: rows
    [start, stop) of its first axis (one row per direction of each layer,
    as torch.onnx exports h0 / c0 of shape [layers * directions, batch, H])."""

    def __init__(self, name, rows, start=0, stop=None):
        self.name, self.rows, self.start = name, rows, start
        self.stop = rows if stop is None else stop


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
        if not inputs:
            raise ConversionError("the graph has no input without a value: nothing to run on "
                                  "(an input given by --bind or --test-data is a constant)")
        # The first is the sequence; any other must be a recurrent node's
        # initial state (checked where it is used).
        self.input = inputs[0]
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.state_inputs = {}  # graph input name -> [(layer index, "h" | "c", start, stop, directions)]
        for extra in inputs[1:]:
            dims = [d.dim_value for d in extra.type.tensor_type.shape.dim]
            self.values[extra.name] = StateInput(extra.name, dims[0] if dims and dims[0] > 0 else None)
            self.state_inputs[extra.name] = []
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
        if value.final and value.index != len(self.layers):
            raise ConversionError(f"{self.where(node)}: it reads a final state (Y_h or Y_c of a {value.final} layer "
                                  "before the last), not each step's output; recur runs layers on every step's "
                                  "output (a head on the last step's h is the same head on every step: export "
                                  "the head on the whole output sequence and read the last step)")
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
        for input_name, uses in self.state_inputs.items():
            if not uses:
                raise ConversionError(f"graph input '{input_name}' is used by no recurrent node as its initial "
                                      "state; recur takes one sequence input (bind constants with --bind)")
            for layer, kind, start, stop, _ in uses:
                self.notes.append(f"graph input '{input_name}' rows {start}:{stop} are the initial {kind} of layer "
                                  f"{layer}: set them per stream with recur_stream_set_state (Python: "
                                  f"Stream.set_state({layer}, {kind}=...)); zero otherwise")
        self.output_name, self.output_final = name, value.final
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
        state = next((v for v in ins if isinstance(v, StateInput)), None)
        if state is not None:  # (recurrent nodes took theirs above)
            return [self.slice_state(node, op, ins, attrs, state)]
        filled = [v for v in ins if isinstance(v, Filled)]
        if filled and op in ("Unsqueeze", "Squeeze", "Reshape", "Transpose", "Slice", "Cast", "Identity", "Expand",
                             "Concat") and all(v.value == filled[0].value for v in filled) \
                and all(isinstance(v, (Filled, np.ndarray, Unknown)) or v is None for v in ins):
            return [filled[0]]
        seq = next((v for v in ins if isinstance(v, Seq)), None)
        if seq is not None and ins[0] is seq and op in ("Reshape", "Squeeze", "Unsqueeze", "Expand") \
                and any(isinstance(v, Unknown) for v in ins[1:]):
            # A shape computed from the sequence (torch.onnx with a dynamic
            # time axis): taken to keep each step's features; verified below.
            self.notes.append(f"{self.where(node)}: its shape is computed at run time; taken to keep each step's "
                              "features together")
            return [seq]
        if any(isinstance(v, Unknown) for v in ins):
            return [Unknown() for _ in node.output]
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
        if op == "Gather" and not seq.final:
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
            # The sequence is [T, B, F] or [B, T, F] with B = 1. Before opset
            # 13, Softmax flattens from `axis` on (default 1): axis 1 or 2
            # covers one step's features only in [T, 1, F].
            axis = attrs.get("axis", -1 if self.opset >= 13 else 1)
            if axis not in (-1, 2) and not (self.opset < 13 and axis == 1):
                raise ConversionError(f"{self.where(node)}: softmax over axis {axis} (opset {self.opset}) does not run "
                                      "over one step's features; recur's Softmax does (axis -1)")
            if self.opset < 13 and axis == 1:
                self.notes.append(f"{self.where(node)}: softmax from axis 1 (opset {self.opset}) is over one step's "
                                  "features only for a [time, batch 1, features] sequence; verified below")
            return [self.push(writer.Softmax(seq.width, name=node.name))]
        seqs = [v for v in ins if isinstance(v, Seq)]
        if op == "Concat" and seqs and all(v.final for v in seqs):
            # Final states of several layers stacked (Y_h / Y_c of a
            # multi-layer nn.LSTM): the streams' state, not a step output.
            return [Seq(None, -1, final="several layers'")]
        if op in ("Slice", "Split", "Gather") and seq is not None and seq.final:
            return [Seq(None, -1, final=seq.final) for _ in node.output]
        if op in ("Slice", "Split", "Gather") and seq is not None:
            raise ConversionError(f"{self.where(node)}: the sequence is cut into pieces ({op}); this is what an "
                                  "exporter does when it unrolls the recurrence over a fixed number of steps "
                                  "(torch.onnx.export(..., dynamo=True) does so for nn.RNN). recur needs an LSTM, GRU "
                                  "or RNN node: export with dynamo=False, which emits them")
        if op == "Concat":
            raise ConversionError(f"{self.where(node)}: Concat on the sequence path is not supported (only on "
                                  "constants, shapes and final states)")
        raise ConversionError(f"{self.where(node)}: op {op} is not supported")

    def slice_state(self, node, op, ins, attrs, state):
        """A state input through the ops exporters put between it and the
        recurrent nodes: Identity, Squeeze, Unsqueeze, and Slice or Gather of
        rows on axis 0."""
        if ins[0] is not state:
            raise ConversionError(f"{self.where(node)}: graph input '{state.name}' may only give recurrent nodes "
                                  "their initial state")
        if op in ("Identity", "Squeeze", "Unsqueeze", "Cast"):
            return state
        if op == "Slice":
            starts, ends = self.const(node, node.input[1], "starts"), self.const(node, node.input[2], "ends")
            axes = self.optional(node, 3)
            steps = self.optional(node, 4)
            if (axes is not None and list(axes.reshape(-1)) != [0]) or (steps is not None and int(steps.reshape(-1)[0]) != 1):
                raise ConversionError(f"{self.where(node)}: graph input '{state.name}' may only be sliced on axis 0")
            start, stop = int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0])
            stop = min(stop, state.stop - state.start) if stop >= 0 else (state.stop - state.start) + stop
            return StateInput(state.name, state.rows, state.start + start, state.start + stop)
        if op == "Gather" and attrs.get("axis", 0) == 0:
            index = int(self.const(node, node.input[1], "the index").reshape(-1)[0])
            return StateInput(state.name, state.rows, state.start + index, state.start + index + 1)
        raise ConversionError(f"{self.where(node)}: graph input '{state.name}' goes through {op}; it may only give "
                              "recurrent nodes their initial state (through Identity, Squeeze, Unsqueeze, Slice or "
                              "Gather on axis 0)")

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
        def initial(i, kind):
            if len(node.input) <= i or not node.input[i]:
                return None
            v = self.values.get(node.input[i])
            if isinstance(v, StateInput):
                if v.stop - v.start != D:
                    raise ConversionError(f"{self.where(node)}: initial_{kind} takes rows {v.start}:{v.stop} of graph "
                                          f"input '{v.name}', expected {D} (one per direction)")
                self.state_inputs[v.name].append((len(self.layers), kind, v.start, v.stop, D))
                return None
            return self.optional(node, i, filled=True)

        init_h = initial(5, "h")
        init_c = initial(6, "c") if op == "LSTM" else None
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
            # [D, B, H], or [B, D, H] with layout 1.
            v = v.reshape(-1, D, size)[:, d] if attrs.get("layout", 0) else v.reshape(D, -1, size)[d]
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


def _time_axis(dims, steps):
    """The time axis of a [T, B, F] or [B, T, F] input (B = 1), and how many
    steps to feed: a fixed time axis keeps its length."""
    d0, d1 = dims[0], dims[1]
    if d0 > 1 and d1 in (0, 1):
        return 0, d0
    if d1 > 1 and d0 in (0, 1):
        return 1, d1
    if d0 == 0 and d1 == 1:
        return 0, steps
    if d1 == 0 and d0 == 1:
        return 1, steps
    return 0, steps  # both symbolic: time first, the ONNX default


def verify(path, converter, layers, steps=300, tolerance=1e-4, seed=0, weights="fp32"):
    """Runs onnxruntime on the ONNX model and recur on the converted layers
    over the same random sequence (inputs of scale 3, so that gates
    saturate; random initial states for state inputs) and returns the
    largest absolute difference of the output. Raises ConversionError above
    `tolerance` (for reduced `weights`, beyond their budget:
    docs/quantization.md)."""
    import onnxruntime as ort

    from . import runtime
    from .conversion import BUDGETS, tolerance_for
    rng = np.random.default_rng(seed)
    model = runtime.Model(writer.dumps(layers, weights=weights))
    feeds = {}
    graph_input = converter.input
    dims = [d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    tokens = model.vocab_size > 0
    if len(dims) == 3 or (tokens and len(dims) == 2):
        axis, steps = _time_axis(dims, steps)
    elif len(dims) == 2 and not tokens:
        axis, steps = 0, (dims[0] if dims[0] > 0 else steps)
    else:
        axis = 0
    if tokens:
        x = rng.integers(0, model.vocab_size, size=steps)
        shape = [1, 1] if len(dims) == 2 else [1]
        shape[axis] = steps
        elem = graph_input.type.tensor_type.elem_type
        feeds[graph_input.name] = x.reshape(shape).astype(np.int64 if elem == 7 else np.int32)
    else:
        x = (rng.normal(size=(steps, model.input_size)) * 3).astype(np.float32)
        feeds[graph_input.name] = (x[:, None] if axis == 0 else x[None]) if len(dims) == 3 else x
    stream = model.stream()
    for name, uses in converter.state_inputs.items():
        info = next(i for i in converter.graph.input if i.name == name)
        sdims = [d.dim_value for d in info.type.tensor_type.shape.dim]
        rows = sdims[0] if sdims and sdims[0] > 0 else max(stop for _, _, _, stop, _ in uses)
        value = rng.uniform(-1, 1, size=(rows, 1, sdims[-1])).astype(np.float32)
        feeds[name] = value
        for layer, kind, start, stop, _ in uses:
            rows_of_layer = value[start:stop, 0].reshape(-1)
            h, c = stream.get_state(layer)
            if kind == "h":
                stream.set_state(layer, rows_of_layer, c)
            else:
                stream.set_state(layer, h, rows_of_layer)
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        want = session.run([converter.output_name], feeds)[0]
    except Exception as exc:  # onnxruntime's own errors have no common base
        raise ConversionError(f"verification: onnxruntime {ort.__version__} cannot run the graph over {steps} "
                              f"steps ({str(exc).strip().splitlines()[0][:300]}); an exporter may have fixed the "
                              "length of its example input in a Reshape despite a dynamic time axis (torch.onnx's "
                              "dynamo exporter does for some modules): verify at that length with --steps, or skip "
                              "the check with --no-verify") from None
    got = stream.run_tokens(x.astype(np.int32)) if tokens else stream.run(x)
    if converter.output_final:
        if converter.output_final != "forward":
            return None, f"not verified: output '{converter.output_name}' is the final state of a " \
                         f"{converter.output_final} layer"
        got, want = got[-1:], want.reshape(1, -1)
    else:
        want = np.moveaxis(want, [i for i, n in enumerate(want.shape) if n == steps][0], 0).reshape(steps, -1) \
            if steps in want.shape else want.reshape(steps, -1)
    if want.shape != got.shape:
        raise ConversionError(f"verification: onnxruntime gives output '{converter.output_name}' as {want.shape}, "
                              f"recur {got.shape}")
    err = float(np.abs(got.astype(np.float64) - want).max())
    detail = f"verified over {steps} steps against onnxruntime {ort.__version__}: max abs difference {err:.2e}"
    tolerance = tolerance_for(weights, tolerance, want)
    if not err <= tolerance:
        if weights != "fp32":
            raise ConversionError(f"{detail}, above the {weights} budget ({BUDGETS[weights]:.0%} of the largest "
                                  f"output: {tolerance:.3g}); choose wider weights")
        raise ConversionError(f"{detail}, above the tolerance {tolerance:g}; the converted model does not compute "
                              f"what the ONNX graph computes (outputs: {names})")
    return err, detail


def convert(path, bind=None, test_data=None, converter_out=None):
    """(layers, notes) for the ONNX model at `path`. `bind` maps graph input
    names to constant arrays; `test_data` is an ONNX test-data folder whose
    input_N.pb files give the graph inputs N >= 1 (input_0 is the sequence).
    `converter_out`, a list, receives the Converter (for verify)."""
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
    layers = converter.convert()
    if converter_out is not None:
        converter_out.append(converter)
    return layers, converter.notes


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m recur convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx_model")
    parser.add_argument("output")
    parser.add_argument("--test-data", help="ONNX test-data folder: input_N.pb (N >= 1) bind graph inputs N")
    parser.add_argument("--bind", action="append", default=[], metavar="NAME=FILE.pb",
                        help="give graph input NAME the value of a TensorProto file")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest absolute difference from onnxruntime accepted (default 1e-4)")
    parser.add_argument("--steps", type=int, default=300, help="steps of the verification sequence (default 300)")
    parser.add_argument("--no-verify", action="store_true", help="do not run onnxruntime against the result")
    from .conversion import add_weights_argument
    add_weights_argument(parser)
    args = parser.parse_args(argv)
    bind = {}
    for item in args.bind:
        name, _, file = item.partition("=")
        bind[name] = load_tensor(file)[1]
    import time
    started = [time.monotonic()]

    def stage(what):
        """Progress on stderr for a terminal, once the run takes over a second."""
        if sys.stderr.isatty() and time.monotonic() - started[0] > 1:
            print(f"recur convert: {what}...", file=sys.stderr, flush=True)

    converters = []
    try:
        stage("mapping the graph")
        layers, notes = convert(args.onnx_model, bind, args.test_data, converters)
    except ConversionError as exc:
        print(f"recur convert: {args.onnx_model}: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"recur convert: note: {note}", file=sys.stderr)
    verified = "not verified (--no-verify)"
    if not args.no_verify:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("recur convert: onnxruntime is not installed, so the result cannot be verified; install it "
                  "(pip install onnxruntime) or pass --no-verify", file=sys.stderr)
            return 1
        try:
            stage(f"verifying against onnxruntime over {args.steps} steps")
            _, verified = verify(args.onnx_model, converters[0], layers, args.steps, args.tolerance,
                                 weights=args.weights)
        except ConversionError as exc:
            print(f"recur convert: {args.onnx_model}: {exc}", file=sys.stderr)
            return 1
    size = writer.save(args.output, layers, producer=f"recur convert {args.onnx_model}", weights=args.weights)
    from .cli import info
    info(args.output, sys.stdout)
    print(f"{args.output}: {len(layers)} layers, {size} bytes; {verified}")
    return 0
