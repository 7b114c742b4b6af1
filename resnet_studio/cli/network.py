"""`presets`, `recipes` and `summary`: the networks and recipes there are, and a network's figures."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from resnet_studio.architecture.analysis import si_units
from resnet_studio.cli.common import print_json, spec_of
from resnet_studio.errors import UserError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("presets", help="list the built-in networks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_presets)
    p = sub.add_parser("recipes", help="list the training recipes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_recipes)
    p = sub.add_parser("summary", help="per-layer shapes, parameters and multiply-accumulates")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "network", nargs="?", metavar="NETWORK", help="a preset's name or an architecture file, as below"
    )
    group.add_argument("--preset", metavar="NAME", help="a built-in network (see `presets`)")
    group.add_argument("--arch", metavar="FILE", help="an architecture file (*.resnet.json)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_summary)


def cmd_presets(args: argparse.Namespace) -> int:
    from resnet_studio.architecture import PRESETS, analyze

    rows: list[dict[str, Any]] = []
    for name, preset in PRESETS.items():
        a = analyze(preset.spec)
        rows.append(
            {
                "name": name,
                "title": preset.spec.name,
                "description": preset.description,
                "depth": preset.spec.depth,
                "params": a.params,
                "macs": a.macs,
            }
        )
    if args.json:
        print_json(rows)
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'name':<{width}} {'depth':>5} {'params':>12} {'MACs':>10}  description")
    for r in rows:
        figures = f"{r['depth']:>5} {r['params']:>12,} {si_units(r['macs']):>10}"
        print(f"{r['name']:<{width}} {figures}  {r['description']}")
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from resnet_studio.training.recipes import RECIPES

    rows = [
        {"name": r.name, "title": r.title, "description": r.description, "preset": r.preset, **r.settings}
        for r in RECIPES.values()
    ]
    if args.json:
        print_json(rows)
        return 0
    width = max(len(name) for name in RECIPES)
    for r in RECIPES.values():
        network = f" Network: {r.preset}." if r.preset else ""
        print(f"{r.name:<{width}} {r.description}{network}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from resnet_studio.architecture import analyze

    if args.network:  # `summary resnet20` or `summary net.resnet.json`, as other commands name things
        from resnet_studio.architecture import PRESETS

        named_file = args.network.endswith(".json") or os.sep in args.network or Path(args.network).exists()
        chosen = "arch" if args.network not in PRESETS and named_file else "preset"
        setattr(args, chosen, args.network)
    spec = spec_of(args)
    if spec is None:
        raise UserError("give --preset NAME or --arch FILE")
    analysis = analyze(spec)
    if args.json:
        print_json(analysis.to_dict())
        return 0
    from resnet_studio.user_text import terminal_text

    # The name is the user's text: one printable line, its escape sequences shown, not obeyed.
    print(f"{terminal_text(analysis.name)}: input {'x'.join(map(str, analysis.input_shape))}")
    print(f"{'layer':<16} {'type':<11} {'output':>14} {'params':>12} {'MACs':>10}  shortcut")
    for layer in analysis.layers:
        shape = "x".join(map(str, layer.output_shape))
        print(
            f"{layer.name:<16} {layer.type:<11} {shape:>14} {layer.params:>12,} "
            f"{si_units(layer.macs):>10}  {layer.shortcut}"
        )
    print(f"{'total':<16} {'':<11} {'':>14} {analysis.params:>12,} {si_units(analysis.macs):>10}")
    return 0
