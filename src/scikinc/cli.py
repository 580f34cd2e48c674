"""The ``scikinC`` command.

    scikinC [name=]model.pkl [more ...] [-o model.C] [--float_t double] [--header m.h]
    scikinC compile [name=]model.pkl [more ...] -o model.so [--march-native] [--reproducible]
                    [--target x86_64-linux-gnu,aarch64-linux-gnu -o model.{arch}.so]
    scikinC validate ...      (see ``scikinC validate --help``)

Compatible with scripts written for the original scikinC: ``-f/--float_t``,
``-c/--copyright`` and ``-v/--version`` keep their meaning, and several
positional model files go into one C file.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .commands import SUBCOMMANDS, subcommand  # noqa: F401  (subcommand: the public decorator)
from .errors import CompileError, OptionError, OutputError, ScikincError, one_line


def _common(p: argparse.ArgumentParser) -> None:
    from . import __version__

    p.add_argument("models", nargs="+", metavar="[name=]MODEL",
                   help="model file (.pkl, .pickle, .joblib, .skops, .keras, .h5, SavedModel dir, XGBoost .json/.ubj, "
                        "LightGBM .txt, CatBoost .cbm/.json); "
                        "the C symbol is the file stem unless name= is given")
    p.add_argument("-f", "--float_t", "--float-t", dest="float_t", default="float",
                   choices=["float", "double", "long double"], help="C type of inputs, outputs and weights")
    p.add_argument("-c", "--copyright", default=None, help="text placed in the file's comment header")
    p.add_argument("--option", action="append", default=[], metavar="[SYMBOL.[STEP.]]KEY=VALUE",
                   help="converter option (repeatable): --option output=class applies to every model that "
                        "has that output, --option eff.output=class to the symbol eff only, "
                        "--option eff.clf.output=class to the step clf of eff")
    p.add_argument("--trust", action="append", default=[], metavar="TYPE",
                   help="extra type trusted when reading .skops files (repeatable)")
    p.add_argument("--no-optimize", action="store_true", help="do not fold affine ops into dense layers")
    p.add_argument("--weights", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="storage of the big dense layers' weights: float32 (FLOAT_T, default) or half-size "
                        "float16/bfloat16 widened in registers (see scikinC validate --weights for their error)")
    gen = p.add_argument_group("generative deployment: name(out, in, rnd) = post^-1(gen(concat(pre(in), rnd)))")
    gen.add_argument("--n-random", type=int, default=None, metavar="N",
                     help="export the (single) model as a generator taking N noise values per row")
    gen.add_argument("--preprocessing", default=None, metavar="FILE", help="transformer applied to the conditions")
    gen.add_argument("--postprocessing", default=None, metavar="FILE",
                     help="transformer fitted on the targets; its inverse is applied to the output")
    gen.add_argument("--noise-position", default="after", choices=["after", "before"],
                     help="noise after (default) or before the preprocessed conditions")
    p.add_argument("-v", "--version", action="version", version=f"scikinC (scikinc) {__version__}")


def _parse_value(v: str):
    """``--option`` values: integers, floats, true/false/none, else the string."""
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(v.lower(), v)


def _parse_options(items) -> dict:
    """``--option [SYMBOL.[STEP.]]KEY=VALUE`` arguments -> ``{dotted key: value}``
    (scoped by :mod:`scikinc.options`)."""
    out: dict[str, Any] = {}
    for it in items:
        if "=" not in it:
            raise OptionError(f"--option needs KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        k = k.strip()
        if not k:
            raise OptionError(f"--option {it!r}: the key before '=' is empty")
        v = _parse_value(v.strip())
        if k in out and out[k] != v:
            raise OptionError(f"--option {k} is given twice, as {out[k]!r} and {v!r}")
        out[k] = v
    return out


def _write(path, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or one_line(e)})") from e


def _models(args):
    """The positional models, wrapped in a Generative when --n-random is given."""
    if args.n_random is None:
        if args.preprocessing or args.postprocessing:
            raise ScikincError("--preprocessing/--postprocessing need --n-random (generative deployment)")
        return args.models
    from .deploy import Generative
    from .io import load_model_file, sanitize, split_spec

    if len(args.models) != 1:
        raise ScikincError("--n-random takes exactly one generator model")
    name, path = split_spec(args.models[0])
    trust = {"trust": args.trust}
    gen = Generative(
        generator=load_model_file(path, **trust),
        preprocessing=None if args.preprocessing is None else load_model_file(args.preprocessing, **trust),
        postprocessing=None if args.postprocessing is None else load_model_file(args.postprocessing, **trust),
        n_random=args.n_random,
        noise_position=args.noise_position,
    )
    return {name or sanitize(Path(path).stem if not Path(path).is_dir() else Path(path).name): gen}


def _convert_kwargs(args) -> dict:
    return dict(float_t=args.float_t, copyright=args.copyright, options=_parse_options(args.option),
                optimize=not args.no_optimize, trust=args.trust, weights=args.weights)


def convert_main(argv) -> int:
    from .core import convert, header

    p = argparse.ArgumentParser(
        prog="scikinC",
        description="Convert fitted scikit-learn / Keras models into C.  Subcommands: "
                    "'scikinC compile ...' builds a .so directly; 'scikinC validate ...' compares C with Python.",
    )
    _common(p)
    p.add_argument("-o", "--output", default=None, help="write the C source here (default: stdout)")
    p.add_argument("--header", default=None, metavar="FILE.h", help="also write a C header with prototypes")
    args = p.parse_args(argv)
    kw = _convert_kwargs(args)
    models = _models(args)
    src = convert(models, **kw)
    if args.header:
        hp = Path(args.header)
        guard = "SCIKINC_" + "".join(c if c.isalnum() else "_" for c in hp.name.upper())
        kw.pop("copyright")
        kw.pop("optimize")
        kw.pop("weights")
        _write(hp, header(models, guard=guard, **kw))
    if args.output:
        _write(args.output, src)
    else:
        sys.stdout.write(src)
    return 0


@subcommand("compile")
def compile_main(argv) -> int:
    from .compiler import ARCH_TAG, TARGETS, compile, expand_arch, resolve_target
    from .core import convert

    p = argparse.ArgumentParser(
        prog="scikinC compile", description="Convert models and build a shared object.",
        epilog="Cross builds: --target aarch64-linux-gnu uses aarch64-linux-gnu-gcc (Debian package "
               "gcc-aarch64-linux-gnu; aarch64-linux-gnu-g++ when --cc is a C++ compiler).  Several targets: "
               "--target x86_64-linux-gnu,aarch64-linux-gnu -o model.{arch}.so writes model.x86_64.so and "
               "model.aarch64.so from one conversion.")
    _common(p)
    p.add_argument("-o", "--output", default="model.so",
                   help="shared object to write (default: model.so); {arch} is replaced by the target's "
                        "architecture (x86_64, aarch64)")
    p.add_argument("--cc", default="gcc", help="C (or C++) compiler, default gcc")
    p.add_argument("--target", default="native", metavar="TRIPLE[,TRIPLE...]",
                   help=f"build for these platforms (comma-separated): native (default), {', '.join(sorted(TARGETS))}")
    p.add_argument("--march-native", action="store_true", help="tune for this CPU only (not portable)")
    p.add_argument("--reproducible", action="store_true",
                   help="-ffp-contract=off -fno-tree-slp-vectorize: bitwise-identical results on every CPU "
                        "(x86-64 and aarch64)")
    p.add_argument("--flags", default=None, help="optimisation flags replacing the default -O3 (quoted string)")
    args = p.parse_args(argv)
    targets = [t.strip() for t in args.target.split(",")]
    if any(not t for t in targets):
        raise CompileError(f"--target {args.target!r}: empty name in the list")
    for t in targets:
        resolve_target(t)  # unknown names fail before the conversion
    if len(targets) > 1 and ARCH_TAG not in args.output:
        raise CompileError(f"--target names {len(targets)} targets: the output needs the {ARCH_TAG} tag, "
                           f"e.g. -o model.{ARCH_TAG}.so, so that each target gets its own file")
    if len({expand_arch(args.output, t) for t in targets}) != len(targets):
        raise CompileError(f"--target {args.target!r} names the same platform twice")
    source = convert(_models(args), **_convert_kwargs(args))  # once for every target
    for t in targets:
        print(compile(source, args.output, cc=args.cc, march_native=args.march_native,
                      reproducible=args.reproducible, flags=args.flags, target=t))
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        if argv and argv[0] == "validate":
            from . import validation  # noqa: F401  (registers the subcommand)

            return SUBCOMMANDS["validate"](argv[1:])
        return convert_main(argv)
    except ScikincError as e:
        if os.environ.get("SCIKINC_TRACEBACK"):
            raise
        print(f"scikinC: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
