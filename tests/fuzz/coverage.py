"""Summarises libFuzzer's -print_coverage=1 output (read from stdin) per
module of librecur: functions reached and edges covered, the Swift modules
apart from the C ones. Compiler-generated Swift functions (specialisations,
thunks, the @_cdecl entry points) carry no file; they are counted by the
module in their mangled name, and the standard library's code specialised
into librecur as "Swift (stdlib, specialised)".

    out/fuzz/fuzz_proto -runs=0 -print_coverage=1 CORPUS_DIR 2>&1 | python tests/fuzz/coverage.py"""
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^(UN)?COVERED_FUNC: hits: (\d+) edges: (\d+)/(\d+) (\S+) (\S+):\d+$")
MANGLED = re.compile(r"^\$s(\d+)([A-Za-z_]\w*)")
SWIFT_MODULES = ("Recur", "RecurFormat", "RecurCore", "RecurAVX512", "RecurAVX2", "RecurBaseline")


def module_of(name, path):
    if "/Sources/" in path:
        return path.split("/Sources/", 1)[1].split("/", 1)[0]
    if "/tests/" in path:
        return None  # the harness itself
    if name.startswith("recur_"):
        return "Recur"  # an exported C entry point
    if name.startswith("$ss"):
        return "Swift (stdlib, specialised)"
    m = MANGLED.match(name)
    if m:
        length, rest = int(m.group(1)), m.group(2)
        if rest[:length] in SWIFT_MODULES:
            return rest[:length]
    return "other"


def main():
    funcs = defaultdict(lambda: [0, 0, 0, 0])  # reached, functions, edges covered, edges
    for line in sys.stdin:
        m = LINE.match(line.strip())
        if not m:
            continue
        module = module_of(m.group(5), m.group(6))
        if module is None:
            continue
        f = funcs[module]
        f[0] += m.group(1) is None
        f[1] += 1
        f[2] += int(m.group(3))
        f[3] += int(m.group(4))
    if not funcs:
        sys.exit("no COVERED_FUNC lines on stdin (run the target with -runs=0 -print_coverage=1)")
    rows = sorted(funcs.items(), key=lambda kv: (kv[0] not in SWIFT_MODULES, kv[0]))
    print(f"| {'module':<28} | functions reached | edges covered |")
    print(f"| {'-' * 28} | ----------------- | ------------- |")
    total = [0, 0, 0, 0]
    for module, (reached, count, covered, edges) in rows:
        print(f"| {module:<28} | {reached:>7} / {count:<7} | {covered:>5} / {edges:<5} |")
        if module in SWIFT_MODULES:
            total = [a + b for a, b in zip(total, (reached, count, covered, edges))]
    print(f"| {'Swift code of librecur':<28} | {total[0]:>7} / {total[1]:<7} | {total[2]:>5} / {total[3]:<5} |")


if __name__ == "__main__":
    main()
