"""Lifetimes, threads and arguments of the Python bindings. Each case runs in
its own interpreter: a case that crashes the process (a segfault, a heap
abort) fails alone, with its signal, instead of taking the suite down."""
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = f"""
import copy, gc, pickle, random, sys, threading
import numpy as np
sys.path.insert(0, {str(ROOT / "bindings" / "python")!r})
import recur
LARGE = {str(ROOT / "tests" / "fixtures" / "lstm_i64_h130.recur")!r}   # 64 -> 130 LSTM, 447 KB of weights
SMALL = {str(ROOT / "examples" / "forecast" / "sunspots.recur")!r}
rng = np.random.default_rng(0)

def u(*shape):
    return rng.uniform(-0.4, 0.4, size=shape)

def token_model():
    return recur.Model(recur.dumps([recur.Embedding(u(40, 6)), recur.LSTM(u(32, 6), u(32, 8), u(32), u(32)),
                                    recur.Dense(u(40, 8), u(40))]))

def sequence_model():
    return recur.Model(recur.dumps([recur.GRU(u(15, 3), u(15, 5), u(15), u(15), direction="reverse")]))

def raises(kind, call, *words):
    try:
        call()
    except kind as e:
        for w in words:
            assert w in str(e), f"{{w!r}} not in {{str(e)!r}}"
        return e
    except Exception as e:
        raise AssertionError(f"expected {{kind.__name__}}, got {{type(e).__name__}}: {{e}}")
    raise AssertionError(f"expected {{kind.__name__}}, nothing was raised")
"""


def isolated(code):
    """Runs PRELUDE + code in a fresh interpreter; fails with its output."""
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code) + "\nprint('case done')\n"],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode < 0:
        pytest.fail(f"the interpreter died with {signal.Signals(-proc.returncode).name}\n{proc.stderr[-3000:]}")
    assert proc.returncode == 0 and "case done" in proc.stdout, proc.stderr[-3000:]


# ---- lifetimes -----------------------------------------------------------------

def test_stream_outlives_a_closed_model():
    isolated("""
        m = recur.Model(LARGE)
        s = m.stream()
        x = np.ones(64, dtype=np.float32)
        want = recur.Model(LARGE).stream().step(x)
        m.close()
        assert np.array_equal(s.step(x), want)
        del m; gc.collect()
        s.step(x)
    """)


def test_close_twice_and_in_any_order():
    isolated("""
        for order in range(4):
            m = recur.Model(LARGE)
            streams = [m.stream() for _ in range(3)]
            objects = [m] + streams
            random.Random(order).shuffle(objects)
            for o in objects:
                o.close()
                o.close()
    """)


def test_finalizers_in_any_order():
    isolated("""
        keep = []
        for k in range(50):
            m = recur.Model(SMALL)
            keep += [m] + [m.stream() for _ in range(k % 4)]
        random.Random(1).shuffle(keep)
        while keep:
            keep.pop()
            if len(keep) % 7 == 0:
                gc.collect()
    """)


def test_copies_of_a_model_share_it():
    isolated("""
        m = recur.Model(LARGE)
        a, b = copy.copy(m), copy.deepcopy(m)
        assert a is m and b is m
        s = a.stream()
        del m, a, b; gc.collect()
        s.step(np.zeros(64))
    """)


def test_a_stream_of_a_closed_model_pickles_but_does_not_copy():
    isolated("""
        m = recur.Model(SMALL)
        s = m.stream()
        s.step([0.5])
        m.close()
        raises(recur.BadHandleError, lambda: copy.copy(s), "closed Model")
        raises(recur.BadHandleError, lambda: copy.deepcopy(s), "closed Model")
        t = pickle.loads(pickle.dumps(s))  # the model is loaded again from its path
        assert np.array_equal(t.step([0.25]), s.step([0.25]))
    """)


