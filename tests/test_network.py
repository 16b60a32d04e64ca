import pytest

import symbp
from symbp.core import registry


def test_default_network():
    net = symbp.Network()
    assert net.widths == (2, 3, 3, 2)
    assert net.activations == ("sigmoid",) * 3
    assert net.cost == "mse"
    assert net.L == 3
    assert net.slug == "default"


def test_activation_list_and_softmax_output():
    net = symbp.Network([3, 4, 2], activation="tanh", cost="softmax_ce")
    assert net.activations == ("tanh", "softmax")
    net = symbp.Network([3, 4, 2], activation=["relu", "softmax"], cost="softmax_ce")
    assert net.activations == ("relu", "softmax")
    assert repr(net) == "Network([3, 4, 2], activation=['relu', 'softmax'], cost='softmax_ce')"


def test_widths_may_be_any_sequence_of_integers():
    import numpy as np

    assert symbp.Network(np.array([2, 3, 2])).widths == (2, 3, 2)
    assert symbp.Network(range(2, 5)).widths == (2, 3, 4)
    assert type(symbp.Network(np.array([2, 3])).widths[0]) is int


def test_networks_compare_by_value():
    assert symbp.Network([2, 2]) == symbp.Network((2, 2), "sigmoid", "mse")
    assert len({symbp.Network([2, 2]), symbp.Network([2, 2])}) == 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"widths": []}, "[]"),
        ({"widths": [3]}, "[3]"),
        ({"widths": [2, 0, 1]}, "got 0"),
        ({"widths": [2, -1]}, "got -1"),
        ({"widths": [2, 1.5]}, "got 1.5"),
        ({"widths": [2, "3"]}, "got '3'"),
        ({"widths": [2, True]}, "got True"),
        ({"widths": "2,3"}, "'2,3'"),
        ({"widths": 5}, "got 5"),
        ({"widths": [2, 2], "activation": "swish"}, "'swish'"),
        ({"widths": [2, 2], "activation": ["sigmoid", "tanh"]}, "2 names"),
        ({"widths": [2, 2, 2], "activation": ["sigmoid"]}, "1 names"),
        ({"widths": [2, 2, 2], "activation": ["sigmoid", "nope"]}, "'nope'"),
        ({"widths": [2, 2], "activation": 3}, "got 3"),
        ({"widths": [2, 2], "cost": "hinge"}, "'hinge'"),
        ({"widths": [2, 1], "cost": "softmax_ce"}, "softmax_ce"),
        ({"widths": [2, 3], "activation": ["tanh"], "cost": "softmax_ce"}, "'tanh'"),
        ({"widths": [2, 1], "activation": "softmax"}, "at least 2 units"),
    ],
)
def test_bad_input_names_the_value_and_the_choices(kwargs, named):
    with pytest.raises(ValueError, match=r".") as info:
        symbp.Network(**kwargs)
    message = str(info.value)
    assert named in message
    if "activation" in kwargs and isinstance(kwargs["activation"], str) and named.startswith("'"):
        assert ", ".join(registry.ACTIVATIONS) in message
    if "cost" in kwargs and kwargs["cost"] not in registry.COSTS:
        assert ", ".join(registry.COSTS) in message


def test_registry_entries_are_complete():
    for act in registry.ACTIVATIONS.values():
        assert act.latex and act.summary
        if act.name not in ("generic", "softmax"):
            assert act.formula and act.derivative and act.numeric
    for cost in registry.COSTS.values():
        assert registry.per_unit(cost), cost.name  # written unit by unit: code is printed


def test_a_set_or_an_iterator_is_refused_not_reordered_or_drained():
    import itertools

    with pytest.raises(ValueError, match=r"the set \{1, 3, 5\}, which has no order"):
        symbp.Network({5, 1, 3})
    with pytest.raises(ValueError, match="count"):
        symbp.Network(itertools.count(2))  # an endless iterator: refused, never read


@pytest.mark.parametrize(("widths", "limit"), [
    ([2, 1025], "MAX_WIDTH"), ([2, 10**100], "MAX_WIDTH"), ([1000, 1000], "MAX_PARAMETERS"),
    ([2] * 102, "MAX_LAYERS"), (range(10**12), "MAX_LAYERS"),
])
def test_limits_are_named_before_any_symbol_is_built(widths, limit):
    with pytest.raises(ValueError, match=limit):
        symbp.Network(widths)


def test_networks_up_to_the_limits_are_accepted():
    from symbp.core import limits

    assert symbp.Network([64, 64, 64, 64]).widths == (64,) * 4  # prove --method local: minutes
    assert symbp.Network([2, limits.MAX_WIDTH, 2]).widths[1] == limits.MAX_WIDTH
    assert symbp.Network([1] * (limits.MAX_LAYERS + 1)).L == limits.MAX_LAYERS
    assert limits.parameter_count([64, 64, 64, 64]) == 12_480 <= limits.MAX_PARAMETERS
