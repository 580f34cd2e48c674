"""``compile``: C source -> shared object."""
from __future__ import annotations

import itertools
import os
import platform
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .errors import CompileError, ConversionError, OutputError, one_line

#: default optimisation flags; -fPIC -shared -lm are always added
DEFAULT_FLAGS = ("-O3",)
#: added to every build, whatever ``flags`` says, so that every row of
#: ``name_batch`` is bitwise the single call: GCC contracts a*b+c into FMAs
#: where it sees them, and the single-row and row-blocked batch code expose
#: different pairs (e.g. an Affine op's product forwarded into the next op's
#: add in the single-row code only); its SLP (straight-line) vectoriser also
#: packs the small fixed-size loops of the two paths differently (fused or not
#: even under -ffp-contract=off).  Loop vectorisation stays on.  The dense
#: kernels use explicit fused multiply-adds instead, in the same order in both
#: paths (templates/file.c.j2: SKC_MACF, the x86-64-v3/v4 function versions).
ALWAYS_FLAGS = ("-ffp-contract=off", "-fno-tree-slp-vectorize")
#: no FMA contraction: bitwise-identical results on every CPU and clone.  GCC 12's
#: SLP vectoriser still forms fused (vfmsubadd) instructions in the AVX2/AVX-512
#: clones of small dense layers under -ffp-contract=off: it is switched off too
#: (loops are still vectorised).  SKC_REPRODUCIBLE makes the generated code use
#: scikinc's own math functions instead of the platform's libm (same bits on
#: every libm build and architecture)
REPRODUCIBLE_FLAGS = ("-ffp-contract=off", "-fno-tree-slp-vectorize", "-DSKC_REPRODUCIBLE=1")
#: environment variable whose flags are appended to every compile command
#: (e.g. ``-fsanitize=address,undefined`` for the sanitizer CI run)
EXTRA_FLAGS_ENV = "SCIKINC_EXTRA_CFLAGS"
#: build targets (GNU triples): the ``{arch}`` tag of output names and the Debian
#: packages holding their cross compilers (C, C++)
TARGETS = {
    "x86_64-linux-gnu": ("x86_64", "gcc-x86-64-linux-gnu", "g++-x86-64-linux-gnu"),
    "aarch64-linux-gnu": ("aarch64", "gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu"),
}
#: always added for aarch64 (which has FMA in its baseline and where GCC contracts
#: a*b+c by default): GCC fuses differently in the single-row and the batch code
#: paths (its SLP vectoriser multiplies some products apart and adds them unfused),
#: so batch rows would differ from single calls in the last bits
AARCH64_FLAGS = ("-ffp-contract=off",)
#: the placeholder in output paths replaced by the target's architecture
ARCH_TAG = "{arch}"


def host_target() -> str | None:
    """This machine's GNU triple when it is one of :data:`TARGETS`, else None."""
    if platform.system() != "Linux":
        return None
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    triple = f"{machine}-linux-gnu"
    return triple if triple in TARGETS else None


def resolve_target(target) -> str | None:
    """``target`` checked: None for a native build (None, "native" or this
    machine's own triple), else the foreign GNU triple."""
    if target is None or target == "native":
        return None
    if not isinstance(target, str) or target not in TARGETS:
        raise CompileError(f"unknown target {target!r}: choose one of {', '.join(sorted(TARGETS))} or 'native'")
    return None if target == host_target() else target


def target_arch(target) -> str:
    """The architecture tag of ``target`` (``{arch}`` in output names)."""
    t = resolve_target(target)
    if t is not None:
        return TARGETS[t][0]
    host = host_target()
    if host is not None:
        return TARGETS[host][0]
    return platform.machine().lower() or "native"


def expand_arch(output, target) -> Path:
    """``output`` with ``{arch}`` replaced by the target's architecture."""
    return Path(str(output).replace(ARCH_TAG, target_arch(target)))


def _cross_cc(cmd: list[str], target: str) -> list[str]:
    """The cross compiler for ``target``: gcc/g++ (a version suffix such as
    gcc-12 kept, any directory dropped; cc/c++ as gcc/g++; behind ccache too)
    become ``TRIPLE-gcc``/``TRIPLE-g++``; a compiler named ``TRIPLE-...`` is kept."""
    if Path(cmd[0]).name == "ccache" and len(cmd) > 1:
        return [cmd[0], *_cross_cc(cmd[1:], target)]
    name = Path(cmd[0]).name
    if name.startswith(target + "-"):
        return cmd
    name = {"cc": "gcc", "c++": "g++"}.get(name, name)
    if re.fullmatch(r"(gcc|g\+\+)(-[0-9.]+)?", name):
        return [f"{target}-{name}", *cmd[1:]]
    raise CompileError(f"cc={cmd[0]!r} cannot build for target {target!r}: use cc='gcc' or 'g++' (the cross "
                       f"compiler {target}-gcc / {target}-g++ is then used) or name the cross compiler itself")


def _split(what: str, text) -> list[str]:
    if not isinstance(text, str):
        raise CompileError(f"{what} must be a string, got {type(text).__name__}")
    try:
        return shlex.split(text)
    except ValueError as e:  # unbalanced quotes
        raise CompileError(f"{what} {text!r}: {e}") from e


