"""Every cell option against the float64 NumPy reference (reference.py),
including what ONNX cannot express (projection, layer norm, cell-state clip),
plus token models, state hand-over and sequence-mode refusals."""
import numpy as np
import pytest

import recur
from reference import Reference

TOL = 1e-5
STEPS = 300


def u(rng, scale, *shape):
    return rng.uniform(-scale, scale, size=shape)


def lstm(rng, I, H, **options):
    k = 1 / np.sqrt(H)
    R = options.pop("R", H)
    return recur.LSTM(u(rng, k, 4 * H, I), u(rng, k, 4 * H, R), u(rng, k, 4 * H), u(rng, k, 4 * H), **options)


def gru(rng, I, H, **options):
    k = 1 / np.sqrt(H)
    return recur.GRU(u(rng, k, 3 * H, I), u(rng, k, 3 * H, H), u(rng, k, 3 * H), u(rng, k, 3 * H), **options)


def rnn(rng, I, H, **options):
    k = 1 / np.sqrt(H)
    return recur.RNN(u(rng, k, H, I), u(rng, k, H, H), u(rng, k, H), u(rng, k, H), **options)


def check(layers, inputs, steps=STEPS, seed=0, tokens=False):
    data = recur.dumps(layers)
    rng = np.random.default_rng(seed)
    if tokens:
        xs = rng.integers(0, layers[0].weight.shape[0], size=steps)
    else:
        xs = rng.normal(size=(steps, inputs)) * 1.5
    ref = Reference(data).run(xs)
    stream = recur.Model(data).stream()
    got = stream.run_tokens(xs) if tokens else stream.run(xs)
    assert got.shape == ref.shape
    err = np.abs(got - ref).max()
    assert err <= TOL, f"max error {err}"
    return got


LSTM_OPTIONS = {
    "peephole": lambda rng, H: dict(peephole=u(rng, 0.5, 3, H)),
    "input_from_forget": lambda rng, H: dict(coupling="input_from_forget"),
    "forget_from_input": lambda rng, H: dict(coupling="forget_from_input"),
    "clip": lambda rng, H: dict(clip=0.3),
    "cell_clip": lambda rng, H: dict(cell_clip=0.2),
    "projection": lambda rng, H: dict(weight_proj=u(rng, 0.4, 7, H), bias_proj=u(rng, 0.4, 7), R=7),
    "projection_clip": lambda rng, H: dict(weight_proj=u(rng, 0.9, 5, H), proj_clip=0.1, R=5),
    "layer_norm": lambda rng, H: dict(layer_norm=1 + u(rng, 0.3, 4, H)),
    "layer_norm_peephole_cifg": lambda rng, H: dict(layer_norm=1 + u(rng, 0.3, 4, H), peephole=u(rng, 0.5, 3, H),
                                                    coupling="input_from_forget"),
    "functions": lambda rng, H: dict(f=("hard_sigmoid", 0.2, 0.5), g=("leaky_relu", 0.1), h="softsign"),
    "functions2": lambda rng, H: dict(f=("scaled_tanh", 0.5, 0.7), g="elu", h=("affine", 0.5, 0.1)),
    "initial_state": lambda rng, H: dict(initial_h=u(rng, 1, H), initial_c=u(rng, 1, H)),
    # Format version 2: the survey's full peephole matrices (§5.1).
    "peephole_matrix": lambda rng, H: dict(peephole_matrix=u(rng, 0.4, 3 * H, H)),
    "peephole_matrix_survey": lambda rng, H: dict(peephole_matrix=u(rng, 0.4, 3 * H, H), output_peephole_previous=True),
    "peephole_diagonal_previous": lambda rng, H: dict(peephole=u(rng, 0.5, 3, H), output_peephole_previous=True),
    "peephole_matrix_everything": lambda rng, H: dict(peephole_matrix=u(rng, 0.4, 3 * H, H), peephole=u(rng, 0.5, 3, H),
                                                      layer_norm=1 + u(rng, 0.3, 4, H), weight_proj=u(rng, 0.4, 4, H),
                                                      R=4, cell_clip=1.0, coupling="forget_from_input"),
    "everything": lambda rng, H: dict(peephole=u(rng, 0.5, 3, H), clip=2.0, cell_clip=1.5, layer_norm=1 + u(rng, 0.3, 4, H),
                                      weight_proj=u(rng, 0.4, 6, H), bias_proj=u(rng, 0.1, 6), proj_clip=0.8, R=6,
                                      initial_c=u(rng, 1, H)),
}


