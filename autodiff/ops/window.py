"""Sliding-window primitives: ``unfold`` (im2col) and its adjoint ``fold`` (col2im).

``unfold`` takes the ``kh × kw`` windows of the last two axes of ``x`` (zero-padded by
``padding`` on every side, every ``stride``-th position) and lays them out as
``(..., kh*kw, Ho, Wo)``: one primitive where ``conv2d`` and ``max_pool2d`` used to stack
``kh*kw`` slices. ``fold`` adds such windows back into an image of the input's shape; the
two are each other's transpose, so each one's VJP is the other and both are linear (their
JVP is the primitive applied to the tangent). Leading axes are a stack, so the batching
rule moves the batch axis in front.
"""

from __future__ import annotations

from typing import Any

from .._core import primitive
from ..engine import apply1, call
from ..tensor import Tensor
from ._rules import linear, on_stacks
from ._util import as_tensor

__all__ = ["fold", "unfold"]


def out_size(size: int, k: int, stride: int, padding: int) -> int:
    """Number of window positions along an axis of length ``size`` (floored, as PyTorch)."""
    return (size + 2 * padding - k) // stride + 1


def _zeros(xp: Any, like: Any, shape: tuple[int, ...]) -> Any:
    return xp.zeros(shape, dtype=like.dtype, device=getattr(like, "device", None))


def _pad(xp: Any, x: Any, top: int, bottom: int, left: int, right: int) -> Any:
    # zeros around the last two axes, by concatenation (no in-place writes: JAX, MLX)
    lead = tuple(x.shape[:-2])
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if left or right:
        parts = [x]
        if left:
            parts.insert(0, _zeros(xp, x, (*lead, h, left)))
        if right:
            parts.append(_zeros(xp, x, (*lead, h, right)))
        x = xp.concat(parts, axis=-1)
        w += left + right
    if top or bottom:
        parts = [x]
        if top:
            parts.insert(0, _zeros(xp, x, (*lead, top, w)))
        if bottom:
            parts.append(_zeros(xp, x, (*lead, bottom, w)))
        x = xp.concat(parts, axis=-2)
    return x


def _unfold_fwd(xp: Any, x: Any, kernel: tuple[int, int], stride: int, padding: int) -> Any:
    kh, kw = kernel
    ho = out_size(int(x.shape[-2]), kh, stride, padding)
    wo = out_size(int(x.shape[-1]), kw, stride, padding)
    if padding:
        x = _pad(xp, x, padding, padding, padding, padding)
    if stride == kh == kw:
        # windows that tile the image: a reshape and a transpose of its covered part
        lead = tuple(x.shape[:-2])
        x = xp.reshape(x[..., : ho * kh, : wo * kw], (*lead, ho, kh, wo, kw))
        n = len(lead)
        x = xp.permute_dims(x, (*range(n), n + 1, n + 3, n, n + 2))
        return xp.reshape(x, (*lead, kh * kw, ho, wo))
    sh, sw = stride * (ho - 1) + 1, stride * (wo - 1) + 1
    cols = [x[..., i : i + sh : stride, j : j + sw : stride] for i in range(kh) for j in range(kw)]
    return xp.stack(cols, axis=-3)


def _dilate(xp: Any, g: Any, stride: int, axis: int) -> Any:
    # stride - 1 zeros between neighbours along axis -1 or -2: length n -> s (n - 1) + 1
    if stride == 1:
        return g
    shape = tuple(g.shape)
    n = shape[axis]
    zeros = [xp.zeros_like(g)] * (stride - 1)
    spread = xp.stack([g, *zeros], axis=axis)  # (..., n, s) or (..., n, s, W)
    if axis == -1:
        return xp.reshape(spread, (*shape[:-1], n * stride))[..., : stride * (n - 1) + 1]
    spread = xp.reshape(spread, (*shape[:-2], n * stride, shape[-1]))
    return spread[..., : stride * (n - 1) + 1, :]


def _fold_fwd(
    xp: Any, g: Any, size: tuple[int, int], kernel: tuple[int, int], stride: int, padding: int
) -> Any:
    # each window's values added back at its place in the padded image, then the
    # padding cut away: a sum of zero-padded (and, for stride > 1, dilated) slices
    kh, kw = kernel
    h, w = size
    hp, wp = h + 2 * padding, w + 2 * padding
    ho, wo = int(g.shape[-2]), int(g.shape[-1])
    if stride == kh == kw:
        # windows that tile the image: a transpose and a reshape, zeros where none reached
        lead = tuple(g.shape[:-3])
        n = len(lead)
        t = xp.reshape(g, (*lead, kh, kw, ho, wo))
        t = xp.reshape(
            xp.permute_dims(t, (*range(n), n + 2, n, n + 3, n + 1)), (*lead, ho * kh, wo * kw)
        )
        out = _pad(xp, t, 0, hp - ho * kh, 0, wp - wo * kw)
        return out[..., padding : padding + h, padding : padding + w] if padding else out
    sh, sw = stride * (ho - 1) + 1, stride * (wo - 1) + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            t = g[..., i * kw + j, :, :]
            t = _dilate(xp, _dilate(xp, t, stride, -1), stride, -2)
            t = _pad(xp, t, i, hp - i - sh, j, wp - j - sw)
            out = t if out is None else out + t
    if padding:
        out = out[..., padding : padding + h, padding : padding + w]
    return out


