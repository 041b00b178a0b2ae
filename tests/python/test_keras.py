"""recur.from_keras and `recur convert model.keras`: Keras 3 models
(KERAS_BACKEND=torch) converted and run by Recur against Keras's own
outputs, within 1e-5; go_backwards, Bidirectional merge modes,
return_sequences=False, functional chains and every refusal."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import recur  # noqa: E402
from recur import keras_import  # noqa: E402
from recur.cli import main as cli_main  # noqa: E402

L = keras.layers
STEPS = 60


def biased():
    return keras.initializers.RandomNormal(stddev=0.5, seed=7)


def recur_outputs(layers, xs, tmp_path):
    recur.save(tmp_path / "m.recur", layers)
    model = recur.Model(tmp_path / "m.recur")
    stream = model.stream()
    return stream.run_tokens(xs) if model.vocab_size else stream.run(xs)


def inputs(width, seed=1):
    return (np.random.default_rng(seed).standard_normal((STEPS, width)) * 2).astype(np.float32)


def keras_outputs(model, xs):
    return model.predict(xs[None], verbose=0)[0]


def check(model, width, tmp_path, order="input", last=None):
    """Converts `model`, runs Recur and Keras on one sequence, compares."""
    keras.utils.set_random_seed(0)
    layers, report = recur.from_keras(model, steps=STEPS)
    assert report.max_error is not None and report.max_error < 1e-5
    xs = inputs(width)
    want = keras_outputs(model, xs)
    got = recur_outputs(layers, xs, tmp_path)
    if last == "last":
        got = got[-1]
    elif last == "first":
        got = got[0]
    elif order == "reversed":
        got = got[::-1]
    assert np.max(np.abs(got - want)) < 1e-5
    assert report.output_order == order
    return layers, report


def sequential(*layers, width=3):
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((None, width)), *layers])


@pytest.mark.parametrize("cell", [
    lambda: L.LSTM(7, return_sequences=True, bias_initializer=biased()),
    lambda: L.LSTM(7, return_sequences=True, activation="relu", recurrent_activation="hard_sigmoid",
                   use_bias=False),
    lambda: L.LSTM(7, return_sequences=True, activation="softsign", recurrent_activation="sigmoid",
                   bias_initializer=biased()),
    lambda: L.GRU(6, return_sequences=True, bias_initializer=biased()),
    lambda: L.GRU(6, return_sequences=True, reset_after=False, bias_initializer=biased()),
    lambda: L.GRU(6, return_sequences=True, activation="elu", recurrent_activation="hard_sigmoid"),
    lambda: L.SimpleRNN(5, return_sequences=True, activation="relu", bias_initializer=biased()),
    lambda: L.SimpleRNN(5, return_sequences=True, use_bias=False),
], ids=["lstm", "lstm-relu-hard-sigmoid-nobias", "lstm-softsign", "gru", "gru-reset-before", "gru-elu",
        "rnn-relu", "rnn-nobias"])
def test_cells_and_their_options(cell, tmp_path):
    check(sequential(cell(), L.Dense(2, activation="tanh")), 3, tmp_path)


def test_stacked_with_activation_layers(tmp_path):
    model = sequential(L.LSTM(8, return_sequences=True), L.Dropout(0.5), L.Activation("relu"),
                       L.TimeDistributed(L.Dense(6)), L.LeakyReLU(negative_slope=0.2), L.GRU(5, return_sequences=True),
                       L.ELU(alpha=0.7), L.Dense(4), L.ReLU(negative_slope=0.1), L.Dense(3), L.Softmax())
    layers, report = check(model, 3, tmp_path)
    assert any("identity dense layer" in n for n in report.notes)  # the relu after the LSTM


def test_go_backwards_returns_reversed_outputs(tmp_path):
    check(sequential(L.LSTM(6, return_sequences=True, go_backwards=True, bias_initializer=biased()), L.Dense(2)),
          3, tmp_path, order="reversed")


def test_go_backwards_then_forward(tmp_path):
    """The forward layer after a go_backwards one reads its reversed sequence:
    in input order that is a second reverse layer."""
    layers, _ = check(sequential(L.GRU(5, return_sequences=True, go_backwards=True),
                                 L.LSTM(4, return_sequences=True), L.Dense(2)), 3, tmp_path, order="reversed")
    assert [layer.direction for layer in layers[:2]] == ["reverse", "reverse"]
    layers, _ = check(sequential(L.GRU(5, return_sequences=True, go_backwards=True),
                                 L.LSTM(4, return_sequences=True, go_backwards=True), L.Dense(2)), 3, tmp_path)
    assert [layer.direction for layer in layers[:2]] == ["reverse", "forward"]


@pytest.mark.parametrize("merge", ["concat", "sum", "ave"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_bidirectional(cell, merge, tmp_path):
    inner = getattr(L, cell)(5, return_sequences=True, bias_initializer=biased())
    check(sequential(L.Bidirectional(inner, merge_mode=merge), L.Dense(3)), 3, tmp_path)


def test_last_step_only(tmp_path):
    check(sequential(L.LSTM(6), L.Dense(2, activation="sigmoid")), 3, tmp_path, last="last")
    check(sequential(L.GRU(6, go_backwards=True), L.Dense(2)), 3, tmp_path, last="first")


def test_embedding_token_model(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(20, 6),
                              L.LSTM(8, return_sequences=True), L.Dense(20, activation="softmax")])
    layers, report = recur.from_keras(model, steps=STEPS)
    assert report.max_error < 1e-5
    tokens = np.random.default_rng(6).integers(0, 20, STEPS)
    want = model.predict(tokens[None], verbose=0)[0]
    assert np.max(np.abs(recur_outputs(layers, tokens, tmp_path) - want)) < 1e-5


def test_functional_chain_and_stateful(tmp_path):
    keras.utils.set_random_seed(8)
    x = keras.Input((None, 4))
    y = L.Dense(2)(L.GRU(5, return_sequences=True)(L.Dense(6, activation="tanh")(x)))
    check(keras.Model(x, y), 4, tmp_path)
    stateful = keras.Sequential([keras.Input((None, 2), batch_size=1),
                                 L.LSTM(4, return_sequences=True, stateful=True), L.Dense(1)])
    xs = inputs(2, seed=9)
    first = stateful.predict(xs[None], verbose=0)[0]  # the state now holds this sequence
    layers, report = recur.from_keras(stateful, steps=STEPS)  # verified from a zero state
    assert report.max_error < 1e-5
    then = stateful.predict(xs[None], verbose=0)[0]  # continues from the state it had
    stream = recur.Model(recur.dumps(layers)).stream()
    assert np.max(np.abs(stream.run(xs) - first)) < 1e-5
    assert np.max(np.abs(stream.run(xs) - then)) < 1e-5  # a stream continues the same way


@pytest.mark.parametrize("build, message", [
    (lambda: sequential(L.Conv1D(4, 3), L.Dense(2)), r"Recur has no Conv1D layer"),
    (lambda: sequential(L.Bidirectional(L.LSTM(4), merge_mode="concat")), r"return_sequences=False"),
    (lambda: sequential(L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="mul")),
     r"merge_mode 'mul'"),
    (lambda: sequential(L.LSTM(4, return_sequences=True, activation="gelu")), r"activation 'gelu'"),
    (lambda: sequential(L.Dense(4, activation="selu")), r"activation 'selu'"),
    (lambda: sequential(L.LSTM(4, return_sequences=True, go_backwards=True),
                        L.Bidirectional(L.GRU(3, return_sequences=True))), r"reversed time order"),
    (lambda: sequential(L.ReLU(max_value=6.0)), r"max_value"),
    (lambda: sequential(L.TimeDistributed(L.BatchNormalization())), r"TimeDistributed\(BatchNormalization\)"),
])
def test_refusals(build, message):
    with pytest.raises(keras_import.ConversionError, match=message):
        recur.from_keras(build())


def test_branching_functional_model_refused():
    x = keras.Input((None, 3))
    a = L.Dense(4)(x)
    y = L.Add()([L.Dense(4)(a), a])
    with pytest.raises(keras_import.ConversionError, match="not one chain"):
        recur.from_keras(keras.Model(x, y))


def test_cli_keras_file(tmp_path, capsys):
    model = sequential(L.GRU(6, return_sequences=True, reset_after=False), L.Dense(2))
    path = tmp_path / "m.keras"
    model.save(path)
    assert cli_main(["convert", str(path), str(tmp_path / "m.recur")]) == 0
    assert "verified: within" in capsys.readouterr().out
    xs = inputs(3)
    got = recur_outputs(keras_import.convert(model)[0], xs, tmp_path)
    assert np.max(np.abs(recur.Model(tmp_path / "m.recur").stream().run(xs) - got)) == 0
    bad = sequential(L.Conv1D(2, 1))
    bad.save(tmp_path / "bad.keras")
    assert cli_main(["convert", str(tmp_path / "bad.keras"), str(tmp_path / "bad.recur")]) == 1
    assert "Conv1D" in capsys.readouterr().err


def two_inputs():
    a, b = keras.Input((None, 3)), keras.Input((None, 3))
    return keras.Model([a, b], L.Dense(2)(L.Concatenate()([a, b])))


@pytest.mark.parametrize("build, message", [
    (two_inputs, r"2 inputs and 1 outputs"),
    (lambda: sequential(L.Bidirectional(L.LSTM(4, return_sequences=True),
                                        backward_layer=L.GRU(4, return_sequences=True, go_backwards=True))),
     r"different kinds"),
    (lambda: sequential(L.Dense(4), L.Embedding(5, 3)), r"embedding must be the first layer"),
    (lambda: sequential(L.Dense(4), L.Softmax(axis=1)), r"softmax over axis 1"),
    (lambda: sequential(L.Dropout(0.1)), r"no layer Recur runs"),
])
def test_more_refusals(build, message):
    with pytest.raises(keras_import.ConversionError, match=message):
        recur.from_keras(build())


def test_verification_refuses_a_difference():
    with pytest.raises(keras_import.ConversionError, match=r"Recur and Keras differ by .* \(tolerance 0\)"):
        recur.from_keras(sequential(L.LSTM(5, return_sequences=True), L.Dense(2)), tolerance=0)


SATURATING = 1000


@pytest.mark.parametrize("cell", [
    lambda k: L.LSTM(12, return_sequences=True, kernel_initializer=k, bias_initializer=k),
    lambda k: L.GRU(12, return_sequences=True, kernel_initializer=k, bias_initializer=k),
    lambda k: L.GRU(12, return_sequences=True, reset_after=False, kernel_initializer=k, bias_initializer=k),
    lambda k: L.SimpleRNN(12, return_sequences=True, kernel_initializer=k, bias_initializer=k),
    lambda k: L.Bidirectional(L.LSTM(8, return_sequences=True, kernel_initializer=k), merge_mode="ave"),
], ids=["lstm", "gru", "gru-reset-before", "rnn", "bidirectional"])
def test_saturating_1000_steps(cell, tmp_path):
    """Large input weights and inputs: most gate values within 1e-3 of 0 or
    1, over 1000 steps, within 1e-5 of Keras."""
    keras.utils.set_random_seed(9)
    model = sequential(cell(keras.initializers.RandomNormal(stddev=2.0, seed=3)), L.Dense(3))
    xs = (np.random.default_rng(10).standard_normal((SATURATING, 3)) * 4).astype(np.float32)
    layers, _ = keras_import.from_keras(model, verify=False)
    got = recur_outputs(layers, xs, tmp_path)
    want = model.predict(xs[None], verbose=0)[0]
    assert np.max(np.abs(got - want)) < 1e-5
    first = model.layers[0]
    inner = getattr(first, "forward_layer", first)
    kernel = inner.get_weights()[0]
    pre = xs @ kernel  # the input part of every gate's pre-activation
    assert np.mean(np.abs(pre) > 7) > 0.3  # sigmoid(7) = 0.999: a third of the gate values saturated
