"""PyTorch modules to Recur layers, verified against PyTorch.

    layers, report = recur.from_torch(module, example_input)
    recur.save("model.recur", layers)

Read: nn.LSTM (num_layers, proj_size, bidirectional, batch_first, bias;
dropout is training-only), nn.GRU, nn.RNN (tanh, relu), nn.LSTMCell,
nn.GRUCell, nn.RNNCell, nn.Linear, nn.Embedding (first), the activations
Recur has (nn.Tanh, Sigmoid, ReLU, LeakyReLU, ELU, Softplus, Softsign,
Hardsigmoid, Softmax over the last dim, Identity, Dropout; and their
torch / torch.nn.functional / tensor-method forms), and modules whose
forward is a chain of those, found by torch.fx tracing: each operation
takes the previous one's result (the output sequence of a recurrent module,
`y, _ = self.lstm(x)`). Anything else is refused, naming the module or the
operation. PyTorch's layouts are Recur's own (docs/cells/*.md), so weights
are copied as they are.

Attention (recur.torch_modules.Attention) maps to Recur's attention
layer: forward then takes a second input, the memory (the encoder's
outputs), which only attention modules may read:
`def forward(self, tokens, memory): ... self.attend(h, memory) ...`.

`example_input` (one sequence: (T, I), (T, 1, I), or (1, T, I) when the
first recurrent module is batch_first; token ids for an embedding) runs
through the module and through the converted layers; they must agree
within `tolerance`. Without it, a random sequence of 300 steps is made.
`memory` (S, memory_size) is the attention's memory for that check (set on
each stream with Stream.set_memory); without it, random rows.
"""
import operator

import numpy as np

from . import writer
from .conversion import ConversionError, Report, add_weights_argument, failed, run_layers, write


def _np(t):
    return t.detach().cpu().numpy().astype(np.float32)


def _rnn_layers(m, where):
    """writer layers for nn.LSTM / GRU / RNN: one per PyTorch layer."""
    import torch.nn as nn
    kind = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}[type(m)]
    if kind == "rnn" and m.nonlinearity == "relu":
        kind = "rnn_relu"
    return _flat_layers(kind, [_np(w) for w in m._flat_weights], m.bias, m.num_layers, m.bidirectional)


def _flat_layers(kind, params, has_biases, num_layers, bidirectional):
    """writer layers from PyTorch's flat weight list (nn.LSTM._flat_weights,
    the params of aten.lstm): per layer and direction w_ih, w_hh, then b_ih,
    b_hh with biases, then w_hr with a projection."""
    make = {"lstm": writer.LSTM, "gru": writer.GRU, "rnn": writer.RNN, "rnn_relu": writer.RNN}[kind]
    options = {"f": "relu" if kind == "rnn_relu" else "tanh"} if make is writer.RNN else {}
    directions = 2 if bidirectional else 1
    per_cell = len(params) // (num_layers * directions)  # (the writer checks every shape)
    layers, at = [], 0
    for _ in range(num_layers):
        cells = []
        for _ in range(directions):
            mine = params[at:at + per_cell]
            at += per_cell
            w_ih, w_hh = mine[0], mine[1]
            b_ih, b_hh = (mine[2], mine[3]) if has_biases else (None, None)
            cell = make(w_ih, w_hh, b_ih, b_hh, **options)
            rest = mine[4 if has_biases else 2:]
            if rest:  # the projection
                cell.weight_proj = rest[0]
            cells.append(cell)
        if bidirectional:
            cells[0].direction, cells[0].backward = "bidirectional", cells[1]
        layers.append(cells[0])
    return layers


def _cell_layer(m):
    """writer layer for nn.LSTMCell / GRUCell / RNNCell: the same weights."""
    import torch.nn as nn
    kind = {nn.LSTMCell: writer.LSTM, nn.GRUCell: writer.GRU, nn.RNNCell: writer.RNN}[type(m)]
    options = {"f": "relu" if getattr(m, "nonlinearity", "tanh") == "relu" else "tanh"} if kind is writer.RNN else {}
    bias = m.bias_ih is not None
    return kind(_np(m.weight_ih), _np(m.weight_hh), _np(m.bias_ih) if bias else None,
                _np(m.bias_hh) if bias else None, **options)


