"""``symbp prove --general``: the theorem for every size, of one activation and cost given as
options, of two layer kinds (--layers HIDDEN,OUTPUT), or of a network file's own shape."""

from __future__ import annotations

import json

from ..core.layers import Layer
from ..core.network import Network
from ..proof.kinds_second_theorem import kinds_second_order_summary, kinds_second_order_theorem
from ..proof.second_order_theorem import second_order_summary, second_order_theorem
from ..proof.theorem import theorem
from ..proof.theorem_text import general_summary, general_table
from .exits import BadInput
from .jobs import exit_code, read_job


def _general_layers(args) -> tuple[Layer, Layer] | None:
    """--layers HIDDEN,OUTPUT with --general: the kind of every hidden layer, then the output
    layer's (the theorem's depth and widths stay symbolic)."""
    if getattr(args, "layers", None) is None:
        return None
    if len(args.layers) != 2:
        raise BadInput(f"--general --layers takes two layers, the hidden layers' kind and the "
                       f"output layer's (e.g. residual,dense:2); got {len(args.layers)}")
    if args.order == 2:
        raise BadInput("--general --order 2 takes dense options or a network file (its layer "
                       "kinds at its depth), not --layers; drop --layers")
    if getattr(args, "inputs", None) is not None:
        raise BadInput("--general proves every width; drop --inputs")
    hidden, out = ({k: v for k, v in t.items() if k != "kind"} for t in args.layers)
    return Layer(args.layers[0]["kind"], hidden), Layer(args.layers[1]["kind"], out)


def _general_activations(args, kinds: tuple[Layer, Layer]) -> tuple[str, str | None]:
    """The theorem's hidden and output activations: --activation, else the layers' own."""
    hidden, out = (layer.get("activation") for layer in kinds)
    if args.activation and hidden and hidden != args.activation:
        raise BadInput(f"--activation {args.activation} and the hidden layer's activation="
                       f"{hidden} differ; give one")
    return args.activation or hidden or "generic", out


def _general_from_file(args) -> Network | None:
    """NETWORK.toml with --general: a dense network's hidden activation, output activation and
    cost (``args`` filled in as if given as options); a network of layer kinds itself, for
    the theorem for every size of its shape (``theorem(network=...)``)."""
    given = [f"--{k}" for k in ("activation", "cost", "layers") if getattr(args, k, None)]
    if given:
        raise BadInput(f"give the network either as a file ({args.network}) or with "
                       f"{given[0]}, not both")
    job = read_job(args)
    net, args.order = job.net, job.order  # the file's order = 2 unless --order says otherwise
    if not net.dense:
        return net
    hidden = dict.fromkeys(net.activations[:-1] or net.activations[:1])
    if len(hidden) > 1:
        raise BadInput(f"--general proves one activation for every hidden layer; "
                       f"{args.network} has {', '.join(hidden)}")
    args.activation, args.output, args.cost = next(iter(hidden)), net.activations[-1], net.cost
    return None


def prove_general(args) -> int:
    """``prove --general``: the theorem for every depth and width; one activation, one cost
    (a network file's own, or the options')."""
    given = [f"--{k}" for k in ("widths", "method") if getattr(args, k)]
    if given:
        raise BadInput(f"--general proves every depth and width; drop {', '.join(given)}")
    args.output = None
    network = _general_from_file(args) if args.network else None
    if isinstance(args.activation, list):
        raise BadInput("--general takes one --activation (the hidden layers'); "
                       f"got {','.join(args.activation)}")
    kinds = _general_layers(args)
    prover = second_order_theorem if args.order == 2 else theorem
    try:
        if network is not None and args.order == 2:
            proof = kinds_second_order_theorem(network, timeout=args.timeout)
            print(json.dumps(proof.to_dict(), indent=2) if args.json
                  else f"{general_table(proof)}\n{kinds_second_order_summary(proof)}")
            return exit_code(proof)
        if network is not None:
            proof = theorem(network=network, timeout=args.timeout)
        elif kinds is None:
            proof = prover(args.activation or "generic", args.cost or "mse",
                           output=args.output, timeout=args.timeout)
        else:
            activation, output = _general_activations(args, kinds)
            proof = theorem(activation, args.cost or "mse", output=output,
                            timeout=args.timeout, layers=kinds)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if args.order == 2:
        print(json.dumps(proof.to_dict(), indent=2) if args.json
              else f"{general_table(proof)}\n{second_order_summary(proof)}")
        return exit_code(proof)
    print(json.dumps(proof.to_dict(), indent=2) if args.json
          else f"{general_table(proof)}\n{general_summary(proof)}")
    return exit_code(proof)
