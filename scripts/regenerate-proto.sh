#!/usr/bin/env bash
# Regenerates the code derived from proto/recur.proto:
#   Sources/CRecurProto/        protobuf-c output (C reader used by librecur)
#   bindings/python/recur/recur_pb2.py   Python classes used by the writer
# Needs Debian's protobuf-c-compiler and protobuf-compiler. The output is
# committed; run this after any change to the .proto and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc-c --proto_path=proto --c_out="$tmp" proto/recur.proto
mkdir -p Sources/CRecurProto/include
mv "$tmp/recur.pb-c.h" Sources/CRecurProto/include/recur.pb-c.h
# The generated .c includes "recur.pb-c.h"; SwiftPM finds it in include/.
mv "$tmp/recur.pb-c.c" Sources/CRecurProto/recur.pb-c.c
protoc --proto_path=proto --python_out=bindings/python/recur proto/recur.proto
echo "regenerated from proto/recur.proto with $(protoc-c --version | head -1) and $(protoc --version)"