class _Chain:
    """The layers being built, with the width and the notes."""

    def __init__(self):
        self.layers, self.notes, self.width = [], [], None
        self.batch_first = None  # of the first recurrent module
        self.memory_batch_first = True  # of the attention modules

    def activation(self, name, where, alpha=None, beta=None):
        if name == "softmax":
            self.layers.append(writer.Softmax(self.width))
            return
        if name == "identity":
            return
        last = self.layers[-1] if self.layers else None
        if isinstance(last, writer.Dense) and last.activation in (None, "identity"):
            last.activation, last.alpha, last.beta = name, alpha, beta
            return
        if self.width is None:
            raise ConversionError(f"{where}: an activation cannot be the first operation")
        self.layers.append(writer.Dense(np.eye(self.width, dtype=np.float32), None, name, alpha=alpha, beta=beta))
        self.notes.append(f"{where}: {name} after a layer that cannot take it runs as an identity dense layer")

    def module(self, m, where):
        import torch.nn as nn
        if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
            if self.batch_first is None:
                self.batch_first = m.batch_first
            if m.dropout and m.num_layers > 1:
                self.notes.append(f"{where}: dropout={m.dropout} applies in training only")
            self.layers.extend(_rnn_layers(m, where))
            self.width = self.layers[-1].output_size
        elif isinstance(m, (nn.LSTMCell, nn.GRUCell, nn.RNNCell)):
            self.layers.append(_cell_layer(m))
            self.width = m.hidden_size
        elif isinstance(m, nn.Linear):
            self.layers.append(writer.Dense(_np(m.weight), None if m.bias is None else _np(m.bias)))
            self.width = m.out_features
        elif isinstance(m, nn.Embedding):
            if self.layers:
                raise ConversionError(f"{where}: an embedding must be the first layer")
            if m.max_norm is not None:
                raise ConversionError(f"{where}: max_norm renormalises rows as they are looked up; Recur's "
                                      "embedding is a plain table")
            self.layers.append(writer.Embedding(_np(m.weight)))
            self.width = m.embedding_dim
        elif isinstance(m, (nn.Dropout, nn.Identity)):
            pass
        elif type(m).__name__ == "Attention" and type(m).__module__ == "recur.torch_modules":
            if self.width != m.query_size:
                raise ConversionError(f"{where}: its query_size is {m.query_size}, the previous layer gives {self.width}")
            weights = {}
            if m.score == "general":
                weights["weight"] = _np(m.weight)
            elif m.score == "additive":
                weights = {"weight_query": _np(m.query.weight), "weight_memory": _np(m.memory.weight),
                           "bias": None if m.memory.bias is None else _np(m.memory.bias), "v": _np(m.v)}
            self.layers.append(writer.Attention(m.score, m.query_size, m.memory_size, scale=m.scale, **weights))
            self.memory_batch_first = m.batch_first
            self.width = m.memory_size + m.query_size
        elif isinstance(m, nn.Softmax):
            if m.dim not in (-1, None):
                raise ConversionError(f"{where}: softmax over dim {m.dim}; Recur's is over the features (dim=-1)")
            self.activation("softmax", where)
        elif isinstance(m, nn.LeakyReLU):
            self.activation("leaky_relu", where, float(m.negative_slope))
        elif isinstance(m, nn.ELU):
            self.activation("elu", where, float(m.alpha))
        elif isinstance(m, nn.Softplus):
            if m.beta != 1 or m.threshold != 20:
                raise ConversionError(f"{where}: Softplus(beta={m.beta}, threshold={m.threshold}); Recur's "
                                      "softplus is beta=1, threshold=20")
            self.activation("softplus", where)
        elif type(m) in _MODULE_FUNCTIONS:
            name, alpha, beta = _MODULE_FUNCTIONS[type(m)]
            self.activation(name, where, alpha, beta)
        else:
            raise ConversionError(f"{where}: Recur has no layer for {type(m).__name__}; it maps LSTM, GRU, RNN, "
                                  "their cells, Linear, Embedding and activations")


