"""``tfinpaint convert``: an official PyTorch checkpoint -> a tfinpaint run directory.

Example::

    tfinpaint convert --model rfr_net checkpoint_celeba.pth runs/rfr_celeba
    tfinpaint inpaint --model runs/rfr_celeba ...

writes ``OUT/config.json`` (``{"model", "config", "recipe", "converted_from", ...}``) and
``OUT/generator.weights.h5`` (and ``OUT/discriminator.weights.h5`` when the checkpoint holds
the discriminator too, e.g. MANet), the run-directory layout that ``tfinpaint.inference.load``,
``evaluate``, ``inpaint``, ``export`` and ``train --finetune-from`` read. The conversion is
strict: a checkpoint with a missing, extra or misshapen key is refused with the list of keys
(the official loaders use ``strict=False`` and would silently keep random weights).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import pathlib

from tfinpaint.cli import CLIError

HELP = "Convert an official PyTorch checkpoint (.pth, or .npz of its state_dict) to a run dir."

EPILOG = """\
Checkpoints: .pth/.pt need PyTorch installed (CPU wheel is enough); without it, save the
state_dict as .npz on a machine that has torch:
  numpy.savez("ckpt.npz", **{k: v.numpy() for k, v in torch.load(p)["generator"].items()})
A checkpoint may hold the bare state_dict or {"generator": state_dict, ...} (RFR-Net's training
script). Models with a converter: see `--model`.
"""


def _converter_models():
    from tfinpaint.models import registry

    return [n for n in registry.list_models() if registry.get_spec(n).converter]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert",
        help=HELP,
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="registered model name, e.g. rfr_net")
    p.add_argument("checkpoint", help="official checkpoint: .pth/.pt (needs torch) or .npz")
    p.add_argument("out", help="run directory to write (config.json + generator.weights.h5)")
    p.add_argument(
        "--ignore-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="skip state_dict keys starting with PREFIX (repeatable); by default every key "
        "must map",
    )
    p.add_argument(
        "--discriminator", default=None, metavar="DIS.pth",
        help="also convert the official discriminator checkpoint (models whose converter "
        "module has convert_discriminator, e.g. recurrent_refine); writes "
        "discriminator.weights.h5",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory's files"
    )
    p.set_defaults(func=run)
    return p


def _load_converter(name: str):
    from tfinpaint.models import registry

    try:
        spec = registry.get_spec(name)
    except KeyError as e:
        raise CLIError(e.args[0]) from None
    if not spec.converter:
        raise CLIError(
            f"model {name!r} has no checkpoint converter. Models with one: "
            f"{', '.join(_converter_models())}"
        )
    module_name, _, func_name = spec.converter.partition(":")
    return spec, getattr(importlib.import_module(module_name), func_name)


def run(args) -> int:
    spec, convert = _load_converter(args.model)
    checkpoint = pathlib.Path(args.checkpoint)
    if not checkpoint.is_file():
        raise CLIError(f"file {checkpoint}: checkpoint not found")
    out = pathlib.Path(args.out)
    config_path = out / "config.json"
    weights_path = out / "generator.weights.h5"
    if not args.overwrite and (config_path.exists() or weights_path.exists()):
        raise CLIError(
            f"directory {out}: already holds a run ({config_path.name} / {weights_path.name}); "
            "pass --overwrite to replace it"
        )
    try:
        model = convert(str(checkpoint), ignore_prefixes=tuple(args.ignore_prefix))
    except ImportError as e:
        raise CLIError(f"file {checkpoint}: {e}") from None
    except ValueError as e:
        raise CLIError(f"file {checkpoint}: {e}") from None

    discriminator = None
    if args.discriminator:
        convert_d = getattr(importlib.import_module(spec.converter.partition(":")[0]),
                            "convert_discriminator", None)
        if convert_d is None:
            raise CLIError(f"model {spec.name!r} has no discriminator converter")
        if not pathlib.Path(args.discriminator).is_file():
            raise CLIError(f"file {args.discriminator}: checkpoint not found")
        try:
            discriminator = convert_d(args.discriminator,
                                      ignore_prefixes=tuple(args.ignore_prefix))
        except (ImportError, ValueError) as e:
            raise CLIError(f"file {args.discriminator}: {e}") from None

    config = dict(getattr(model, "conversion_config", {}) or {})
    out.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(weights_path))
    # A discriminator converted from its own checkpoint (--discriminator, Baik) or from the
    # generator's (MANet's generator./discriminator. state_dict) is kept beside the generator,
    # so `train --finetune-from OUT` continues the GAN from it.
    if discriminator is None:
        discriminator = getattr(model, "converted_discriminator", None)
    if discriminator is not None:
        d_path = out / "discriminator.weights.h5"
        discriminator.save_weights(str(d_path))
        print(f"Wrote {d_path} ({len(discriminator.weights)} variables)")
    run_config = {
        "model": spec.name,
        "config": config,
        "recipe": spec.recipe,
        "converted_from": str(checkpoint.resolve()),
        "converted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "ignored_prefixes": list(args.ignore_prefix),
    }
    config_path.write_text(json.dumps(run_config, indent=2) + "\n")
    n_vars = len(model.weights)
    print(f"Converted {checkpoint} ({spec.name}, config {config}): {n_vars} variables")
    print(f"Wrote {config_path} and {weights_path}")
    return 0
