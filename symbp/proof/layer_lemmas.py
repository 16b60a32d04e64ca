"""The per-network lemmas of a layer of any kind, from the kind's own maps (``core.layers``).

For layer l the chain rule through that one layer, in layered symbols, gives the truth
each quantity the recursion bound must equal; SymPy's rules (``lemmas.pullback``)
differentiate the layer's map, the kind's vector-Jacobian products are what is compared:

- g_l = ∂C/∂a_l: the cost's gradient at L; below, what layer l + 1 passes back of its δ
  and g: (∂z_{l+1}/∂a_l)ᵀ δ_{l+1} (+ (∂skip_{l+1}/∂a_l)ᵀ g_{l+1});
- δ_l = (∂a_l/∂z_l)ᵀ g_l, g_l its bound symbols where layer l binds it; for a layer whose
  pre map reads its own state one step back (a recurrent layer), plus what z_l one step on
  takes of it, (∂z_(l,t+1)/∂z_(l,t))ᵀ δ_(l,t+1) in δ_l's symbols: the chain rule through one
  step, the induction over the steps inside the layer;
- ∂C/∂θ_l = (∂z_l/∂θ_l)ᵀ δ_l (+ (∂skip_l/∂θ_l)ᵀ g_l for a skip's own θ).

By induction from the output down these are the gradients, at any depth: C depends on
a_l only through layer l + 1's map, and on z_l, θ_l only through layer l's.
"""

from __future__ import annotations

import sympy as sp

from ..core import layer_maps
from .exact import Exact
from .lemmas import Lemma, _check, _missing, pullback


class LayerMaps(layer_maps.LayerMaps):
    """Layer l of a derivation's network: its maps on layered symbols, and what it passes back."""

    @property
    def binds_g(self) -> bool:
        return self.r.maps.skip is not None

    def passed_back(self, delta, g) -> list[sp.Expr]:
        """(∂z_l/∂a_{l-1})ᵀ δ (+ (∂skip_l/∂a_{l-1})ᵀ g): ∂C/∂a_{l-1} through this layer."""
        a_in = list(self.d.a_symbols(self.l - 1))
        back = pullback(self.z, a_in, delta)
        if self.skip is not None:
            back = [u + v for u, v in zip(back, pullback(self.skip, a_in, g))]
        return back


def layer_lemmas(d, trace, l: int, session: Exact | None = None) -> list[Lemma]:
    """g_l (where bound), δ_l and every parameter's gradient of layer l, each against the
    chain rule through the layer's own map."""
    here = LayerMaps(d, l)
    found = []
    if l == d.L:
        a_out = list(d.a_symbols(l))
        passed = pullback([d.net.cost_entry.formula(a_out, list(d.y))], a_out, [1])
        origin = "dC/da_L from the cost"
    else:
        above = LayerMaps(d, l + 1)
        passed = above.passed_back(list(d.delta_symbols(l + 1)), list(d.grad_symbols(l + 1)))
        origin = f"what layer {l + 1} passes back"
    if here.binds_g:
        found.append(_lemma(f"g_{l}", f"g_{l} = dC/da_{l}, {origin}",
                            rf"g_{{{l}}} = \partial C/\partial a_{{{l}}}", trace.grads.get(l),
                            sp.Matrix(passed), l, session))
        g = list(d.grad_symbols(l))
    else:
        g = passed
    z_symbols = list(d.z_symbols(l))
    act = d.net.activation(l)
    if act.elementwise or here.r.maps.skip is not None or here.r.maps.post is not None:
        delta_truth = sp.Matrix(pullback(here.a_of_z, z_symbols, g))
    else:  # softmax: its registered Jacobian in a, proved against its formula by the
        # function lemmas (softmax Jacobian (n)), as the dense prover uses it; a = σ(z) there
        delta_truth = act.jacobian(z_symbols, list(d.a_symbols(l))).T * sp.Matrix(g)
    statement = f"delta_{l} = (da_{l}/dz_{l})^T dC/da_{l}"
    tex = (rf"\delta_{{{l}}} = \bigl(\partial a_{{{l}}}/\partial z_{{{l}}}\bigr)^{{T}}"
           rf"\,\partial C/\partial a_{{{l}}}")
    if here.scans:  # and what the next step takes of z_l: δ_l one step on, by induction over
        # the steps (the system is triangular: δ_l at T first)
        delta_truth += sp.Matrix(pullback(here.z, z_symbols, list(d.delta_symbols(l))))
        statement += f" + (dz_{l}/dz_{l} one step on)^T delta_{l}"
        tex += (rf" + \bigl(\partial z_{{{l},t+1}}/\partial z_{{{l},t}}\bigr)^{{T}}"
                rf"\delta_{{{l},t+1}}")
    found.append(_lemma(f"delta_{l}", statement, tex, trace.deltas.get(l), delta_truth, l,
                        session))
    delta = list(d.delta_symbols(l))
    for name, M in here.params.items():
        truth = pullback(here.z, list(M), delta)
        if here.skip is not None:
            truth = [u + v for u, v in zip(truth, pullback(here.skip, list(M), g))]
        found.append(_lemma(f"dC/d{name}_{l}", f"dC/d{name}_{l} = (dz_{l}/d{name}_{l})^T delta_{l}",
                            rf"\frac{{\partial C}}{{\partial {name}_{{{l}}}}}",
                            trace.param_grads.get((l, name)),
                            sp.Matrix(truth).reshape(M.rows, M.cols), l, session))
    return found


def _lemma(name, statement, latex, value, truth, l, session) -> Lemma:
    if value is None:
        return _missing(name, statement, latex, l)
    return _check(name, statement, latex, value, truth, layer=l, session=session)