_MODULE_FUNCTIONS = {}
_CALL_FUNCTIONS = {}
_PARAMETRIC = {}  # function -> (Recur name, its parameter's keyword, default)
_METHODS = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu"}
_SAME = {"contiguous", "clone", "detach", "float"}


def _tables():
    """Module types and functions that are one of Recur's activations."""
    if _MODULE_FUNCTIONS:
        return
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    _MODULE_FUNCTIONS.update({nn.Tanh: ("tanh", None, None), nn.Sigmoid: ("sigmoid", None, None),
                              nn.ReLU: ("relu", None, None), nn.Softsign: ("softsign", None, None),
                              nn.Hardsigmoid: ("hard_sigmoid", 1 / 6, 0.5)})
    for f, name in ((torch.tanh, "tanh"), (F.tanh, "tanh"), (torch.sigmoid, "sigmoid"), (F.sigmoid, "sigmoid"),
                    (torch.relu, "relu"), (F.relu, "relu"), (F.softsign, "softsign")):
        _CALL_FUNCTIONS[f] = name
    _PARAMETRIC.update({F.elu: ("elu", "alpha", 1.0), F.leaky_relu: ("leaky_relu", "negative_slope", 0.01)})


def _trace(module):
    """The module's operations in order, as (kind, target, node) from torch.fx."""
    import torch.fx as fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualified_name):  # Recur's own modules are layers
            return type(m).__module__ == "recur.torch_modules" or super().is_leaf_module(m, qualified_name)
    try:
        graph = fx.GraphModule(module, Tracer().trace(module)).graph
    except Exception as e:  # fx raises many kinds for code it cannot trace
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f"torch.fx cannot trace {type(module).__name__}.forward ({first}); Recur converts "
                              "modules whose forward is a chain of layers") from None
    graph.eliminate_dead_code()  # `y, _ = self.lstm(x)` leaves an unused element 1
    return list(graph.nodes)