@pytest.mark.parametrize("option", sorted(LSTM_OPTIONS))
@pytest.mark.parametrize("I,H", [(1, 5), (6, 17), (3, 33)])
def test_lstm_options(option, I, H):
    rng = np.random.default_rng(I * 100 + H)
    check([lstm(rng, I, H, **LSTM_OPTIONS[option](rng, H))], I)


@pytest.mark.parametrize("reset_before", [False, True])
@pytest.mark.parametrize("extra", [{}, {"clip": 0.4}, {"f": "hard_sigmoid", "g": "relu"}, {"initial_h": None}])
@pytest.mark.parametrize("I,H", [(1, 3), (5, 16), (4, 21)])
def test_gru_options(reset_before, extra, I, H):
    rng = np.random.default_rng(I * 100 + H)
    extra = dict(extra)
    if "initial_h" in extra:
        extra["initial_h"] = u(rng, 1, H)
    check([gru(rng, I, H, reset_before_matmul=reset_before, **extra)], I)


@pytest.mark.parametrize("f", ["tanh", "relu", "sigmoid", ("leaky_relu", 0.2), ("thresholded_relu", 0.1),
                               "softplus", "softsign", ("elu", 0.7)])
def test_rnn_functions(f):
    rng = np.random.default_rng(3)
    check([rnn(rng, 4, 19, f=f, clip=3.0)], 4)


@pytest.mark.parametrize("kind", [lstm, gru, rnn])
@pytest.mark.parametrize("direction", ["reverse", "bidirectional"])
def test_directions(kind, direction):
    rng = np.random.default_rng(5)
    backward = kind(rng, 3, 9) if direction == "bidirectional" else None
    layer = kind(rng, 3, 9, direction=direction, backward=backward)
    head = recur.Dense(u(rng, 0.5, 2, 7), u(rng, 0.5, 2), "tanh")
    check([layer, kind(rng, layer.output_size, 7), head], 3, steps=50)


def test_streaming_refuses_a_bidirectional_layer():
    rng = np.random.default_rng(6)
    layers = [lstm(rng, 2, 4), lstm(rng, 4, 4, direction="bidirectional", backward=lstm(rng, 4, 4))]
    stream = recur.Model(recur.dumps(layers)).stream()
    with pytest.raises(recur.RecurError) as err:
        stream.step(np.zeros(2))
    assert err.value.status == 12 and "layer 1" in err.value.detail and "bidirectional" in err.value.detail


@pytest.mark.parametrize("activation", ["identity", "relu", ("leaky_relu", 0.3), "hard_sigmoid", "softplus",
                                        ("affine", 2.0, -1.0), ("thresholded_relu", 0.2)])
def test_dense_activations(activation):
    rng = np.random.default_rng(7)
    name, *params = activation if isinstance(activation, tuple) else (activation,)
    dense = recur.Dense(u(rng, 1, 20, 6), u(rng, 1, 20), name, alpha=params[0] if params else None,
                        beta=params[1] if len(params) > 1 else None)
    check([dense], 6, steps=20)


def test_token_language_model_and_softmax():
    rng = np.random.default_rng(8)
    V, D, H = 40, 12, 24
    layers = [recur.Embedding(u(rng, 1, V, D)), lstm(rng, D, H), recur.Dense(u(rng, 0.5, V, H), u(rng, 0.5, V)),
              recur.Softmax(V)]
    got = check(layers, 1, tokens=True, steps=100)
    assert np.allclose(got.sum(axis=1), 1, atol=1e-5)
    model = recur.Model(recur.dumps(layers))
    assert model.vocab_size == V
    s = model.stream()
    with pytest.raises(recur.RecurError) as err:
        s.step_token(V)
    assert err.value.status == 13
    with pytest.raises(recur.RecurError) as err:
        s.step(np.zeros(1))
    assert err.value.status == 12
    # Sampling: stepping tokens one at a time equals the run.
    s.reset()
    tokens = [3, 1, 4, 1, 5]
    stepped = np.stack([s.step_token(t) for t in tokens])
    assert np.array_equal(stepped, model.stream().run_tokens(tokens))