def test_with_blocks_close():
    isolated("""
        with recur.Model(SMALL) as m:
            with m.stream() as s:
                s.step([1.0])
        e = raises(recur.BadHandleError, lambda: s.step([1.0]), "closed")
        assert "recur_" not in str(e), str(e)
        raises(recur.BadHandleError, lambda: m.stream(), "closed")
        raises(recur.BadHandleError, lambda: m.state_size(0), "closed")
        assert isinstance(e, recur.RecurError) and isinstance(e, ValueError)
    """)


def test_every_stream_method_after_close_speaks_python():
    isolated("""
        m = recur.Model(SMALL)
        s = m.stream()
        s.close()
        for call in (lambda: s.step([1.0]), lambda: s.run(np.zeros((3, 1))), lambda: s.get_state(0),
                     lambda: s.set_state(0, np.zeros(32), np.zeros(32)), lambda: s.reset()):
            e = raises(recur.BadHandleError, call, "stream is closed")
            assert "recur_" not in str(e) and "NULL" not in str(e), str(e)
    """)


# ---- threads -------------------------------------------------------------------

def test_one_stream_from_two_threads_raises():
    isolated("""
        m = recur.Model(LARGE)
        s = m.stream()
        xs = np.ones((20000, 64), dtype=np.float32)
        errors, done = [], []
        def worker(k):
            for _ in range(30):
                try:
                    if k % 2:
                        s.run(xs[: 2000 + k])
                    else:
                        s.step(xs[0])
                except RuntimeError as e:
                    errors.append(str(e))
            done.append(k)
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert len(done) == 4
        assert errors, "no concurrent use was detected"
        assert "another thread" in errors[0], errors[0]
        s.reset()
        assert np.array_equal(s.step(xs[0]), m.stream().step(xs[0]))
    """)


def test_different_streams_in_threads_agree_with_serial():
    isolated("""
        m = recur.Model(LARGE)
        xs = rng.normal(size=(300, 64)).astype(np.float32)
        want = m.stream().run(xs)
        got = [None] * 4
        streams = [m.stream() for _ in range(4)]  # made before close(), which may run before a thread starts
        def worker(k):
            got[k] = np.stack([streams[k].step(x) for x in xs])
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        m.close()   # the streams keep the weights
        for t in threads: t.join()
        for g in got:
            assert np.array_equal(g, want)
    """)


# ---- arguments -----------------------------------------------------------------

def test_tokens_are_range_checked_before_narrowing():
    isolated("""
        m = token_model()
        s = m.stream()
        y3 = s.step_token(3)
        s.reset()
        raises(recur.OutOfRangeError, lambda: s.step_token(2**32 + 3), "4294967299")
        raises(recur.OutOfRangeError, lambda: s.step_token(40), "40")
        raises(recur.OutOfRangeError, lambda: s.step_token(-1), "-1")
        raises(TypeError, lambda: s.step_token(3.7), "3.7")
        raises(TypeError, lambda: s.step_token("3"), "'3'")
        raises(TypeError, lambda: s.step_token(True), "True")
        assert np.array_equal(s.step_token(np.int64(3)), y3)   # numpy integers are integers
        s.reset()
        raises(recur.OutOfRangeError, lambda: s.run_tokens(np.array([1, 2**32 + 3], dtype=np.int64)), "4294967299")
        raises(recur.OutOfRangeError, lambda: s.run_tokens([5, 40]), "40")
        raises(TypeError, lambda: s.run_tokens(np.array([1.0, 2.5])), "float")
        raises(TypeError, lambda: s.run_tokens(["a"]), "")
        assert np.array_equal(s.step_token(3), y3)   # nothing above stepped the stream
    """)