def convert(module):
    """(layers, notes, batch_first, memory_batch_first) for a module: those
    of its first recurrent module and of its attention modules. Raises
    ConversionError."""
    import torch.nn as nn
    _tables()
    chain = _Chain()
    direct = (nn.LSTM, nn.GRU, nn.RNN, nn.LSTMCell, nn.GRUCell, nn.RNNCell, nn.Linear, nn.Embedding)
    if isinstance(module, direct):
        chain.module(module, type(module).__name__)
        return chain.layers, chain.notes, chain.batch_first, True
    nodes = _trace(module)
    modules = dict(module.named_modules())
    value = None  # the node holding the current sequence
    memory = None  # a second input: the attention modules' memory
    recurrent_output = None  # a recurrent module's (output, state) tuple, before [0]
    recurrent_nodes = set()
    for node in nodes:
        where = f"operation '{node.name}'"
        if node.op == "placeholder":
            if value is not None:
                if memory is not None:
                    raise ConversionError(f"{where}: forward takes more than two inputs; Recur converts one chain "
                                          "(and the memory of its attention layers)")
                memory = node
                continue
            value = node
            continue
        if node.op == "call_module" and type(modules[node.target]).__name__ == "Attention" and \
                type(modules[node.target]).__module__ == "recur.torch_modules":
            if memory is None or list(node.args[:2]) != [value, memory] or len(node.args) > 2 or node.kwargs:
                raise ConversionError(f"{where}: attention must take the previous result and forward's second input "
                                      "(its memory): self.attend(h, memory)")
            m = modules[node.target]
            chain.module(m, f"module '{node.target}' ({type(m).__name__})")
            value = node
            continue
        if node.op == "output":
            result = node.args[0]
            if result is not value:
                raise ConversionError("forward does not return the chain's last result (a tuple, or an earlier "
                                      "value); return the output sequence alone")
            break
        tensors = [a for a in node.args if isinstance(a, type(node))] + \
            [a for a in node.kwargs.values() if isinstance(a, type(node))]
        if memory is not None and memory in tensors:
            raise ConversionError(f"{where}: forward's second input (the memory) may only go to attention modules")
        if node.op == "call_function" and node.target is operator.getitem and node.args[0] in recurrent_nodes \
                and node.args[1] != 0:
            raise ConversionError(f"{where}: uses a recurrent module's final state; Recur's layers pass on their "
                                  "output sequence (element 0); read the state from a stream (get_state)")
        if recurrent_output is not None:
            if not (node.op == "call_function" and node.target is operator.getitem and
                    node.args[0] is recurrent_output and node.args[1] == 0):
                raise ConversionError(f"{where}: a recurrent module gives (output, state); Recur's layers pass on "
                                      "the output sequence alone: take element 0 right away (y, _ = self.rnn(x))")
            value, recurrent_output = node, None
            continue
        if tensors != [value]:
            raise ConversionError(f"{where} ({node.op} {getattr(node.target, '__name__', node.target)}) does not "
                                  "take exactly the previous result: forward is not one chain of layers")
        if node.op == "call_module":
            m = modules[node.target]
            chain.module(m, f"module '{node.target}' ({type(m).__name__})")
            value = node
            if isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
                recurrent_output, value = node, None
                recurrent_nodes.add(node)
        elif node.op == "call_function" and node.target in _CALL_FUNCTIONS:
            chain.activation(_CALL_FUNCTIONS[node.target], where)
            value = node
        elif node.op == "call_function" and node.target in _PARAMETRIC:
            name, key, default = _PARAMETRIC[node.target]
            alpha = node.kwargs.get(key, node.args[1] if len(node.args) > 1 else default)
            chain.activation(name, where, float(alpha))
            value = node
        elif (node.op == "call_function" and getattr(node.target, "__name__", "") == "softmax") or \
                (node.op == "call_method" and node.target == "softmax"):
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
            if dim != -1:
                raise ConversionError(f"{where}: softmax over dim {dim}; Recur's is over the features (dim=-1)")
            chain.activation("softmax", where)
            value = node
        elif node.op == "call_method" and node.target in _METHODS:
            chain.activation(_METHODS[node.target], where)
            value = node
        elif node.op == "call_method" and node.target in _SAME:
            value = node
        else:
            name = getattr(node.target, "__name__", node.target)
            raise ConversionError(f"{where}: Recur cannot run {node.op} {name}")
    if not chain.layers:
        raise ConversionError("the module has no layer Recur runs")
    if memory is not None and not any(isinstance(layer, writer.Attention) for layer in chain.layers):
        raise ConversionError("forward takes a second input but no attention module reads it; Recur converts one chain")
    return chain.layers, chain.notes, chain.batch_first, chain.memory_batch_first


def _sequence(example, batch_first, tokens):
    """example as (steps, features) (or (steps,) of tokens), and how to put
    it back in the module's layout."""
    a = np.asarray(example.detach().cpu().numpy() if hasattr(example, "detach") else example)
    if tokens:
        if a.ndim == 2 and 1 in a.shape:
            return a.reshape(-1), a.shape
        if a.ndim == 1:
            return a, a.shape
    else:
        if a.ndim == 2:
            return a.astype(np.float32), a.shape
        if a.ndim == 3 and (a.shape[0] if batch_first else a.shape[1]) == 1:
            return a.reshape(-1, a.shape[-1]).astype(np.float32), a.shape
    raise ConversionError(f"example_input has shape {a.shape}: give one sequence, (T, features), "
                          f"{'(1, T, features)' if batch_first else '(T, 1, features)'} or token ids (T,)")


