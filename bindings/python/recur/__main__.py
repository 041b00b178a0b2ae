"""python -m recur convert model.onnx model.recur"""
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("convert",):
        print("usage: python -m recur convert MODEL.onnx OUT.recur [--test-data DIR] [--bind NAME=FILE.pb]",
              file=sys.stderr)
        return 2
    from .onnx_import import main as convert_main
    return convert_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