def test_layers_are_range_checked():
    isolated("""
        m = token_model()
        s = m.stream()
        raises(recur.OutOfRangeError, lambda: s.get_state(2**64), str(2**64))
        raises(recur.OutOfRangeError, lambda: s.get_state(3), "3")
        raises(recur.OutOfRangeError, lambda: s.get_state(-1), "-1")
        raises(recur.OutOfRangeError, lambda: m.state_size(2**64 + 1), str(2**64 + 1))
        raises(TypeError, lambda: s.get_state(1.0), "1.0")
        h, c = s.get_state(1)
        raises(recur.SizeMismatchError, lambda: s.set_state(1, np.zeros(9), c), "9")
        raises(ValueError, lambda: s.set_state(1, np.zeros(9), c), "h")
    """)


def test_run_reserves_only_for_sequence_models():
    isolated("""
        from recur import runtime
        calls = []
        class Lib:   # the library, with recur_stream_reserve counted
            def __getattr__(self, name):
                fn = getattr(real_lib, name)
                if name == "recur_stream_reserve":
                    def spied(*args):
                        calls.append(args[1])
                        return fn(*args)
                    return spied
                return fn
        real_lib = runtime.lib
        runtime.lib = Lib()
        s = recur.Model(LARGE).stream()
        s.run(np.zeros((500, 64)))
        assert calls == [], calls
        q = sequence_model().stream()
        q.run(np.zeros((50, 3)))
        q.run(np.zeros((20, 3)))
        q.run(np.zeros((70, 3)))
        assert calls == [50, 70], calls
    """)


def test_errors_are_one_class_per_status():
    isolated("""
        e = raises(OSError, lambda: recur.Model("/nonexistent/model.recur"), "/nonexistent/model.recur")
        assert isinstance(e, recur.RecurError) and e.status == 3, type(e)
        raises(recur.BadFrameError, lambda: recur.Model(b"not a model at all"), "LZ4")
        s = recur.Model(SMALL).stream()
        e = raises(recur.SizeMismatchError, lambda: s.step(np.zeros(2)), "2")
        assert isinstance(e, ValueError)
        raises(recur.UnsupportedError, lambda: s.step_token(1), "token")
        raises(recur.UnsupportedError, lambda: token_model().stream().step(np.zeros(1)), "token")
        classes = {cls.status: cls for cls in recur.RecurError.__subclasses__()}
        assert sorted(classes) == list(range(1, len(classes) + 1)), sorted(classes)
    """)


def test_bad_arguments_to_step_and_load():
    isolated("""
        s = recur.Model(SMALL).stream()
        raises(TypeError, lambda: s.step(["a"]), "")
        raises(TypeError, lambda: recur.Model(12), "12")
        raises(recur.SizeMismatchError, lambda: s.run(np.zeros((3, 2))), "(3, 2)")
        raises(recur.SizeMismatchError, lambda: s.run(np.zeros((2, 3, 1))), "(2, 3, 1)")
    """)


# ---- loading -------------------------------------------------------------------

def test_load_limits_and_paths():
    isolated("""
        import os, tempfile
        raises(recur.TooLargeError, lambda: recur.Model(LARGE, max_stream_bytes=1024), "max_stream_bytes")
        raises(recur.TooLargeError, lambda: recur.Model(open(LARGE, "rb").read(), max_model_bytes=4096), "max_model_bytes")
        assert recur.Model(LARGE, max_layers=2, max_dimension=200).input_size == 64
        raises(TypeError, lambda: recur.Model(LARGE, max_widgets=3), "max_widgets")
        raises(ValueError, lambda: recur.Model(LARGE, max_layers=0), "max_layers")
        raises(TypeError, lambda: recur.Model(LARGE, max_layers=2.5), "2.5")
        raises(ValueError, lambda: recur.Model(LARGE + "\\0.txt"), "NUL")
        fifo = os.path.join(tempfile.mkdtemp(), "fifo")
        os.mkfifo(fifo)
        e = raises(OSError, lambda: recur.Model(fifo), "FIFO")   # refused at once, never blocks
        assert isinstance(e, recur.RecurIOError) and e.filename == fifo
        raises(OSError, lambda: recur.Model(os.path.dirname(fifo)), "directory")
    """)