def from_torch(module, example_input=None, tolerance=1e-5, verify=True, steps=300, seed=0, memory=None,
               weights="fp32"):
    """(layers, Report) for a PyTorch module: the layers for recur.save and
    the largest difference between the module's outputs and Recur's on
    example_input (or a random sequence of `steps` steps), which must be
    within `tolerance` (ConversionError otherwise). With attention, the
    check sets `memory` (rows, memory_size) (or random rows) on it.
    `weights` ("bf16", "int8") checks the layers with reduced weight
    matrices, against their budget (docs/quantization.md); save them with
    recur.save(..., weights=)."""
    import torch
    layers, notes, batch_first, memory_batch_first = convert(module)
    attention = [i for i, layer in enumerate(layers) if isinstance(layer, writer.Attention)]
    report = Report(notes, "PyTorch", weights=weights)
    if not verify:
        return layers, report
    tokens = isinstance(layers[0], writer.Embedding)
    if example_input is None:
        rng = np.random.default_rng(seed)
        if tokens:
            example_input = torch.from_numpy(rng.integers(0, layers[0].weight.shape[0], size=(steps,)))
        else:
            shape = (1, steps, layers[0].input_size) if batch_first else (steps, 1, layers[0].input_size)
            example_input = torch.from_numpy((rng.standard_normal(shape) * 3).astype(np.float32))
    xs, shape = _sequence(example_input, batch_first, tokens)
    rows = None
    if attention:
        width = layers[attention[0]].memory_size
        if any(layers[i].memory_size != width for i in attention):
            raise ConversionError("attention modules of different memory_size read the one memory input")
        rows = np.asarray(memory if memory is not None else
                          np.random.default_rng(seed + 1).standard_normal((9, width)), np.float32)
        if rows.ndim != 2 or rows.shape[1] != width:
            raise ConversionError(f"memory has shape {rows.shape}, expected (rows, {width})")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            if isinstance(module, (torch.nn.LSTMCell, torch.nn.GRUCell, torch.nn.RNNCell)):
                want, state = [], None  # a cell steps: one call per step, its state carried
                for x in torch.as_tensor(xs):
                    state = module(x[None], state)
                    want.append(state[0] if isinstance(state, tuple) else state)
                want = torch.cat(want)
            elif attention:
                m = torch.as_tensor(rows)[None] if memory_batch_first else torch.as_tensor(rows)[:, None]
                want = module(torch.as_tensor(xs.reshape(shape)), m)
            else:
                want = module(torch.as_tensor(xs.reshape(shape)))
    finally:
        module.train(was_training)
    if isinstance(want, tuple):  # a bare recurrent module
        want = want[0]
    got = run_layers(layers, xs, {i: rows for i in attention}, weights)
    report.compare(got, want.detach().cpu().numpy().reshape(len(xs), -1), tolerance)
    return layers, report


# ---- torch.export programs (.pt2) ---------------------------------------------------

_ATEN_RNN = {"aten.lstm.input": "lstm", "aten.gru.input": "gru", "aten.rnn_tanh.input": "rnn",
             "aten.rnn_relu.input": "rnn_relu"}
_ATEN_FUNCTIONS = {"aten.tanh.default": ("tanh",), "aten.sigmoid.default": ("sigmoid",),
                   "aten.relu.default": ("relu",), "aten.hardsigmoid.default": ("hard_sigmoid", 1 / 6, 0.5)}
_ATEN_SAME = {"aten.dropout.default", "aten.clone.default", "aten.contiguous.default", "aten.alias.default"}


def _arg(node, index, name, default):
    return node.kwargs.get(name, node.args[index] if len(node.args) > index else default)