def _unfold_vjp(
    xp: Any, g: Any, ans: Any, x: Any, kernel: tuple[int, int], stride: int, padding: int
) -> tuple[Any]:
    size = (int(x.shape[-2]), int(x.shape[-1]))
    return (call(xp, fold_p, g, size=size, kernel=kernel, stride=stride, padding=padding),)


def _fold_vjp(
    xp: Any,
    g: Any,
    ans: Any,
    x: Any,
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: int,
    padding: int,
) -> tuple[Any]:
    return (call(xp, unfold_p, g, kernel=kernel, stride=stride, padding=padding),)


unfold_p = primitive(
    "unfold",
    _unfold_fwd,
    _unfold_vjp,
    jvp=linear("unfold"),
    batch=on_stacks("unfold"),
)
fold_p = primitive(
    "fold",
    _fold_fwd,
    _fold_vjp,
    jvp=linear("fold"),
    batch=on_stacks("fold"),
)


def _pair(v: Any, what: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(k, int) for k in pair):
        raise TypeError(f"{what} must be an int or a pair of ints, got {v!r}.")
    return int(pair[0]), int(pair[1])


def _check(shape: tuple[int, ...], kernel: Any, stride: int, padding: int) -> tuple[int, int]:
    kh, kw = _pair(kernel, "kernel_size")
    if len(shape) < 2:
        raise ValueError(f"unfold needs at least two axes (..., H, W), got shape {shape}.")
    if kh < 1 or kw < 1 or not isinstance(stride, int) or stride < 1:
        raise ValueError(
            f"unfold needs a positive kernel size and stride, got {(kh, kw)} and {stride!r}."
        )
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"unfold needs a non-negative int padding, got {padding!r}.")
    h, w = shape[-2], shape[-1]
    if out_size(h, kh, stride, padding) <= 0 or out_size(w, kw, stride, padding) <= 0:
        raise ValueError(
            f"kernel {kh}×{kw} does not fit an input of spatial size {h}×{w} "
            f"(padding {padding}): use a smaller kernel or more padding."
        )
    return kh, kw


def unfold(x: Any, kernel_size: Any, stride: int = 1, padding: int = 0) -> Tensor:
    """The sliding windows of the last two axes: ``(..., H, W)`` → ``(..., kh*kw, Ho, Wo)``.

    Window ``(i, j)`` of output position ``(p, q)`` is ``x[..., s p + i - pad, s q + j - pad]``
    (zero outside ``x``), with ``Ho = (H + 2 pad - kh) // s + 1`` (floored, like PyTorch's
    ``unfold``, whose ``(N, C*kh*kw, Ho*Wo)`` layout is a reshape of this one).

    Parameters
    ----------
    x : Tensor
        At least two axes; the leading ones are a stack.
    kernel_size : int or (int, int)
    stride : int
    padding : int
        Zeros added on every side of both spatial axes.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.window import unfold
    >>> x = ad.reshape(ad.arange(9.0), (3, 3))
    >>> unfold(x, 2).shape
    (4, 2, 2)
    >>> unfold(x, 2)[:, 0, 0].tolist()
    [0.0, 1.0, 3.0, 4.0]
    """
    x = as_tensor(x)
    kernel = _check(tuple(x.shape), kernel_size, stride, padding)
    return apply1(unfold_p, x, {"kernel": kernel, "stride": stride, "padding": padding})


def fold(
    cols: Any, size: tuple[int, int], kernel_size: Any, stride: int = 1, padding: int = 0
) -> Tensor:
    """The transpose of :func:`unfold`: windows ``(..., kh*kw, Ho, Wo)`` added back into
    ``(..., H, W)`` (where windows overlap, their values add up).

    Parameters
    ----------
    cols : Tensor
        Windows of shape ``(..., kh*kw, Ho, Wo)``, as :func:`unfold` lays them out.
    size : (int, int)
        ``(H, W)``, the spatial size of the image the windows were taken from.
    kernel_size : int or (int, int)
    stride : int
    padding : int
        As given to :func:`unfold`; the padding is cut away.

    Examples
    --------
    >>> import autodiff as ad
    >>> from autodiff.ops.window import fold, unfold
    >>> fold(unfold(ad.ones((3, 3)), 2), (3, 3), 2).tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    cols = as_tensor(cols)
    h, w = _pair(size, "size")
    kernel = _check((h, w), kernel_size, stride, padding)
    kh, kw = kernel
    want = (kh * kw, out_size(h, kh, stride, padding), out_size(w, kw, stride, padding))
    if cols.ndim < 3 or tuple(cols.shape[-3:]) != want:
        raise ValueError(
            f"fold: windows of shape (..., {', '.join(map(str, want))}) expected for an output "
            f"of size {(h, w)}, got {cols.shape}."
        )
    return apply1(
        fold_p, cols, {"size": (h, w), "kernel": kernel, "stride": stride, "padding": padding}
    )
