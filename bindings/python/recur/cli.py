"""The `recur` command (also `python -m recur`):

    recur info MODEL.recur                 what is inside a model
    recur run MODEL.recur [IN.csv [OUT.csv]]
                                           stream CSV rows through a model
    recur convert MODEL.onnx OUT.recur     convert an ONNX model (needs onnx)
    recur convert MODEL.json OUT.recur     convert an RTNeural JSON model
    recur convert MODEL.keras OUT.recur    convert a Keras 3 model (needs keras)
    recur convert MODEL.pt2 OUT.recur      convert a torch.export program (needs torch)

Errors are one line on stderr and a nonzero exit status."""
import argparse
import contextlib
import os
import sys

RUN_HELP = """Each input row is one time step: input_size numbers separated by commas
(one integer token per row for a token model). Each output row is the
model's output for that step, written as soon as the step is done. Empty
lines and lines starting with # are skipped. A model with reverse or
bidirectional layers needs the whole sequence, so it reads every row first."""


class _Failure(Exception):
    """A one-line error for the user."""


def _parser():
    parser = argparse.ArgumentParser(prog="recur", description="Run trained recurrent networks (Recur).",
                                     epilog="recur COMMAND --help describes each command.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    info = commands.add_parser("info", help="what is inside a model",
                               description="Layers, sizes, parameters, options and metadata of a .recur file.")
    info.add_argument("model", help="a .recur file")
    run = commands.add_parser("run", help="stream CSV rows through a model", description=RUN_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("model", help="a .recur file")
    run.add_argument("input", nargs="?", default="-", help="CSV input (default: standard input)")
    run.add_argument("output", nargs="?", default="-", help="CSV output (default: standard output)")
    run.add_argument("--precision", type=int, default=9, help="significant digits of each output (default 9: "
                     "exact for float32)")
    commands.add_parser("convert", help="convert an ONNX model (needs the onnx package), a Keras model (.keras) "
                        "or an RTNeural JSON model to .recur", add_help=False)
    return parser


def _version():
    from . import __version__
    return f"recur {__version__}"


def _model(path):
    from .runtime import Model
    return Model(path)


def _options(layer):
    return ", ".join(sorted(layer.options)) or "-"


def info(path, out):
    from .runtime import isa
    model = _model(path)
    rows = [("#", "kind", "name", "direction", "in", "out", "hidden", "parameters", "functions", "options")]
    for i, layer in enumerate(model.layers):
        hidden = str(layer.hidden_size) if layer.hidden_size else "-"
        if layer.proj_size:
            hidden += f" (proj {layer.proj_size})"
        if layer.vocab_size:
            hidden = f"vocab {layer.vocab_size}"
        functions = " ".join(layer.functions) or "-"
        if layer.kind == "attention":  # the memory's width, the score
            hidden = f"memory {layer.memory_size}" + (f", units {layer.units}" if layer.units else "")
            functions = layer.score + (f" (scale {layer.scale:g})" if layer.scale != 1 else "")
        rows.append((str(i), layer.kind, layer.name or "-", layer.direction or "-", str(layer.input_size),
                     str(layer.output_size), hidden, f"{layer.parameters:,}", functions, _options(layer)))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    parameters = sum(layer.parameters for layer in model.layers)
    floats = lambda n: f"{n} float{'' if n == 1 else 's'} per step"
    takes = f"one token per step (vocabulary {model.vocab_size})" if model.vocab_size else floats(model.input_size)
    types = sorted({layer.weights for layer in model.layers if layer.parameters} - {"fp32"})
    stored = "float32" if not types else f"{' and '.join(types)} weight matrices, float32 elsewhere"
    print(f"{path}: {os.path.getsize(path):,} bytes, {parameters:,} parameters ({stored})", file=out)
    if types:  # how this load keeps them (recur_weight_storage, docs/quantization.md)
        kept = [f"{i}: {layer.storage}{' codes' if layer.weights == 'int8' and layer.storage == 'bf16' else ''}"
                for i, layer in enumerate(model.layers) if layer.weights != "fp32"]
        print(f"  kept as (weight_storage auto): {', '.join(kept)}", file=out)
    print(f"  input: {takes}; output: {floats(model.output_size)}", file=out)
    print(f"  a stream: {_stream_bytes(model):,} bytes; a snapshot: {model.snapshot_size:,} bytes"
          f"{' and its memory rows' if any(layer.kind == 'attention' for layer in model.layers) else ''}; "
          f"instruction set here: {isa()}", file=out)
    print(f"  producer: {model.producer or '-'}", file=out)
    print(file=out)
    for r in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip(), file=out)
    if model.metadata:
        print(file=out)
        print("  metadata:", file=out)
        for key, value in model.metadata.items():
            print(f"    {key}: {value}", file=out)
    return 0