def convert_exported(program):
    """(layers, notes, batch_first, example shape) for a torch.export
    ExportedProgram: its graph of aten operations, walked as one chain."""
    module = program.module()
    module.graph.eliminate_dead_code()  # the unused state elements of a recurrent layer
    chain = _Chain()
    tensors, zeros, recurrent_nodes = {}, set(), set()
    value, recurrent_output, shape = None, None, None
    for node in module.graph.nodes:
        target = str(node.target)
        where = f"operation '{node.name}' ({target})"
        if node.op == "get_attr":
            obj = module
            for part in node.target.split("."):
                obj = getattr(obj, part)
            tensors[node] = _np(obj)
            continue
        if node.op == "placeholder":
            if value is not None:
                raise ConversionError(f"{where}: the program takes more than one input; Recur converts one chain")
            value = node
            val = node.meta.get("val")
            shape = tuple(val.shape) if val is not None else None
            continue
        if node.op == "call_module":  # torch.export's input guards
            continue
        if node.op == "output":
            result = node.args[0]
            results = list(result) if isinstance(result, (tuple, list)) else [result]

            def is_state(n):  # element 1 (h, or (h, c)) of a recurrent layer's result
                return getattr(n, "target", None) is operator.getitem and n.args[0] in recurrent_nodes \
                    and n.args[1] != 0

            if is_state(results[0]):
                raise ConversionError(f"the program returns a recurrent layer's final state ('{results[0].name}'); "
                                      "Recur's layers pass on their output sequence: read the state from a stream")
            if not all(is_state(r) for r in results[1:]):
                raise ConversionError("the program returns more than its chain's last result")
            if len(results) > 1:
                chain.notes.append("the program also returns a recurrent layer's final state; a stream holds it "
                                   "(recur_stream_get_state)")
            result = results[0]
            if result is not value:
                raise ConversionError("the program does not return the chain's last result alone")
            break
        if target in ("aten.zeros.default", "aten.zeros_like.default"):
            zeros.add(node)
            continue
        if target == "<built-in function getitem>" and node.args[0] in recurrent_nodes and node.args[1] != 0:
            if all(user.op == "output" for user in node.users):
                continue  # returned beside the output (a bare recurrent module): the stream holds it
            raise ConversionError(f"{where}: uses a recurrent layer's final state; Recur's layers pass on "
                                  "their output sequence")
        if target == "<built-in function getitem>" and node.args[0] is recurrent_output:
            value, recurrent_output = node, None
            continue
        first = node.args[0] if node.args else None
        if target == "aten.embedding.default":
            first = node.args[1]
        if first is not value:
            raise ConversionError(f"{where} does not take the previous result: the program is not one chain")
        if target in _ATEN_RNN:
            states = node.args[1] if isinstance(node.args[1], (list, tuple)) else [node.args[1]]
            if any(s not in zeros for s in states):
                raise ConversionError(f"{where}: an initial state other than zeros; set it on the stream instead "
                                      "(recur_stream_set_state)")
            params = [tensors[p] for p in node.args[2]]
            has_biases, layers_, _, _, bidirectional, batch_first = node.args[3:9]
            if chain.batch_first is None:
                chain.batch_first = bool(batch_first)
            chain.layers.extend(_flat_layers(_ATEN_RNN[target], params, has_biases, layers_, bidirectional))
            chain.width = chain.layers[-1].output_size
            recurrent_output, value = node, None
            recurrent_nodes.add(node)
            continue
        if target == "aten.linear.default":
            bias = node.args[2] if len(node.args) > 2 else None
            weight = tensors[node.args[1]]
            chain.layers.append(writer.Dense(weight, None if bias is None else tensors[bias]))
            chain.width = weight.shape[0]
        elif target == "aten.embedding.default":  # first: its indices can only be the input
            weight = tensors[node.args[0]]
            chain.layers.append(writer.Embedding(weight))
            chain.width = weight.shape[1]
        elif target in _ATEN_FUNCTIONS:
            chain.activation(_ATEN_FUNCTIONS[target][0], where, *_ATEN_FUNCTIONS[target][1:])
        elif target == "aten.elu.default":
            if _arg(node, 2, "scale", 1) != 1 or _arg(node, 3, "input_scale", 1) != 1:
                raise ConversionError(f"{where}: a scaled elu (selu); Recur's elu has alpha only")
            chain.activation("elu", where, float(_arg(node, 1, "alpha", 1.0)))
        elif target == "aten.leaky_relu.default":
            chain.activation("leaky_relu", where, float(_arg(node, 1, "negative_slope", 0.01)))
        elif target == "aten.softplus.default":
            if _arg(node, 1, "beta", 1) != 1 or _arg(node, 2, "threshold", 20) != 20:
                raise ConversionError(f"{where}: softplus with beta or threshold; Recur's is beta=1, threshold=20")
            chain.activation("softplus", where)
        elif target in ("aten.softmax.int", "aten._softmax.default"):
            dim = _arg(node, 1, "dim", -1)
            rank = len(value.meta["val"].shape) if value is not None and "val" in value.meta else None
            if dim != -1 and dim != (rank - 1 if rank else None):
                raise ConversionError(f"{where}: softmax over dim {dim}; Recur's is over the features")
            chain.activation("softmax", where)
        elif target in _ATEN_SAME:
            pass
        else:
            raise ConversionError(f"{where}: Recur cannot run {target}")
        value = node
    if not chain.layers:
        raise ConversionError("the program has no layer Recur runs")
    return chain.layers, chain.notes, chain.batch_first, shape


