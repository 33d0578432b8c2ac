"""A stand-in accelerator on CPU: tensors that say they live on FAKE ('meta') but hold real CPU data.

Device-placement bugs only show on a machine with a second device: a tensor created without `device=`
(or with a hard-coded CPU) meets a CUDA tensor and the op fails. Under `fake_device()` the same happens on
any CPU: tensors moved to FAKE become `OnFake` wrappers whose ops run on their CPU data, and an op that mixes
an `OnFake` tensor with a CPU tensor of one or more dimensions raises `DeviceMismatch`, as CUDA would (CPU
scalars, copies and CPU index tensors are allowed, as on CUDA). `.numpy()` of an `OnFake` tensor fails, as
it does for a CUDA tensor, so results must be brought back with `.cpu()`. Values are bit for bit those of
the CPU kernels, so records computed on FAKE must equal records computed on CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Self

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

FAKE = torch.device("meta")
_CPU = torch.device("cpu")
aten = torch.ops.aten
# Ops that CUDA accepts across devices: explicit copies and moves, and indexing with CPU index tensors.
CROSS_DEVICE = {aten.copy_.default, aten._to_copy.default, aten.index.Tensor, aten.index_put_.default,
                aten.index_put.default, aten._index_put_impl_.default, aten.lift_fresh.default}


class DeviceMismatch(RuntimeError):
    """An op mixed a tensor on FAKE with a CPU tensor (on CUDA: 'Expected all tensors to be on the same
    device')."""


class OnFake(torch.Tensor):
    """A tensor on FAKE whose data is the CPU tensor `cpu_data`."""

    cpu_data: torch.Tensor

    @staticmethod
    def __new__(cls, cpu_data: torch.Tensor) -> Self:
        t = torch.Tensor._make_wrapper_subclass(cls, cpu_data.shape, strides=cpu_data.stride(),
                                                storage_offset=cpu_data.storage_offset(), dtype=cpu_data.dtype,
                                                device=FAKE, requires_grad=cpu_data.requires_grad)
        t.cpu_data = cpu_data
        return t

    def __repr__(self) -> str:  # the default repr would print meta data
        return f"OnFake({self.cpu_data!r})"

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return _dispatch(func, args, kwargs or {})


def _dispatch(func: Any, args: tuple, kwargs: dict) -> Any:
    tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
    fake_in = [t for t in tensors if isinstance(t, OnFake)]
    plain = [t for t in tensors if not isinstance(t, OnFake)]
    if any(t.device == FAKE for t in plain):
        raise DeviceMismatch(f"{func}: a real {FAKE} tensor (created outside fake_device())")
    cpu_in = [t for t in plain if t.dim() > 0]
    if fake_in and cpu_in and func not in CROSS_DEVICE:
        shapes = ", ".join(str(tuple(t.shape)) for t in cpu_in)
        raise DeviceMismatch(f"{func} got tensors on {FAKE} and CPU tensors of shape {shapes}")
    names = [a.name for a in func._schema.arguments]
    at = names.index("device") if "device" in names else None
    positional = at is not None and at < len(args)
    device = args[at] if positional else kwargs.get("device")
    to_fake = device is not None and torch.device(device) == FAKE
    if to_fake and positional:
        args = (*args[:at], _CPU, *args[at + 1 :])
    elif to_fake:
        kwargs = dict(kwargs, device=_CPU)
    out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
    wrap = to_fake or (bool(fake_in) and device is None)
    # In-place and out= ops return one of their inputs: give back that very object, not a new wrapper.
    given = {id(t.cpu_data): t for t in fake_in} | {id(t): t for t in plain}

    def rewrap(o: Any) -> Any:
        if not isinstance(o, torch.Tensor):
            return o
        if id(o) in given:
            # aten.to returns its input when nothing changes — here the data stays on CPU but the device
            # does change: a move, which copies.
            if to_fake and not isinstance(given[id(o)], OnFake):
                return OnFake(o.clone())
            if device is not None and not to_fake and isinstance(given[id(o)], OnFake):
                return o.clone()
            return given[id(o)]
        if not wrap:
            return o
        # A view is an inference tensor exactly when its base is, as for plain tensors (autograd would
        # otherwise refuse to share the base's version counter).
        with torch.inference_mode(fake_in[0].is_inference() if view else torch.is_inference_mode_enabled()):
            return OnFake(o)

    view = bool(fake_in) and any(r.alias_info is not None for r in func._schema.returns)
    return tree_map(rewrap, out)


def _unwrap(x: Any) -> Any:
    return x.cpu_data if isinstance(x, OnFake) else x


class _FactoryMode(TorchDispatchMode):
    """Routes ops without tensor arguments (torch.zeros(..., device=FAKE), arange …) through `_dispatch`."""

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return _dispatch(func, args, kwargs or {})


class _DataMode(TorchFunctionMode):
    """torch.tensor / as_tensor(data, device=FAKE): torch builds a real meta tensor for them without any
    dispatched op, so they are built on CPU and moved."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if func in (torch.tensor, torch.as_tensor) and device is not None and torch.device(device) == FAKE:
            return func(*args, **dict(kwargs, device=_CPU)).to(FAKE)
        return func(*args, **kwargs)


@contextlib.contextmanager
def fake_device() -> Iterator[torch.device]:
    """Within the block FAKE behaves as a second device (this thread only); yields FAKE."""
    with _FactoryMode(), _DataMode():
        yield FAKE
