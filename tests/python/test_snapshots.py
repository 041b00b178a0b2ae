"""Stream.snapshot / restore, copies and pickles of streams: continuity bit
for bit (across a fresh load of the file, for every layer kind, for layers
that run backwards), and every damaged or foreign snapshot refused with the
stream unchanged."""
import copy
import pickle

import numpy as np
import pytest

import recur

RNG = np.random.default_rng(3)


def u(*shape):
    return RNG.uniform(-0.5, 0.5, size=shape)


def lstm(i, n, **kw):
    return recur.LSTM(u(4 * n, i), u(4 * n, n), u(4 * n), u(4 * n), **kw)


def gru(i, n, **kw):
    return recur.GRU(u(3 * n, i), u(3 * n, n), u(3 * n), u(3 * n), **kw)


MODELS = {
    "lstm_dense": [lstm(3, 6), recur.Dense(u(2, 6), u(2))],
    "lstm_projection": [recur.LSTM(u(16, 3), u(16, 2), u(16), u(16), weight_proj=u(2, 4), layer_norm=1 + u(4, 4))],
    "gru_rnn": [gru(3, 5), recur.RNN(u(4, 5), u(4, 4), u(4), u(4))],
    "sequence": [lstm(3, 4, direction="bidirectional", backward=lstm(3, 4)), gru(8, 3, direction="reverse")],
    "tokens": [recur.Embedding(u(9, 3)), lstm(3, 5), recur.Dense(u(9, 5), u(9)), recur.Softmax(9)],
}


@pytest.fixture(params=sorted(MODELS))
def path(request, tmp_path):
    p = tmp_path / f"{request.param}.recur"
    recur.save(p, MODELS[request.param], metadata={"name": request.param})
    return p


def drive(stream, steps, start):
    """`steps` steps (one run) of fixed inputs from step `start`."""
    if stream._vocab:
        return stream.run_tokens([(start + i) * 4 % stream._vocab for i in range(steps)])
    x = np.sin(np.arange(start * stream._x_count, (start + steps) * stream._x_count, dtype=np.float32))
    return stream.run(x.reshape(steps, stream._x_count))


def seeded(model):
    """A stream with a state of its own in every layer (so that backward
    cells have a start state that is not the file's)."""
    s = model.stream()
    for layer in range(model.layer_count):
        h, c = model.state_size(layer)
        s.set_state(layer, np.linspace(-0.3, 0.4, h), np.linspace(0.2, -0.1, c) if c else None)
    return s


def test_restore_into_a_fresh_load_continues_bit_for_bit(path):
    model = recur.Model(path)
    s = seeded(model)
    drive(s, 5, 0)
    snap = s.snapshot()
    assert isinstance(snap, bytes) and len(snap) == model.snapshot_size
    want = drive(s, 6, 5)
    for again in (recur.Model(path), recur.Model(path.read_bytes())):
        t = again.stream()
        t.restore(snap)
        assert np.array_equal(drive(t, 6, 5), want)
        assert t.snapshot() == s.snapshot()


def test_copies_are_independent_streams_in_the_same_state(path):
    model = recur.Model(path)
    s = seeded(model)
    drive(s, 3, 0)
    for make in (copy.copy, copy.deepcopy):
        c = make(s)
        assert c is not s and c._model is model
        assert c.snapshot() == s.snapshot()
        a = drive(c, 4, 3)
        assert c.snapshot() != s.snapshot()  # s did not move
        assert np.array_equal(drive(s, 4, 3), a)
        c.close()


def test_pickled_streams_continue(path):
    model = recur.Model(path)
    s = seeded(model)
    drive(s, 4, 0)
    blob = pickle.dumps(s)
    want = drive(s, 5, 4)
    t = pickle.loads(blob)
    assert t._model is not model and t._model._source == str(path.resolve())
    assert np.array_equal(drive(t, 5, 4), want)
    # Streams unpickled one by one share one Model.
    assert pickle.loads(blob)._model is t._model
    # A Model loaded from bytes pickles its bytes.
    b = recur.Model(path.read_bytes()).stream()
    b.restore(pickle.loads(blob).snapshot())
    c = pickle.loads(pickle.dumps(b))
    assert c._model._source == path.read_bytes()
    assert np.array_equal(drive(c, 5, 4), want)


def test_damaged_and_foreign_snapshots_are_refused_and_change_nothing(path, tmp_path):
    model = recur.Model(path)
    s = seeded(model)
    drive(s, 2, 0)
    snap = s.snapshot()
    target = model.stream()
    before = target.snapshot()
    for n in range(0, len(snap), max(1, len(snap) // 40)):
        with pytest.raises(recur.BadSnapshotError, match="truncated|fewer"):
            target.restore(snap[:n])
    for bit in range(0, len(snap) * 8, 7):
        bad = bytearray(snap)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((recur.BadSnapshotError, recur.UnsupportedVersionError)):
            target.restore(bad)
    with pytest.raises(recur.BadSnapshotError, match="bytes after"):
        target.restore(snap + b"\0")
    with pytest.raises(recur.BadSnapshotError, match="not a Recur stream snapshot"):
        target.restore(b"x" * len(snap))
    with pytest.raises(TypeError, match="bytes"):
        target.restore([1, 2, 3])
    # The same layers saved with other metadata: a changed file.
    changed = tmp_path / "changed.recur"
    recur.save(changed, MODELS[path.stem], metadata={"name": path.stem, "retrained": "no"})
    other = recur.Model(changed).stream()
    with pytest.raises(recur.WrongModelError, match="another model"):
        target.restore(other.snapshot())
    with pytest.raises(recur.WrongModelError):
        other.restore(snap)
    assert target.snapshot() == before


def test_unpickling_after_the_file_changed_loads_it_again(tmp_path):
    p = tmp_path / "m.recur"
    recur.save(p, MODELS["lstm_dense"])
    first = pickle.loads(pickle.dumps(recur.Model(p).stream()))  # keeps the first file's Model alive
    recur.save(p, [lstm(3, 6), recur.Dense(u(2, 6), u(2))])       # retrained: new weights, same path
    s = recur.Model(p).stream()
    drive(s, 3, 0)
    t = pickle.loads(pickle.dumps(s))
    assert t._model is not first._model
    assert t.snapshot() == s.snapshot()
