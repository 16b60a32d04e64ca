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
            assert act.formula and act.derivative and act.numpy and act.numpy_derivative
    for cost in registry.COSTS.values():
        assert cost.latex and cost.latex_gradient and cost.numpy and cost.numpy_gradient
