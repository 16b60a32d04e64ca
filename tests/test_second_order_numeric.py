"""The generated hessian, hvp and gauss_newton against PyTorch autograd and central differences
of the first-order gradient, to 1e-9 in float64; lambdify of an order-2 derivation."""

import numpy as np
import pytest

import symbp
from symbp.numeric.codegen import module_source

NETWORKS = [
    symbp.Network([2, 3, 2], activation="sigmoid", cost="mse"),
    symbp.Network([3, 4, 3, 2], activation="tanh", cost="bce"),
    symbp.Network([3, 4, 3], activation=["tanh", "softmax"], cost="softmax_ce"),
    symbp.Network([2, 3, 2], activation=["softplus", "identity"], cost="mse"),
    symbp.Network([2, 3, 2], activation=["leaky_relu", "sigmoid"], cost="bce"),
]
IDS = ["sigmoid-mse", "tanh-bce", "softmax_ce", "softplus-identity", "leaky_relu-bce"]


def point(net, rng, batch=4):
    n = net.widths
    weights = [rng.normal(size=(n[l], n[l - 1])) for l in range(1, len(n))]
    biases = [rng.normal(size=n[l]) for l in range(1, len(n))]
    x = rng.normal(size=(batch, n[0]))
    y = rng.uniform(0.1, 0.9, size=(batch, n[-1]))
    v = {"W": [rng.normal(size=W.shape) for W in weights],
         "b": [rng.normal(size=b.shape) for b in biases]}
    return x, y, weights, biases, v


def flat(tree) -> np.ndarray:
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in zip(tree["W"], tree["b"])])


def torch_output(torch, net, x, theta, shapes):
    """a_L from θ = (W_1 row by row, b_1, ...), in float64."""
    at, a = 0, torch.tensor(x)
    for l, name in enumerate(net.activations):
        (n, m), k = shapes[l], shapes[l][0] * shapes[l][1]
        z = a @ theta[at:at + k].reshape(n, m).T + theta[at + k:at + k + n]
        at += k + n
        if name == "softmax":
            a = torch.softmax(z, -1)
        elif name == "leaky_relu":
            a = torch.nn.functional.leaky_relu(z, 0.01)
        elif name == "softplus":
            a = torch.logaddexp(z, torch.zeros_like(z))  # F.softplus returns z past z = 20
        elif name == "identity":
            a = z
        else:
            a = getattr(torch, name)(z)
    return a


def torch_cost_of(torch, cost, a, y):
    y = torch.tensor(y)
    if cost == "mse":
        return 0.5 * ((a - y) ** 2).sum()
    if cost == "bce":
        return -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum()
    return -(y * torch.log(a)).sum()