def test_encoder_state_hands_over_to_decoder():
    """Sequence to sequence: an encoder's final (h, c) starts a decoder that
    is then stepped token by token, against the reference doing the same."""
    rng = np.random.default_rng(9)
    V, D, H = 30, 8, 16
    encoder = [recur.Embedding(u(rng, 1, V, D)), lstm(rng, D, H)]
    decoder = [recur.Embedding(u(rng, 1, V, D)), lstm(rng, D, H), recur.Dense(u(rng, 0.5, V, H), u(rng, 0.5, V)),
               recur.Softmax(V)]
    enc = recur.Model(recur.dumps(encoder)).stream()
    enc.run_tokens([4, 8, 15, 16, 23])
    h, c = enc.get_state(1)
    assert h.shape == (H,) and c.shape == (H,)
    dec = recur.Model(recur.dumps(decoder)).stream()
    dec.set_state(1, h, c)
    got_h, got_c = dec.get_state(1)
    assert np.array_equal(got_h, h) and np.array_equal(got_c, c)
    # Greedy decoding, 10 tokens, from token 0.
    token, produced, probabilities = 0, [], []
    for _ in range(10):
        p = dec.step_token(token)
        probabilities.append(p)
        token = int(np.argmax(p))
        produced.append(token)

    ref_enc = Reference(recur.dumps(encoder))
    ref_enc.run([4, 8, 15, 16, 23])
    ref_dec = Reference(recur.dumps(decoder))
    cell = ref_dec.layers[1][2][0]
    cell.h, cell.c = ref_enc.layers[1][2][0].h.copy(), ref_enc.layers[1][2][0].c.copy()
    assert np.abs(cell.h - h).max() <= TOL and np.abs(cell.c - c).max() <= TOL
    expected = ref_dec.run([0] + produced[:-1])
    assert np.abs(np.stack(probabilities) - expected).max() <= TOL


def test_format_version_is_the_oldest_that_computes_the_file():
    rng = np.random.default_rng(11)
    assert recur.load_message(recur.dumps([lstm(rng, 2, 4)])).format_version == 1
    assert recur.load_message(recur.dumps([gru(rng, 2, 4, update="candidate")])).format_version == 1
    two = [lstm(rng, 2, 4, peephole_matrix=u(rng, 0.4, 12, 4))]
    assert recur.load_message(recur.dumps(two)).format_version == 2
    backward = lstm(rng, 2, 4, output_peephole_previous=True)
    assert recur.load_message(recur.dumps([lstm(rng, 2, 4, direction="bidirectional", backward=backward)])).format_version == 2
    assert "peephole_matrix" in recur.Model(recur.dumps(two)).layers[0].options
    # A file newer than the library is refused, naming both versions.
    message = recur.load_message(recur.dumps(two))
    message.format_version = recur.FORMAT_VERSION + 1
    with pytest.raises(recur.UnsupportedVersionError, match=f"reads versions 1 to {recur.FORMAT_VERSION}"):
        recur.Model(recur.writer.frame(message.SerializeToString()))


def test_peephole_matrices_in_every_mode():
    """Bidirectional and multi-layer with matrices: whole sequences, and
    forward layers stepped, stepped in a group, and run in chunks agree."""
    rng = np.random.default_rng(12)
    H = 20
    def survey(width):
        return dict(peephole_matrix=u(rng, 0.4, 3 * width, width), output_peephole_previous=True)
    back = lstm(rng, 5, H, peephole_matrix=u(rng, 0.4, 3 * H, H))
    check([lstm(rng, 5, H, direction="bidirectional", backward=back, **survey(H)), lstm(rng, 2 * H, 9, **survey(9))], 5)
    data = recur.dumps([lstm(rng, 12, H, **survey(H)), lstm(rng, H, 7, peephole_matrix=u(rng, 0.4, 21, 7))])
    model = recur.Model(data)
    xs = rng.normal(size=(40, 12)).astype(np.float32)
    ran = model.stream().run(xs)
    alone = model.stream()
    stepped = np.array([alone.step(x) for x in xs])
    group = [model.stream() for _ in range(4)]
    together = np.array([model.step_streams(group, np.repeat(x[None], 4, axis=0)) for x in xs])
    assert np.array_equal(ran, stepped) and all(np.array_equal(together[:, k], stepped) for k in range(4))
    assert np.abs(ran - Reference(data).run(xs)).max() <= TOL