def _stream_bytes(model):
    from ._native import lib
    return lib.recur_stream_size(model._handle)


def _rows(lines, width, tokens, name):
    """(line number, values) of each step row."""
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in text.split(",")]
        if len(cells) != width:
            raise _Failure(f"{name}, line {number}: {len(cells)} values, the model takes {width} per step")
        try:
            yield number, [int(c) for c in cells] if tokens else [float(c) for c in cells]
        except ValueError:
            raise _Failure(f"{name}, line {number}: {'an integer token' if tokens else 'numbers'} expected, "
                           f"got {text[:60]!r}") from None


def run(path, source, sink, precision):
    import numpy as np
    from .errors import RecurError
    model = _model(path)
    stream = model.stream()
    tokens = bool(model.vocab_size)
    width = 1 if tokens else model.input_size
    sequence = any(layer.direction in ("reverse", "bidirectional") for layer in model.layers)
    name = "standard input" if source is sys.stdin else source.name
    fmt = f"%.{precision}g"

    def write(ys):
        for y in np.atleast_2d(ys):
            sink.write(",".join(fmt % v for v in y) + "\n")

    try:
        if sequence:
            rows = [values for _, values in _rows(source, width, tokens, name)]
            if rows:
                write(stream.run_tokens([r[0] for r in rows]) if tokens else stream.run(np.array(rows)))
        else:
            for number, values in _rows(source, width, tokens, name):
                try:
                    write(stream.step_token(values[0]) if tokens else stream.step(values))
                except RecurError as e:
                    raise _Failure(f"{name}, line {number}: {e}") from None
                sink.flush()
    except BrokenPipeError:
        pass
    return 0


def _open(path, mode):
    if path == "-":
        return contextlib.nullcontext(sys.stdin if "r" in mode else sys.stdout)
    return open(path, mode, newline="")


def _first_path(args):
    """The first positional argument of `recur convert` (options that take
    a value skip it), or ""."""
    valued = {"--weights", "--tolerance", "--steps", "--bind", "--test-data"}
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in valued:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "convert":
        source = _first_path(argv[1:]).lower()  # the converter goes by the model's extension
        if source.endswith(".json"):
            from .rtneural_import import main as rtneural_main
            return rtneural_main(argv[1:])
        if source.endswith(".keras"):
            from .keras_import import main as keras_main
            return keras_main(argv[1:])
        if source.endswith((".pt2", ".pt", ".pth")):
            from .torch_import import main as torch_main
            return torch_main(argv[1:])
        try:
            import onnx  # noqa: F401
        except ModuleNotFoundError:
            print("recur: error: recur convert needs the onnx package (pip install onnx)", file=sys.stderr)
            return 1
        from .onnx_import import main as convert_main
        return convert_main(argv[1:])
    args = _parser().parse_args(argv)
    from .errors import RecurError
    try:
        if args.command == "info":
            return info(args.model, sys.stdout)
        with _open(args.input, "r") as source, _open(args.output, "w") as sink:
            return run(args.model, source, sink, args.precision)
    except BrokenPipeError:  # `recur info m.recur | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (_Failure, RecurError, OSError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"recur: error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
