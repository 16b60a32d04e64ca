"""How large an input symbp accepts, in one place: checked before any symbol is built.

Every cap sits far above what a document or an exact proof is useful for, and far
below what would exhaust memory before a check could run. ``prove`` of [64, 64, 64, 64]
(12,480 parameters) takes about 9 s by construction, 4 s by ``local``, and is allowed;
a [1000, 1000] network (a million symbols) is not. A network of layer kinds is counted by
what each kind says of itself (``LayerSize``): a convolution's shared kernel is a few
parameters, however many positions it joins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

MAX_WIDTH = 1024  # units in any layer, n_0 included
MAX_LAYERS = 100  # L, the layers with weights
MAX_PARAMETERS = 20_000  # weights and biases together: Σ n_l (n_{l-1} + 1)
MAX_CONNECTIONS = 20_000  # pairs (output entry, input entry) the layers' maps join: as many
#                           as the weights of a dense network at MAX_PARAMETERS
MAX_NETWORK_FILE_BYTES = 256 * 1024  # a network file is read up to this size, never further
MAX_TITLE_CHARS = 500  # a document title
MAX_SWELL_SIZE = 12  # largest depth or width `symbp swell` measures (the δ program alone
#                      would take minutes past it)
MAX_EPOCHS = 100_000  # `symbp train`: a few seconds of XOR, a history.csv of 2 MB
MAX_DATA_FILE_BYTES = 1024**3  # `symbp train`: a .npz or .csv data file (read whole)
# second order: the Hessian has P² entries for P weights and biases
MAX_HESSIAN_ENTRIES = 4_000_000  # a numeric Hessian or Gauss–Newton matrix: 32 MB, P = 2,000
MAX_SYMBOLIC_HESSIAN_ENTRIES = 10_000  # a symbolic one, written out and proved: P = 100
MAX_NUMBER_CHARS = 100  # a number of a worked example written as text, like "1/3" or "2.5e-3"
MAX_NUMBER_EXPONENT = 300  # its power of ten: 1e100000 would take exact arithmetic minutes
MIN_MEMORY_BYTES = 256 * 2**20  # `symbp` refuses to start under a smaller ulimit -v (it needs
#                                 about 170 MiB to import; short of it, libraries fail in C)
NUMBA_MEMORY_BYTES = 512 * 2**20  # backend numba is refused under a smaller ulimit -v: numba,
#                                   llvmlite and SciPy's OpenBLAS map this much as they load
#                                   (439 MiB failed, 488 MiB loaded); short of it OpenBLAS
#                                   loops or exits from C, out of reach of --timeout


def parameter_count(widths: list[int]) -> int:
    """Weights and biases of a network with these widths."""
    return sum(n * (m + 1) for m, n in pairwise(widths))


def check_layers(L: int) -> None:
    """ValueError naming the limit when a network of L layers is too deep."""
    if L > MAX_LAYERS:
        raise ValueError(f"the network has {L:,} layers, past the limit of {MAX_LAYERS} "
                         "(limit MAX_LAYERS)")


def check_network_size(widths: list[int]) -> None:
    """ValueError naming the limit when ``widths`` (positive integers) is past a cap."""
    check_layers(len(widths) - 1)
    widest = max(widths)
    if widest > MAX_WIDTH:
        raise ValueError(f"a layer of width {magnitude(widest)} is past the limit of "
                         f"{MAX_WIDTH} units per layer (limit MAX_WIDTH)")
    count = parameter_count(widths)
    if count > MAX_PARAMETERS:
        raise ValueError(f"widths {widths} give {count:,} weights and biases, past the limit "
                         f"of {MAX_PARAMETERS:,} (limit MAX_PARAMETERS)")


@dataclass(frozen=True)
class LayerSize:
    """What one layer costs an exact proof, as its kind counts it (``Kind.size``).

    ``parameters``: the entries of its parameters, the symbols it builds. ``connections``: the
    pairs (entry of its output, entry of its input) its maps join, each a term of its forward
    pass and an edge of the graph the paths of influence run through (n_l n_(l-1) for a dense
    layer; C_out N C_in k for a convolution, whose kernel is shared by its N positions).
    """

    parameters: int
    connections: int


def check_layer_sizes(widths: Sequence[int], sizes: Sequence[LayerSize],
                      kinds: Sequence[str]) -> None:
    """ValueError naming the limit when a network of layer kinds is past a cap: its widths
    (every layer's output as a vector), its parameters, its connections."""
    check_layers(len(sizes))
    widest = max(widths)
    if widest > MAX_WIDTH:
        l = list(widths).index(widest)
        where = "the input" if l == 0 else f"layer {l} ({kinds[l - 1]})"
        raise ValueError(f"{where} has {magnitude(widest)} entries, past the limit of "
                         f"{MAX_WIDTH} per layer (limit MAX_WIDTH)")
    for what, limit, name in (("parameters", MAX_PARAMETERS, "MAX_PARAMETERS"),
                              ("connections", MAX_CONNECTIONS, "MAX_CONNECTIONS")):
        counts = [getattr(size, what) for size in sizes]
        if sum(counts) > limit:
            l = counts.index(max(counts)) + 1
            raise ValueError(f"the layers have {magnitude(sum(counts))} {what} (layer {l}, "
                             f"{kinds[l - 1]}: {magnitude(counts[l - 1])}), past the limit of "
                             f"{limit:,} (limit {name})")


def magnitude(n: int) -> str:
    """``n`` for a message: its digits, or "about 10^k" when it is too long to read."""
    if n < 10**15:
        return f"{n:,}"
    return f"about 10^{int(n.bit_length() * 0.30103)}"  # str() of a huge int would even fail


def check_hessian(widths: list[int] | tuple[int, ...]) -> None:
    """ValueError naming the limit when the Hessian of ``widths`` has too many entries."""
    _check_entries(parameter_count(list(widths)), MAX_HESSIAN_ENTRIES, "MAX_HESSIAN_ENTRIES",
                   "Hessian")


def check_symbolic_hessian(widths: list[int] | tuple[int, ...]) -> None:
    """ValueError naming the limit when a symbolic Hessian of ``widths`` is too large to write."""
    check_symbolic_hessian_of(parameter_count(list(widths)))


def check_symbolic_hessian_of(count: int) -> None:
    """``check_symbolic_hessian`` for ``count`` parameters (a network of any kind)."""
    _check_entries(count, MAX_SYMBOLIC_HESSIAN_ENTRIES, "MAX_SYMBOLIC_HESSIAN_ENTRIES",
                   "symbolic Hessian")


def _check_entries(count: int, limit: int, name: str, what: str) -> None:
    if count * count > limit:
        raise ValueError(f"the network has {count:,} weights and biases: its {what} would have "
                         f"{count:,}² = {count * count:,} entries, past the limit of {limit:,} "
                         f"(limit {name})")