@pytest.mark.parametrize("net", NETWORKS, ids=IDS)
def test_hessian_hvp_and_gauss_newton_match_torch(net, rng):
    torch = pytest.importorskip("torch")
    f = symbp.lambdify(symbp.derive(net, order=2))
    x, y, weights, biases, v = point(net, rng)
    theta, shapes, cost = torch_cost(torch, net, x, y, weights, biases)
    want = torch.autograd.functional.hessian(cost, theta).numpy()
    H = f.hessian(x, y, weights, biases)
    np.testing.assert_allclose(H, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    _, hv = torch.autograd.functional.hvp(cost, theta, torch.tensor(flat(v)))
    got = flat(f.hvp(x, y, weights, biases, v))
    np.testing.assert_allclose(got, hv.numpy(), rtol=1e-9, atol=1e-9 * np.abs(hv.numpy()).max())
    G = f.gauss_newton(x, y, weights, biases)
    np.testing.assert_allclose(G, torch_gauss_newton(torch, net, x, y, theta, shapes),
                               rtol=1e-9, atol=1e-9 * np.abs(G).max())
    assert np.linalg.eigvalsh(G).min() >= -1e-9 * np.abs(G).max()  # as the PSD proof says


def test_hvp_past_depth_twelve_matches_torch(rng):
    """Depth 14, past every depth a program was ever recorded at one by one: the generated
    hvp (the program the theorem proves for every depth) against autograd."""
    torch = pytest.importorskip("torch")
    net = symbp.Network([2] * 15, activation="tanh", cost="mse")
    f = symbp.lambdify(symbp.derive(net, order=2))
    x, y, weights, biases, v = point(net, rng)
    theta, _, cost = torch_cost(torch, net, x, y, weights, biases)
    _, hv = torch.autograd.functional.hvp(cost, theta, torch.tensor(flat(v)))
    got = flat(f.hvp(x, y, weights, biases, v))
    np.testing.assert_allclose(got, hv.numpy(), rtol=1e-9, atol=1e-9 * np.abs(hv.numpy()).max())


def torch_cost(torch, net, x, y, weights, biases):
    """θ as one float64 tensor, the weights' shapes, and C(θ) in torch at the batch (x, y)."""
    theta = torch.tensor(flat({"W": weights, "b": biases}))
    shapes = [W.shape for W in weights]

    def cost(th):
        return torch_cost_of(torch, net.cost, torch_output(torch, net, x, th, shapes), y)

    return theta, shapes, cost


def torch_gauss_newton(torch, net, x, y, theta, shapes):
    """Jᵀ H_C J: J of the split s (a_L, or z_L for softmax_ce) by autograd, H_C of the cost in s."""
    absorbed = net.cost == "softmax_ce"
    split_net = symbp.Network(net.widths, activation=[*net.activations[:-1], "identity"],
                              cost="mse") if absorbed else net

    def split(th):
        return torch_output(torch, split_net, x, th, shapes)

    J = torch.autograd.functional.jacobian(split, theta).reshape(-1, theta.numel()).numpy()

    def cost_of_split(s):
        return torch_cost_of(torch, net.cost, torch.softmax(s, -1) if absorbed else s, y)

    HC = torch.autograd.functional.hessian(cost_of_split, split(theta).detach())
    return J.T @ HC.reshape(J.shape[0], -1).numpy() @ J


@pytest.mark.parametrize("net", NETWORKS[:2], ids=IDS[:2])
def test_hessian_matches_central_differences_of_the_gradient(net, rng):
    f = symbp.lambdify(symbp.derive(net, order=2))
    x, y, weights, biases, _ = point(net, rng)
    H = f.hessian(x, y, weights, biases)
    params = [p for W, b in zip(weights, biases) for p in (W, b)]
    h, columns = 1e-5, []
    for p in params:
        for index in np.ndindex(p.shape):
            keep = p[index]
            p[index] = keep + h
            up = flat(f.grad(x, y, weights, biases))
            p[index] = keep - h
            down = flat(f.grad(x, y, weights, biases))
            p[index] = keep
            columns.append((up - down) / (2 * h))
    np.testing.assert_allclose(H, np.array(columns).T, rtol=1e-6, atol=1e-7 * np.abs(H).max())


def test_lambdify_of_order_one_has_no_second_order(rng):
    f = symbp.lambdify(symbp.derive(NETWORKS[0]))
    assert f.hessian is None
    assert f.hvp is None
    assert f.gauss_newton is None
    assert "def hessian" not in module_source(symbp.derive(symbp.Network()))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_second_order_backends_are_numpy_and_numba(backend):
    d = symbp.derive(NETWORKS[0], order=2)
    with pytest.raises(ValueError, match=f"^backend '{backend}' gives first-order gradients "
                                         "only; for second order choose one of: numpy, numba$"):
        symbp.lambdify(d, backend)


def test_a_direction_of_the_wrong_shape_is_named(rng):
    f = symbp.lambdify(symbp.derive(NETWORKS[0], order=2))
    x, y, weights, biases, v = point(NETWORKS[0], rng)
    v["W"][1] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"^v: weights\[1\] \(W_2\) has shape \(3, 3\); "
                                         r"expected \(2, 3\)$"):
        f.hvp(x, y, weights, biases, v)
    with pytest.raises(ValueError, match=r'^v must be \{"W": \[V_1, \.\.\., V_L\]'):
        f.hvp(x, y, weights, biases, [1, 2])


def test_one_sample_as_a_vector_works(rng):
    f = symbp.lambdify(symbp.derive(NETWORKS[0], order=2))
    x, y, weights, biases, _ = point(NETWORKS[0], rng, batch=1)
    np.testing.assert_array_equal(f.hessian(x[0], y[0], weights, biases),
                                  f.hessian(x, y, weights, biases))


@pytest.mark.slow
@pytest.mark.parametrize("net", [NETWORKS[0], NETWORKS[2]], ids=[IDS[0], IDS[2]])
def test_the_numba_module_matches_numpy(net, rng):
    pytest.importorskip("numba")
    d = symbp.derive(net, order=2)
    fast, plain = symbp.lambdify(d, "numba"), symbp.lambdify(d)
    for batch in (1, 5):
        x, y, weights, biases, v = point(net, rng, batch)
        np.testing.assert_allclose(flat(fast.hvp(x, y, weights, biases, v)),
                                   flat(plain.hvp(x, y, weights, biases, v)), rtol=1e-12,
                                   atol=1e-12)
        for name in ("hessian", "gauss_newton"):
            np.testing.assert_allclose(getattr(fast, name)(x, y, weights, biases),
                                       getattr(plain, name)(x, y, weights, biases),
                                       rtol=1e-12, atol=1e-12, err_msg=name)
