"""What a stream's state is, against the float64 reference (reference.py):
after creation and reset (the file's initial state), after set_state on
cells that run backwards (where their runs start), and layer norm at input
scales up to the float32 limit."""
import numpy as np
import pytest

import recur
from reference import Reference

TOL = 1e-5


def u(rng, scale, *shape):
    return rng.uniform(-scale, scale, size=shape)


def layers(rng, initial=None):
    """A reverse GRU, a bidirectional LSTM and a dense head; `initial` gives
    each cell an initial state in the file: {(layer, cell): (h, c)}."""
    initial = initial or {}

    def start(layer, cell, lstm):
        h, c = initial.get((layer, cell), (None, None))
        return dict(initial_h=h, initial_c=c) if lstm else dict(initial_h=h)

    w = {k: u(np.random.default_rng(7), 0.5, *shape) for k, shape in
         [("g_ih", (15, 3)), ("g_hh", (15, 5)), ("g_b", (15,)), ("f_ih", (16, 5)), ("f_hh", (16, 4)), ("f_b", (16,)),
          ("b_ih", (16, 5)), ("b_hh", (16, 4)), ("b_b", (16,)), ("d", (2, 8))]}
    return [
        recur.GRU(w["g_ih"], w["g_hh"], w["g_b"], w["g_b"] / 2, direction="reverse", **start(0, 0, False)),
        recur.LSTM(w["f_ih"], w["f_hh"], w["f_b"], w["f_b"] / 3, direction="bidirectional",
                   backward=recur.LSTM(w["b_ih"], w["b_hh"], w["b_b"], w["b_b"] / 3, **start(1, 1, True)),
                   **start(1, 0, True)),
        recur.Dense(w["d"], np.zeros(2), "tanh"),
    ]


def test_set_state_sets_where_backward_cells_start_every_run():
    rng = np.random.default_rng(0)
    states = {(0, 0): (u(rng, 0.8, 5), None), (1, 0): (u(rng, 0.8, 4), u(rng, 0.8, 4)),
              (1, 1): (u(rng, 0.8, 4), u(rng, 0.8, 4))}
    # The same model with those states written into the file as initial states.
    baked = Reference(recur.dumps(layers(rng, states)))
    stream = recur.Model(recur.dumps(layers(rng))).stream()
    stream.set_state(0, states[(0, 0)][0])
    stream.set_state(1, np.concatenate([states[(1, 0)][0], states[(1, 1)][0]]),
                     np.concatenate([states[(1, 0)][1], states[(1, 1)][1]]))
    for run in range(3):  # each run: backward cells from the set state, forward cells continue
        xs = rng.normal(size=(12 + run, 3))
        want = baked.run(xs)
        got = stream.run(xs)
        assert np.abs(got - want).max() <= TOL, f"run {run}"
        h, _ = stream.get_state(0)   # the reverse cell after the run: its state at step 0
        assert np.abs(h - baked.layers[0][2][0].h).max() <= TOL
        h, c = stream.get_state(1)
        cells = baked.layers[1][2]
        assert np.abs(h - np.concatenate([cells[0].h, cells[1].h])).max() <= TOL
        assert np.abs(c - np.concatenate([cells[0].c, cells[1].c])).max() <= TOL


def test_reset_undoes_set_state_on_backward_cells():
    rng = np.random.default_rng(1)
    model = recur.Model(recur.dumps(layers(rng)))
    xs = rng.normal(size=(10, 3))
    fresh = model.stream().run(xs)
    stream = model.stream()
    stream.set_state(0, np.ones(5))
    assert not np.array_equal(stream.run(xs), fresh)
    stream.reset()
    assert np.array_equal(stream.run(xs), fresh)


def test_creation_and_reset_give_the_files_initial_state():
    rng = np.random.default_rng(2)
    h0, c0 = u(rng, 0.9, 6), u(rng, 0.9, 6)
    data = recur.dumps([recur.LSTM(u(rng, 0.4, 24, 2), u(rng, 0.4, 24, 6), u(rng, 0.4, 24), u(rng, 0.4, 24),
                                   initial_h=h0, initial_c=c0)])
    stream = recur.Model(data).stream()
    h, c = stream.get_state(0)
    assert np.array_equal(h, h0.astype(np.float32)) and np.array_equal(c, c0.astype(np.float32))
    xs = rng.normal(size=(20, 2))
    want = Reference(data).run(xs)
    assert np.abs(stream.run(xs) - want).max() <= TOL
    stream.reset()
    h, c = stream.get_state(0)
    assert np.array_equal(h, h0.astype(np.float32)) and np.array_equal(c, c0.astype(np.float32))
    assert np.abs(stream.run(xs) - want).max() <= TOL


@pytest.mark.parametrize("scale", [1.0, 1e10, 1e20, 1e25, 1e30, 1e35, 3e38])
def test_layer_norm_is_finite_and_right_at_every_scale(scale):
    """Pre-activations stay finite in float32 here (|W| <= 0.4, two inputs),
    so the float64 reference is the answer at every scale."""
    rng = np.random.default_rng(3)
    H = 24
    data = recur.dumps([recur.LSTM(u(rng, 0.4, 4 * H, 2), u(rng, 0.4, 4 * H, H), u(rng, 0.4, 4 * H),
                                   u(rng, 0.4, 4 * H), layer_norm=1 + u(rng, 0.3, 4, H), peephole=u(rng, 0.5, 3, H))])
    xs = np.clip(rng.uniform(-1, 1, size=(40, 2)) * scale, -3.4e38, 3.4e38).astype(np.float32)
    want = Reference(data).run(xs.astype(np.float64))
    got = recur.Model(data).stream().run(xs)
    assert np.isfinite(want).all()
    assert np.isfinite(got).all(), f"non-finite outputs at scale {scale:g}"
    assert np.abs(got - want).max() <= TOL, f"max error {np.abs(got - want).max():g} at scale {scale:g}"
