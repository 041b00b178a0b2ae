"""The Python bindings: loading, stepping, errors, and the writer."""
from pathlib import Path

import numpy as np
import pytest

import recur

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SUNSPOTS = ROOT / "examples" / "forecast" / "sunspots.recur"


def small_model(rng, hidden=5, inputs=3, outputs=2):
    return [recur.GRU(rng.normal(size=(3 * hidden, inputs)), rng.normal(size=(3 * hidden, hidden)),
                      rng.normal(size=3 * hidden), rng.normal(size=3 * hidden)),
            recur.Dense(rng.normal(size=(outputs, hidden)), rng.normal(size=outputs), "sigmoid")]


def test_isa_names_a_tier():
    assert recur.isa() in ("avx512", "avx2", "baseline")


def test_model_from_path_and_bytes_agree():
    a = recur.Model(SUNSPOTS)
    b = recur.Model(SUNSPOTS.read_bytes())
    assert (a.input_size, a.output_size) == (1, 1)
    xs = np.linspace(0, 150, 50, dtype=np.float32).reshape(-1, 1)
    assert np.array_equal(a.stream().run(xs), b.stream().run(xs))


def test_step_run_reset():
    model = recur.Model(recur.dumps(small_model(np.random.default_rng(0))))
    s = model.stream()
    xs = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    first = s.step(xs[0])
    assert first.dtype == np.float32 and first.shape == (2,)
    rest = s.run(xs[1:])
    assert rest.shape == (19, 2)
    s.reset()
    again = s.run(xs)
    assert np.array_equal(again[0], first)
    assert np.array_equal(again[1:], rest)
    assert ((again > 0) & (again < 1)).all()  # sigmoid head


def test_streams_are_independent():
    model = recur.Model(recur.dumps(small_model(np.random.default_rng(2))))
    a, b = model.stream(), model.stream()
    x = np.ones(3, dtype=np.float32)
    ya = [a.step(x) for _ in range(5)]
    yb = b.step(x)
    assert np.array_equal(ya[0], yb)
    assert not np.array_equal(ya[4], yb)


def test_wrong_sizes_raise_before_the_library():
    s = recur.Model(SUNSPOTS).stream()
    with pytest.raises(ValueError):
        s.step(np.zeros(2))
    with pytest.raises(ValueError):
        s.run(np.zeros((4, 2)))


def test_missing_file_raises_with_status_and_detail():
    with pytest.raises(recur.RecurError) as err:
        recur.Model("/nonexistent/model.recur")
    assert err.value.status == 3
    assert "/nonexistent/model.recur" in err.value.detail


def crafted_cases():
    lines = (FIXTURES / "bad" / "expected.txt").read_text().splitlines()
    return [line.split(" ", 2) for line in lines if line and not line.startswith("#")]


STATUS = {"BAD_FRAME": 4, "BAD_ENCODING": 5, "BAD_MODEL": 6, "UNSUPPORTED_VERSION": 7,
          "TOO_LARGE": 8, "UNSUPPORTED": 12}


@pytest.mark.parametrize("name,status,word", crafted_cases())
def test_corrupt_files_raise(name, status, word):
    with pytest.raises(recur.RecurError) as err:
        recur.Model(FIXTURES / "bad" / name)
    assert err.value.status == STATUS[status]
    assert word in err.value.detail


def test_writer_refuses_inconsistent_layers(tmp_path):
    rng = np.random.default_rng(3)
    layers = small_model(rng)
    layers[1] = recur.Dense(rng.normal(size=(2, 4)))  # GRU gives 5
    with pytest.raises(ValueError, match="previous layer"):
        recur.save(tmp_path / "x.recur", layers)
    with pytest.raises(ValueError, match="has shape"):
        recur.save(tmp_path / "x.recur", [recur.LSTM(np.zeros((8, 1)), np.zeros((8, 3)))])


def test_written_file_is_a_standard_lz4_frame_with_the_message():
    import lz4.frame
    data = recur.dumps(small_model(np.random.default_rng(4)), metadata={"k": "v"})
    assert data[:4] == b"\x04\x22\x4d\x18"
    info = lz4.frame.get_frame_info(data)
    assert info["content_checksum"] and info["content_size"] > 0
    message = recur.load_message(data)
    assert message.format_version == 1  # the oldest version that computes it (docs/format.md)
    assert message.layers[0].WhichOneof("kind") == "gru"
    assert message.metadata[0].key == "k"