def from_exported(program, tolerance=1e-5, verify=True, seed=0, weights="fp32"):
    """(layers, Report) for a torch.export ExportedProgram (torch.export.load
    of a .pt2 file), verified on a random input of the shape it was
    exported with."""
    import torch
    layers, notes, batch_first, shape = convert_exported(program)
    report = Report(notes, "PyTorch (torch.export)", weights=weights)
    if not verify:
        return layers, report
    rng = np.random.default_rng(seed)
    if isinstance(layers[0], writer.Embedding):
        example = torch.from_numpy(rng.integers(0, layers[0].weight.shape[0], size=shape))
    else:
        example = torch.from_numpy((rng.standard_normal(shape) * 3).astype(np.float32))
    xs, _ = _sequence(example, bool(batch_first), isinstance(layers[0], writer.Embedding))
    with torch.no_grad():
        want = program.module()(example)
    want = want[0] if isinstance(want, (tuple, list)) else want
    report.compare(run_layers(layers, xs, weights=weights), want.numpy().reshape(len(xs), -1), tolerance)
    return layers, report


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="recur convert", description="Convert a PyTorch model to .recur, "
                                     "verified against PyTorch: a torch.export program (.pt2), or with --trust a "
                                     "pickled whole module (.pt, .pth).")
    parser.add_argument("model", help="a .pt2 file (torch.export.save), or a pickled module with --trust")
    parser.add_argument("output")
    parser.add_argument("--trust", action="store_true", help="unpickle a whole module (unpickling runs code from "
                        "the file: only for files you trust)")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest absolute difference from PyTorch "
                        "accepted (default 1e-5)")
    parser.add_argument("--no-verify", action="store_true", help="do not run PyTorch against the result")
    add_weights_argument(parser)
    args = parser.parse_args(argv)
    import torch
    try:
        if args.model.lower().endswith(".pt2"):
            layers, report = from_exported(torch.export.load(args.model), args.tolerance, not args.no_verify,
                                           weights=args.weights)
        elif not args.trust:
            raise ConversionError("a pickled module is code as well as weights: unpickling runs whatever the file "
                                  "says. Pass --trust for a file you trust, or save the module with "
                                  "torch.export.save (model.pt2)")
        else:
            module = torch.load(args.model, weights_only=False, map_location="cpu")
            if not isinstance(module, torch.nn.Module):
                raise ConversionError(f"the file holds a {type(module).__name__}, not a module (a state_dict has "
                                      "no architecture: load it into its module and pass that to recur.from_torch)")
            layers, report = from_torch(module, None, args.tolerance, not args.no_verify, weights=args.weights)
    except (ConversionError, OSError, RuntimeError, ValueError) as exc:
        return failed(args.model, exc)
    return write(args.model, args.output, layers, report, "PyTorch")