def survey_gru(x_seq, Wz, Wr, W, bz, br, b, H):
    """The survey's GRU (§5.2), in float64, from its equations: [h, x] is
    the concatenation, z weights the candidate."""
    h = np.zeros(H)
    out = []
    for x in x_seq:
        hx = np.concatenate([h, x])
        z = 1 / (1 + np.exp(-(Wz @ hx + bz)))
        r = 1 / (1 + np.exp(-(Wr @ hx + br)))
        candidate = np.tanh(W @ np.concatenate([r * h, x]) + b)
        h = (1 - z) * h + z * candidate
        out.append(h)
    return np.array(out)


@pytest.mark.parametrize("I,H", [(1, 6), (7, 19)])
def test_survey_gru_as_written(I, H):
    """GRU(update="candidate", reset_before_matmul=True) computes the
    survey's equations, with its weights [W_h | W_x] split into Recur's."""
    rng = np.random.default_rng(I + H)
    Wz, Wr, W = (u(rng, 0.6, H, H + I) for _ in range(3))
    bz, br, b = (u(rng, 0.5, H) for _ in range(3))
    weight_ih = np.concatenate([Wr[:, H:], Wz[:, H:], W[:, H:]])  # rows r, z, n
    weight_hh = np.concatenate([Wr[:, :H], Wz[:, :H], W[:, :H]])
    layer = recur.GRU(weight_ih, weight_hh, np.concatenate([br, bz, b]), None, reset_before_matmul=True,
                      update="candidate")
    xs = rng.normal(size=(200, I))
    got = recur.Model(recur.dumps([layer])).stream().run(xs)
    assert np.abs(got - survey_gru(xs, Wz, Wr, W, bz, br, b, H)).max() <= TOL


def test_survey_gru_refuses_an_asymmetric_gate_function():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="symmetric about 1/2"):
        recur.dumps([gru(rng, 2, 3, update="candidate", f="relu")])


@pytest.mark.parametrize("fused", [True, False])
def test_saturated_gates_hold_the_state_exactly(fused):
    """A forget gate saturated open and an input gate saturated shut keep c
    bit for bit, as float32 libm's sigmoid (exactly 1 and 0 out there) does;
    likewise a GRU's saturated update gate keeps h. (An approximation that
    stops at 1 - 1.4e-7 would leak 0.14% of the state over 10,000 steps.)"""
    H, I, steps = 16, 3, 10_000
    rng = np.random.default_rng(13)
    bias = np.zeros(4 * H)
    bias[:H], bias[H:2 * H] = -30, 30  # i shut, f open
    options = {} if fused else {"clip": 100.0}  # an option sends the cell down the general path
    c0, h0 = rng.uniform(-2, 2, H).astype(np.float32), rng.uniform(-1, 1, H).astype(np.float32)
    layer = recur.LSTM(np.zeros((4 * H, I)), np.zeros((4 * H, H)), bias, None, **options)
    stream = recur.Model(recur.dumps([layer])).stream()
    stream.set_state(0, h0, c0)
    stream.run(rng.normal(size=(steps, I)).astype(np.float32))
    assert np.array_equal(stream.get_state(0)[1], c0)
    gbias = np.zeros(3 * H)
    gbias[H:2 * H] = 30  # z open: h' = h
    gru_layer = recur.GRU(np.zeros((3 * H, I)), np.zeros((3 * H, H)), gbias, None, **options)
    stream = recur.Model(recur.dumps([gru_layer])).stream()
    stream.set_state(0, h0)
    stream.run(rng.normal(size=(steps, I)).astype(np.float32))
    assert np.array_equal(stream.get_state(0)[0], h0)
