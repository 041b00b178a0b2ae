"""Model.step_streams and step_streams_tokens: the same numbers as each
stream's own step, bit for bit, and every argument checked in Python terms."""
import threading

import numpy as np
import pytest

import recur
from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"
TEXTGEN = ROOT / "examples" / "textgen" / "kjv.recur"
VECTOR_MODELS = [FIXTURES / "lstm_i64_h130.recur", FIXTURES / "gru2_i24_h50.recur", FIXTURES / "mixed_i7.recur",
                 ROOT / "examples" / "forecast" / "sunspots.recur"]


@pytest.mark.parametrize("path", VECTOR_MODELS, ids=lambda p: p.stem)
def test_same_bits_as_step(path):
    model = recur.Model(path)
    n = 11
    rng = np.random.default_rng(1)
    many = [model.stream() for _ in range(n)]
    alone = [model.stream() for _ in range(n)]
    out = np.empty((n, model.output_size), np.float32)
    for step in range(6):
        xs = rng.standard_normal((n, model.input_size)).astype(np.float32)
        order = list(range(n)) if step % 2 == 0 else list(reversed(range(n)))
        got = model.step_streams([many[k] for k in order], xs[order], out=out if step == 3 else None)
        if step == 3:
            assert got is out
        for j, k in enumerate(order):
            assert np.array_equal(got[j], alone[k].step(xs[order][j]))
    for a, b in zip(many, alone):
        assert a.snapshot() == b.snapshot()


def test_tokens_same_bits_as_step_token():
    model = recur.Model(TEXTGEN)
    many = [model.stream() for _ in range(5)]
    alone = [model.stream() for _ in range(5)]
    for step in range(4):
        tokens = [(step * 7 + k * 3) % model.vocab_size for k in range(5)]
        got = model.step_streams_tokens(many, np.array(tokens))
        for k in range(5):
            assert np.array_equal(got[k], alone[k].step_token(tokens[k]))


def test_refusals_leave_streams_alone():
    model = recur.Model(FIXTURES / "lstm_i64_h130.recur")
    other = recur.Model(FIXTURES / "lstm_i64_h130.recur")
    streams = [model.stream() for _ in range(3)]
    before = [s.snapshot() for s in streams]
    xs = np.zeros((3, model.input_size), np.float32)
    with pytest.raises(recur.InvalidArgumentError, match=r"streams\[0\] and streams\[2\] are the same stream"):
        model.step_streams([streams[0], streams[1], streams[0]], xs)
    with pytest.raises(recur.InvalidArgumentError, match=r"streams\[1\] was created from another model"):
        model.step_streams([streams[0], other.stream(), streams[2]], xs)
    with pytest.raises(TypeError, match=r"streams\[1\] must be a recur.Stream"):
        model.step_streams([streams[0], "stream", streams[2]], xs)
    with pytest.raises(TypeError, match="streams must be a sequence"):
        model.step_streams(5, xs)
    with pytest.raises(recur.SizeMismatchError, match=r"expected \(3, 64\)"):
        model.step_streams(streams, xs[:, :10])
    with pytest.raises(recur.SizeMismatchError, match="out has"):
        model.step_streams(streams, xs, out=np.empty(5, np.float32))
    with pytest.raises(TypeError, match="xs must be real numbers"):
        model.step_streams(streams, [["a"] * 64] * 3)
    with pytest.raises(recur.UnsupportedError, match="use step_streams"):
        model.step_streams_tokens(streams, [1, 2, 3])
    # Another thread inside a call on one of the streams.
    streams[1]._busy.acquire()
    try:
        with pytest.raises(recur.StreamBusyError, match=r"streams\[1\]"):
            model.step_streams(streams, xs)
    finally:
        streams[1]._busy.release()
    assert [s.snapshot() for s in streams] == before
    streams[2].close()
    with pytest.raises(recur.BadHandleError, match=r"streams\[2\]: the stream is closed"):
        model.step_streams(streams, xs)
    model.close()
    with pytest.raises(recur.BadHandleError, match="the model is closed"):
        model.step_streams(streams[:2], xs[:2])
    assert streams[0].step(xs[0]).shape == (model.output_size,)  # streams outlive their model


def test_token_refusals():
    model = recur.Model(TEXTGEN)
    streams = [model.stream() for _ in range(2)]
    with pytest.raises(recur.OutOfRangeError, match=r"token 63 of streams\[1\]"):
        model.step_streams_tokens(streams, [0, model.vocab_size])
    with pytest.raises(TypeError, match="tokens must be integers"):
        model.step_streams_tokens(streams, [0.5, 1.0])
    with pytest.raises(recur.SizeMismatchError, match=r"expected \(2,\)"):
        model.step_streams_tokens(streams, [0, 1, 2])
    with pytest.raises(recur.UnsupportedError, match="use step_streams_tokens"):
        model.step_streams(streams, np.zeros((2, 1), np.float32))


def test_threads_step_their_own_groups():
    """Disjoint groups of one model's streams on two threads at once."""
    model = recur.Model(FIXTURES / "gru2_i24_h50.recur")
    groups = [[model.stream() for _ in range(8)] for _ in range(2)]
    twins = [[model.stream() for _ in range(8)] for _ in range(2)]
    xs = np.random.default_rng(2).standard_normal((50, 8, model.input_size)).astype(np.float32)
    results = [None, None]

    def work(g):
        results[g] = [model.step_streams(groups[g], x) for x in xs]

    threads = [threading.Thread(target=work, args=(g,)) for g in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g in range(2):
        for t, x in enumerate(xs):
            want = np.stack([twins[g][k].step(x[k]) for k in range(8)])
            assert np.array_equal(results[g][t], want)