def compiler_command(source: Path, output: Path, *, cc: str = "gcc", flags: Sequence[str] | str | None = None,
                     march_native: bool = False, reproducible: bool = False, target: str | None = None) -> list[str]:
    cmd = _split("cc", cc)
    if not cmd:
        raise CompileError("cc is empty: name a C or C++ compiler, e.g. cc='gcc'")
    foreign = resolve_target(target)
    if foreign is not None:
        if march_native:
            raise CompileError(f"march_native tunes for this machine's CPU: it cannot be combined with "
                               f"target={foreign!r}")
        cmd = _cross_cc(cmd, foreign)
    if isinstance(flags, str):
        flags = _split("flags", flags)
    elif flags is not None and not all(isinstance(f, str) for f in flags):
        raise CompileError(f"flags must be a list of strings, got {flags!r}")
    # the compiler is the last word before the first option: "ccache g++", "env CC=x g++ -m64"
    words = list(itertools.takewhile(lambda w: not w.startswith("-"), cmd)) or cmd[:1]
    is_cxx = "++" in Path(words[-1]).name
    cmd += ["-x", "c++" if is_cxx else "c"]
    cmd += list(DEFAULT_FLAGS if flags is None else flags)
    cmd += list(ALWAYS_FLAGS)
    if target_arch(target) == "aarch64":
        cmd += list(AARCH64_FLAGS)
    if reproducible:
        cmd += list(REPRODUCIBLE_FLAGS)
    if march_native:
        # one ISA level only: function multi-versioning brings nothing then.
        # GCC's tuning for AVX-512 Intel cores prefers 256-bit vectors, which
        # spills the batch kernels' 6 x 64 running sums (resgen batch 4.0 ->
        # 2.3 us/row with 512-bit ones, the v4 clone's width)
        cmd += ["-march=native", "-DSKC_NO_CLONES"]
        if target_arch(target) == "x86_64":
            cmd += ["-mprefer-vector-width=512"]
    cmd += _split(EXTRA_FLAGS_ENV, os.environ.get(EXTRA_FLAGS_ENV, ""))
    cmd += ["-fPIC", "-shared", "-o", str(output), str(source), "-lm"]
    return cmd


def compile(source_or_models, output: str | os.PathLike = "model.so", *, cc: str = "gcc",
            flags: Sequence[str] | str | None = None, march_native: bool = False, reproducible: bool = False,
            target: str | None = None, keep_source: bool = True, **convert_kwargs) -> Path:
    """Compile C source (a string holding C code) or models (anything
    :func:`scikinc.convert` takes, converted with ``convert_kwargs``) into a
    shared object at ``output``.  The C file is written beside it with the
    suffix ``.c``.  ``flags`` (a list, or one string split like a shell
    would) replace the default ``-O3``.  ``target`` (a GNU triple of
    :data:`TARGETS`, e.g. ``"aarch64-linux-gnu"``) cross-compiles with
    ``TRIPLE-gcc`` (``TRIPLE-g++`` when ``cc`` is a C++ compiler); None or
    ``"native"`` builds for this machine.  ``{arch}`` in ``output`` becomes the
    target's architecture (``model.{arch}.so`` -> ``model.aarch64.so``).
    Raises :class:`CompileError` with the compiler's stderr,
    :class:`OutputError` when ``output`` cannot be written."""
    from .core import convert

    if isinstance(source_or_models, str) and "\n" in source_or_models:
        source = source_or_models
        if convert_kwargs:
            raise ConversionError(f"conversion arguments {sorted(convert_kwargs)} given with ready C source")
    else:
        source = convert(source_or_models, **convert_kwargs)
    output = expand_arch(output, target)
    src_path = output.with_suffix(".c")
    if src_path == output:
        raise OutputError(f"{output}: name the shared object (e.g. model.so); its C source is written "
                          f"beside it with the suffix .c")
    cmd = compiler_command(src_path, output, cc=cc, flags=flags, march_native=march_native,
                           reproducible=reproducible, target=target)
    foreign = resolve_target(target)
    cross = next((w for w in cmd if Path(w).name.startswith(f"{foreign}-")), cmd[0]) if foreign else None
    if foreign is not None and cross is not None and shutil.which(cross) is None:
        pkg = TARGETS[foreign][2 if "++" in Path(cross).name else 1]
        raise CompileError(f"cross compiler {cross!r} for target {foreign!r} not found: install Debian's {pkg} "
                           f"(apt-get install {pkg})", command=cmd)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        src_path.write_text(source)
    except OSError as e:
        raise OutputError(f"{src_path}: cannot write ({e.strerror or one_line(e)})") from e
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise CompileError(f"compiler not found: {cmd[0]!r}", command=cmd) from e
    except OSError as e:
        raise CompileError(f"cannot run the compiler {cmd[0]!r}: {e.strerror or one_line(e)}", command=cmd) from e
    if res.returncode != 0:
        raise CompileError(f"compilation failed ({shlex.join(cmd)})", res.stderr, command=cmd)
    if not keep_source:
        src_path.unlink()
    return output
