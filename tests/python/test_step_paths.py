"""Stream.step's fast path (a float32 array of the right size, its buffer
handed to the library) and its slow path (anything else, converted) give
the same numbers, and out= writes in place with its own checks."""
import numpy as np
import pytest

import recur

RNG = np.random.default_rng(5)


@pytest.fixture
def model(tmp_path):
    u = lambda *s: RNG.uniform(-0.5, 0.5, size=s)
    p = tmp_path / "m.recur"
    recur.save(p, [recur.LSTM(u(16, 4), u(16, 4), u(16), u(16)), recur.Dense(u(4, 4), u(4))])
    return recur.Model(p)


def test_every_kind_of_x_gives_the_same_step(model):
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    readonly = np.frombuffer(x.tobytes(), dtype=np.float32)
    strided = np.repeat(x, 2)[::2]
    inputs = [x, x.astype(np.float64), list(map(float, x)), readonly, strided, x.reshape(2, 2)]
    assert not readonly.flags.writeable and not strided.flags.c_contiguous
    outs = []
    for value in inputs:
        s = model.stream()
        outs.append([s.step(value) for _ in range(3)])
    for o in outs[1:]:
        assert np.array_equal(np.array(o), np.array(outs[0]))
    assert readonly.tolist() == x.tolist()  # inputs are never written


def test_out_is_written_in_place_and_checked(model):
    a, b = model.stream(), model.stream()
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    y = np.empty(4, dtype=np.float32)
    for _ in range(3):
        want = a.step(x)
        assert b.step(x, out=y) is y and np.array_equal(y, want)
    same = x.copy()  # in place: input and output the same array (both have 4 floats)
    assert np.array_equal(b.step(same, out=same), a.step(x))
    with pytest.raises(TypeError, match="float32"):
        b.step(x, out=np.empty(4))
    with pytest.raises(recur.SizeMismatchError, match="out has 3"):
        b.step(x, out=np.empty(3, dtype=np.float32))
    with pytest.raises(TypeError, match="writable"):
        b.step(x, out=np.frombuffer(bytes(16), dtype=np.float32))
    with pytest.raises(recur.SizeMismatchError, match="x has 5"):
        b.step(np.zeros(5, dtype=np.float32))
    b.close()
    with pytest.raises(recur.BadHandleError, match="closed"):
        b.step(x)


def test_the_returned_array_is_new_and_writable_and_cached_views_follow_the_arrays(model):
    a, b = model.stream(), model.stream()
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    y1, y2 = b.step(x), b.step(x)
    assert y1 is not y2 and y1.flags.writeable and y1.shape == (4,) and y1.dtype == np.float32
    a.step(x), a.step(x)
    # The same x array refilled in place, and a different one: each call reads what x holds now.
    out = np.empty(4, dtype=np.float32)
    for k in range(3):
        x[:] = k * 0.1
        other = np.full(4, k * 0.1, dtype=np.float32)
        assert np.array_equal(a.step(x, out=out), b.step(other))
    with pytest.raises(ValueError):
        x.resize(8)  # the stream's view of x keeps numpy from moving its data
    a.close()
    x.resize(8)  # released on close
