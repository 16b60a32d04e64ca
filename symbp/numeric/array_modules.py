"""jax.numpy and torch as the NumPy the generated module calls: ``lambdify`` binds ``np`` to one
of these to run the same source on another array library."""

import numpy as np


class JaxAsNumPy:
    """jax.numpy, with ``asarray(v, dtype=float)`` meaning jax's default float (float32 unless
    jax_enable_x64 is set), so the generated code asks for no dtype jax would truncate."""

    def __init__(self, jnp):
        self._jnp = jnp

    def __getattr__(self, name):
        return getattr(self._jnp, name)

    def asarray(self, value, dtype=float):
        import jax

        return self._jnp.asarray(value, dtype=jax.dtypes.canonicalize_dtype(dtype))


class TorchAsNumPy:
    """The NumPy functions the generated code calls, on float64 torch tensors."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):  # exp, log, tanh, ones_like, ... have NumPy's meaning
        return getattr(self._torch, name)

    def tensor(self, value):
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            value = value.copy()  # torch warns about sharing memory it may not write
        return self._torch.as_tensor(value, dtype=self._torch.float64)

    def asarray(self, value, dtype=float):
        return self.tensor(value)

    def einsum(self, spec, *operands, optimize=False):  # torch chooses its own order
        return self._torch.einsum(spec, *(self.tensor(o) for o in operands))

    def take(self, a, index, axis):
        """NumPy's take: a's entries at the positions ``index`` (any shape) along ``axis``."""
        index = self._torch.as_tensor(np.asarray(index), dtype=self._torch.int64)
        picked = self._torch.index_select(a, axis, index.reshape(-1))
        return picked.reshape(*a.shape[:axis], *index.shape, *a.shape[axis + 1:])

    def concatenate(self, arrays, axis=0):
        return self._torch.cat(tuple(arrays), dim=axis)

    def zeros(self, shape, dtype=float):
        return self._torch.zeros(shape, dtype=self._torch.int64 if dtype is int
                                 else self._torch.float64)

    def ndim(self, value):
        return value.ndim if isinstance(value, self._torch.Tensor) else np.ndim(value)

    def ones(self, n):
        return self._torch.ones(n, dtype=self._torch.float64)

    def dot(self, a, b):
        return self._torch.matmul(a, b)

    def sqrt(self, a):  # of a number too: attention's scale is printed np.sqrt(d)
        return self._torch.sqrt(self.tensor(a))

    def logaddexp(self, a, b):
        return self._torch.logaddexp(self.tensor(a), self.tensor(b))

    def maximum(self, a, b):
        return self._torch.maximum(self.tensor(a), self.tensor(b))

    def minimum(self, a, b):
        return self._torch.minimum(self.tensor(a), self.tensor(b))

    def equal(self, a, b):
        return self._torch.eq(self.tensor(a), self.tensor(b))

    def where(self, condition, a, b):
        return self._torch.where(condition, self.tensor(a), self.tensor(b))

    def sum(self, a, axis=None, keepdims=False):
        return a.sum() if axis is None else a.sum(dim=axis, keepdim=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return a.max() if axis is None else a.amax(dim=axis, keepdim=keepdims)
