"""Reads librecur.so's disassembly and checks that nothing leaks across the
instruction-set tiers (RecurCore/Kernels/Tiers.swift):

- no AVX-512 (a zmm or k register) in any function of Recur's own modules
  outside the AVX-512 tier; no AVX at all (VEX or EVEX encoded, so no ymm and
  no FMA) in the baseline tier or in the code every CPU runs;
- every call a tier's function makes lands in the same tier: no call through
  the PLT (libm, memmove, memcpy, fmaf) from any tier's step path;
- inside a tier, calls go only to the functions that are out of line by
  design (one per cell or layer per step, STEP_FUNCTIONS): the activations,
  the multiply-accumulate loops and the copies are inlined, so live vectors
  stay in registers and the step's time does not depend on the stack;
- each tier holds its own copy of each cell's step function.

    python tests/isa/check_disassembly.py out/lib/librecur.so
"""
import re
import subprocess
import sys
from collections import defaultdict

TIERS = {"avx512": "RecurAVX512.", "avx2": "RecurAVX2.", "baseline": "RecurBaseline."}
OUR_MODULES = ("RecurCore.", "RecurFormat.", "Recur.", "RecurAVX512.", "RecurAVX2.", "RecurBaseline.")
STEP_FUNCTIONS = ["LSTMCell.step", "GRUCell.step", "GeneralCell.step", "DenseLayer.step", "SoftmaxLayer.step",
                  "GeneralCell.layerNorm", "Stream.runLayers", "LSTMCell.stepStreams", "GRUCell.stepStreams",
                  "LSTMCell.run", "GRUCell.run", "AttentionLayer.step", "AttentionLayer.setMemory",
                  "LSTMCell.stepNarrow", "GRUCell.stepNarrow", "DenseLayer.stepNarrow"]
# Sequence mode's chunks run only on tiers with tiles (MultiplyAdd.chunksSequences).
CHUNK_FUNCTIONS = ["LSTMCell.run", "GRUCell.run"]
UNCHUNKED_TIERS = {"baseline"}
# Out of line on purpose: the above (one call per cell or layer per step,
# per group of streams, per chunk of a sequence, or per memory set); the tier's entry points
# (one call per C call); and Stream.step, which recur_step and each step of
# a step-by-step recur_run call, so that both run the same code.
OUT_OF_LINE = STEP_FUNCTIONS + ["Stream.step", "Stream.stepToken", "Stream.run", "Stream.runTokens",
                                "Model.stepStreams"]


def functions(library):
    """{demangled name: [instruction text]} from objdump, names demangled by swift."""
    asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", library], capture_output=True, text=True,
                         check=True).stdout
    asm = subprocess.run(["swift", "demangle"], input=asm, capture_output=True, text=True,
                         check=True).stdout
    result, current = {}, None
    for line in asm.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            current = m.group(1)
            result[current] = []
        elif current and "\t" in line:
            result[current].append(line.split("\t", 1)[1].strip())
    return result


def tier_of(name):
    found = [t for t, marker in TIERS.items() if marker in name]
    return found[0] if len(found) == 1 else None


def main(library):
    funcs = functions(library)
    problems = []
    counts = defaultdict(int)
    for name, body in funcs.items():
        ours = any(m in name for m in OUR_MODULES) or name.startswith("recur_")
        if not ours:
            continue
        tier = tier_of(name)
        counts[tier or "common"] += 1
        # Instructions without the symbol names objdump adds in <...>.
        text = "\n".join(re.sub(r"<.*?>", "", insn) for insn in body)
        if tier != "avx512" and re.search(r"%zmm|%k[0-7]\b", text):
            problems.append(f"AVX-512 outside its tier: {name}")
        if tier in (None, "baseline") and re.search(r"%ymm|^v[a-z0-9]+\b", text, re.M):
            problems.append(f"AVX in {'the baseline tier' if tier else 'code every CPU runs'}: {name}")
        if tier is None:
            continue
        for insn in body:
            m = re.match(r"(?:call|jmp)q?\s+[0-9a-f]+ <(.*)>", insn)
            if not m:
                continue
            target = m.group(1)
            if "@plt" in target:
                problems.append(f"{tier} tier calls {target}: {name}")
            elif target.startswith(name):
                continue
            elif tier_of(target) == tier:
                if not any(f + "<" in target or f + "(" in target for f in OUT_OF_LINE):
                    problems.append(f"{tier} tier calls a helper out of line: {name}\n      -> {target}")
            elif insn.startswith("jmp") and not target.startswith(("$", "generic", "closure", "Recur", "static", "merged")):
                continue  # a jump inside the function (labels of local blocks)
            else:
                problems.append(f"{tier} tier calls outside it: {name}\n      -> {target}")
    for tier in TIERS:
        for step in STEP_FUNCTIONS:
            if tier in UNCHUNKED_TIERS and step in CHUNK_FUNCTIONS:
                continue
            if not any(step in n and tier_of(n) == tier for n in funcs):
                problems.append(f"the {tier} tier has no copy of {step}")
    print(f"functions of Recur's modules: {dict(counts)}")
    for p in problems:
        print("FAIL", p)
    print(f"check_disassembly: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
