"""Output-size formulas for convolution and pooling, and layer-by-layer shape tables."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import numpy as np
import torch
from torch import nn

from ._checks import check_bool, check_int, check_model, check_pair, describe

IntOrPair = int | Sequence[int]
Pair = tuple[int, int]
Row = TypeVar("Row")

__all__ = [
    "ShapeError",
    "ShapeRow",
    "ShapeTable",
    "SizeFormula",
    "conv_output_size",
    "layer_shapes",
    "pool_output_size",
    "size_formula",
]


class ShapeError(ValueError):
    """A layer cannot take the shape it is given."""


@dataclass(frozen=True)
class SizeFormula:
    """The output-size formula along one axis, with its intermediate numbers.

    Attributes:
        size, kernel_size, padding, stride, dilation, ceil_mode: the inputs.
        numerator: ``size + 2*padding - dilation*(kernel_size-1) - 1``.
        value: the formula's result, ``floor(numerator / stride) + 1`` (``ceil`` with ``ceil_mode``).
        output: what PyTorch produces: ``value``, less one when ``ceil_mode`` would start a last
            window inside the right padding. Below 1 means that no window fits.
    """

    size: int
    kernel_size: int
    padding: int
    stride: int
    dilation: int
    ceil_mode: bool
    numerator: int
    value: int
    output: int

    @property
    def fits(self) -> bool:
        """True when at least one window fits the padded input."""
        return self.output >= 1

    def text(self, axis: str = "height") -> str:
        """The formula with this axis' numbers filled in, e.g. ``OH = floor((H + 2P - K) / S) + 1 = ... = 3``."""
        out, name = ("OH", "H") if axis == "height" else ("OW", "W")
        rnd = "ceil" if self.ceil_mode else "floor"
        k, p, s, d = self.kernel_size, self.padding, self.stride, self.dilation
        if d == 1:
            general = f"{out} = {rnd}(({name} + 2P - K) / S) + 1"
            filled = f"{rnd}(({self.size} + 2*{p} - {k}) / {s}) + 1"
        else:
            general = f"{out} = {rnd}(({name} + 2P - D*(K-1) - 1) / S) + 1"
            filled = f"{rnd}(({self.size} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1"
        text = f"{general} = {filled} = {rnd}({self.numerator} / {s}) + 1 = {self.value}"
        if self.value < 1:
            text += "  (< 1: no window fits)"
        elif self.output != self.value:
            text += f" -> {self.output} (PyTorch drops a last window that would start in the right padding)"
        return text


def size_formula(
    size: int,
    kernel_size: int,
    padding: int = 0,
    stride: int = 1,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> SizeFormula:
    """Evaluate the output-size formula of convolution and pooling along one axis, as PyTorch does.

    This is the one implementation of the formula in the package: :func:`conv_output_size`,
    :func:`pool_output_size`, the shape explorer and the receptive-field module all call it.
    A kernel that does not fit is not an error here: the result's ``output`` is then below 1.

    Args:
        size: input length (at least 1).
        kernel_size: at least 1.
        padding: 0 or more, added on both sides.
        stride: at least 1.
        dilation: at least 1 (1 means no gaps).
        ceil_mode: round up instead of down (pooling only in PyTorch).

    Returns:
        A :class:`SizeFormula`.

    Raises:
        ValueError: a value that is not a whole number, or out of the ranges above.
    """
    size = check_int(size, "size", 1)
    kernel_size = check_int(kernel_size, "kernel_size", 1)
    padding = check_int(padding, "padding", 0)
    stride = check_int(stride, "stride", 1)
    dilation = check_int(dilation, "dilation", 1)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    numerator = size + 2 * padding - dilation * (kernel_size - 1) - 1
    # Python's // rounds towards minus infinity, as PyTorch's div_rtn does.
    value = (numerator + (stride - 1 if ceil_mode else 0)) // stride + 1
    output = value
    if ceil_mode and value >= 1 and (value - 1) * stride >= size + padding:
        output -= 1  # a last window may not start inside the right padding
    return SizeFormula(size, kernel_size, padding, stride, dilation, ceil_mode, numerator, value, output)


def _is_pair_input(*values: object) -> bool:
    return any(not isinstance(v, (int, np.integer)) and v is not None for v in values)


def _one_dim(
    size: int,
    kernel_size: int,
    padding: int,
    stride: int,
    dilation: int,
    ceil_mode: bool,
    axis: str,
    what: str,
) -> int:
    """Output length along one axis; ``axis`` is '' or '高度' / '宽度' for messages."""
    label = f"（{axis}）" if axis else ""
    limits = (("size", size, 1, ""), ("kernel_size", kernel_size, 1, ""), ("stride", stride, 1, ""),
              ("dilation", dilation, 1, "（1 表示没有空洞）"), ("padding", padding, 0, ""))
    for name, value, low, note in limits:
        if value < low:
            wanted = "至少为 1 的整数" if low == 1 else "非负整数"
            raise ValueError(f"{name}{label} 必须是{wanted}{note}，传入的是 {value}")
    formula = size_formula(size, kernel_size, padding, stride, dilation, ceil_mode)
    if not formula.fits:
        effective = dilation * (kernel_size - 1) + 1
        padded = size + 2 * padding
        hint = f"kernel_size <= {(padded - 1) // dilation + 1 if dilation > 1 else padded}"
        need_pad = math.ceil((effective - size) / 2)
        where = f"在{axis}方向上" if axis else ""
        raise ValueError(
            f"{what}：卷积核{where}放不下：kernel_size={kernel_size}"
            + (f"（dilation={dilation}）覆盖 {effective} 个位置" if dilation > 1 else "")
            + f"，但填充后的输入只有 {size} + 2*{padding} = {padded}；"
            f"请用 {hint}，或 padding >= {need_pad}，或更大的输入"
        )
    return formula.output


@overload  # all ints give an int: a type checker then knows that conv_output_size(28, 5) is one number
def conv_output_size(size: int, kernel_size: int, padding: int | str = ..., stride: int = ...,
                     dilation: int = ...) -> int: ...
@overload
def conv_output_size(size: IntOrPair, kernel_size: IntOrPair, padding: IntOrPair | str = ..., stride: IntOrPair = ...,
                     dilation: IntOrPair = ...) -> int | Pair: ...
def conv_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair | str = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
) -> int | tuple[int, int]:
    """Compute the output size of a convolution, as ``nn.Conv2d`` does.

    ``out = floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``

    Args:
        size: input height/width, an int or an ``(h, w)`` pair.
        kernel_size, padding, stride, dilation: as in ``nn.Conv2d``; ints or pairs.
            ``padding="valid"`` means 0 and ``padding="same"`` keeps the size (stride 1 only),
            as in ``nn.Conv2d``.

    Returns:
        An int when every argument is an int, else an ``(h, w)`` tuple.

    Raises:
        ValueError: a value that is not a whole number (or pair of them), kernel, stride or
            dilation below 1, negative padding, or a kernel that does not fit the padded
            input; the message names the argument.
    """
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                f"padding 必须是一个数、(h, w) 二元组、'valid' 或 'same'（与 nn.Conv2d 相同），传入的是 {padding!r}"
            )
        if padding == "valid":
            padding = 0
        else:
            return _same_size(size, kernel_size, stride, dilation)
    args = {"size": size, "kernel_size": kernel_size, "padding": padding, "stride": stride, "dilation": dilation}
    pairs = {name: check_pair(v, name) for name, v in args.items()}
    is_pair = _is_pair_input(*args.values())
    oh, ow = (
        _one_dim(
            pairs["size"][i], pairs["kernel_size"][i], pairs["padding"][i], pairs["stride"][i],
            pairs["dilation"][i], False, axis if is_pair else "", "conv_output_size",
        )
        for i, axis in enumerate(("高度", "宽度"))
    )
    return (oh, ow) if is_pair else oh


def _same_size(size: IntOrPair, kernel_size: IntOrPair, stride: IntOrPair, dilation: IntOrPair) -> int | Pair:
    """``padding='same'``: the output has the input's size; PyTorch allows it for stride 1 only."""
    sizes = check_pair(size, "size", 1)
    check_pair(kernel_size, "kernel_size", 1)
    check_pair(dilation, "dilation", 1)
    if check_pair(stride, "stride", 1) != (1, 1):
        raise ValueError(
            f"padding='same' 只能与 stride=1 一起用（与 nn.Conv2d 相同），传入的是 stride={stride!r}；"
            "请给 padding 一个数，例如 padding=(kernel_size - 1) // 2"
        )
    return sizes if _is_pair_input(size, kernel_size, stride, dilation) else sizes[0]


@overload
def pool_output_size(size: int, kernel_size: int, stride: int | None = ..., padding: int = ..., dilation: int = ...,
                     ceil_mode: bool = ...) -> int: ...
@overload
def pool_output_size(size: IntOrPair, kernel_size: IntOrPair, stride: IntOrPair | None = ..., padding: IntOrPair = ...,
                     dilation: IntOrPair = ..., ceil_mode: bool = ...) -> int | Pair: ...
def pool_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> int | tuple[int, int]:
    """Compute the output size of max/average pooling, as ``nn.MaxPool2d`` does.

    The rule is the convolution's: ``floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``
    (``ceil`` instead of ``floor`` with ``ceil_mode=True``). ``stride=None`` means
    ``stride = kernel_size``, PyTorch's default for pooling.

    Raises:
        ValueError: as :func:`conv_output_size`; also padding above half the kernel,
            which PyTorch rejects for pooling, and a ``ceil_mode`` that is not True or False.
    """
    if stride is None:
        stride = kernel_size
    args = {"size": size, "kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    pairs = {name: check_pair(v, name) for name, v in args.items()}
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    is_pair = _is_pair_input(*args.values())
    result = []
    for i, axis in enumerate(("高度", "宽度")):
        label = f"（{axis}）" if is_pair else ""
        k, p = pairs["kernel_size"][i], pairs["padding"][i]
        if k >= 1 and p > k // 2:
            raise ValueError(
                f"pool_output_size：padding{label}={p} 超过了 kernel_size{label}={k} 的一半；"
                f"汇聚时 PyTorch 只允许 padding <= {k // 2}"
            )
        result.append(
            _one_dim(pairs["size"][i], k, p, pairs["stride"][i], pairs["dilation"][i], ceil_mode,
                     axis if is_pair else "", "pool_output_size")
        )
    return (result[0], result[1]) if is_pair else result[0]


@dataclass(frozen=True)
class ShapeRow:
    """One layer of a :class:`ShapeTable`."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int


class RowTable(Generic[Row]):
    """Rows of a table, indexable and iterable, that print as aligned text (``__str__``)."""

    rows: list[Row]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> Row:
        return self.rows[index]

    def __repr__(self) -> str:
        return str(self)


def text_table(cells: list[list[str]], right: set[int]) -> list[str]:
    """Lines of aligned columns (those in ``right`` aligned right), with a rule under the header row."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


class ShapeTable(RowTable[ShapeRow]):
    """Layer-by-layer output shapes of a model, printable as text and shown as HTML in notebooks."""

    def __init__(self, rows: list[ShapeRow], input_shape: tuple[int, ...], total_params: int) -> None:
        self.rows = rows
        self.input_shape = input_shape
        self.total_params = total_params

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the last row's output."""
        return self.rows[-1].output_shape if self.rows else self.input_shape

    def _cells(self) -> list[tuple[str, str, str, str]]:
        return [(r.name, r.type, str(r.output_shape), f"{r.params:,}") for r in self.rows]

    def __str__(self) -> str:
        cells = [["layer", "type", "output shape", "params"], ["input", "", str(self.input_shape), ""]]
        lines = text_table(cells + [list(row) for row in self._cells()], right={3})
        return "\n".join(lines + [f"total parameters: {self.total_params:,}"])

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{n}</td><td>{t}</td><td>{s}</td><td style='text-align:right'>{p}</td></tr>"
            for n, t, s, p in self._cells()
        )
        return (
            "<table><thead><tr><th>layer</th><th>type</th><th>output shape</th><th>params</th></tr></thead>"
            f"<tbody><tr><td>input</td><td></td><td>{self.input_shape}</td><td></td></tr>{body}</tbody>"
            f"<tfoot><tr><td colspan='3'>total parameters</td><td style='text-align:right'>"
            f"{self.total_params:,}</td></tr></tfoot></table>"
        )


def _top_layers(model: nn.Module, depth: int) -> list[tuple[str, nn.Module]]:
    """The modules that get a row: the children of the model's main container, ``depth`` levels down."""
    prefix, root = "", model
    # Look through wrappers such as ``self.net = nn.Sequential(...)``.
    while True:
        children = list(root.named_children())
        if len(children) == 1 and list(children[0][1].children()):
            name, root = children[0]
            prefix = f"{prefix}{name}."
        else:
            break
    layers: list[tuple[str, nn.Module]] = []

    def walk(module: nn.Module, name: str, level: int) -> None:
        children = list(module.named_children())
        if level >= depth or not children:
            layers.append((name, module))
            return
        for child_name, child in children:
            walk(child, f"{name}.{child_name}", level + 1)

    for child_name, child in root.named_children():
        walk(child, f"{prefix}{child_name}", 1)
    if not layers:
        layers.append((type(model).__name__, model))
    return layers


#: Largest dummy input ``layer_shapes`` builds (elements); a typo such as (1, 2240, 22400) would
#: otherwise try to allocate gigabytes and can kill the notebook's kernel.
MAX_INPUT_ELEMENTS = 2**27


def _check_input_shape(input_shape: Any) -> tuple[int, int, int, int]:
    """``(C, H, W)`` or ``(N, C, H, W)`` of whole numbers >= 1, as a 4-tuple with a batch of 1 for 3 numbers."""
    example = "例如一张 28x28 灰度图像的 (1, 28, 28)"
    if isinstance(input_shape, torch.Tensor):
        raise ValueError(
            f"input_shape 必须是一个形状，{example}，传入的却是一个形状为 {tuple(input_shape.shape)} 的张量；"
            "对张量 X 请传 X.shape"
        )
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise ValueError(f"input_shape 必须是由 3 个或 4 个整数组成的元组，{example}，传入的是 {describe(input_shape)}")
    shape = tuple(input_shape)
    if len(shape) not in (3, 4):
        hint = "；请在前面加上通道数，例如 (1, 28, 28)" if len(shape) == 2 else ""
        raise ValueError(
            f"input_shape 必须是 (C, H, W) 或 (N, C, H, W)，{example}，传入的 {shape!r} "
            f"有 {len(shape)} 个数{hint}"
        )
    for i, value in enumerate(shape):
        try:
            check_int(value, "input_shape", 1)
        except ValueError:
            raise ValueError(
                f"input_shape 里必须都是至少为 1 的整数，{example}；"
                f"传入的是 {describe(input_shape)}，其中 input_shape[{i}] 是 {describe(value)}"
            ) from None
    shape = tuple(int(v) for v in shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise ValueError(
            f"input_shape={tuple(input_shape)!r} 共有 {math.prod(shape):,} 个数，超过了 layer_shapes 愿意构建的 "
            f"{MAX_INPUT_ELEMENTS:,} 个；这张表只需要一张图像，所以请用批量大小 1 和模型需要的图像尺寸，"
            "例如 (1, 224, 224)"
        )
    return shape


def layer_shapes(model: nn.Module, input_shape: Sequence[int], depth: int = 1) -> ShapeTable:
    """Run one dummy batch through ``model`` and record each layer's output shape.

    Args:
        model: any ``nn.Module``; rows are the layers of its main ``nn.Sequential``
            (or its children), ``depth`` levels down.
        input_shape: ``(C, H, W)`` or ``(N, C, H, W)``; a batch of 1 is used for ``(C, H, W)``.
        depth: 1 shows blocks (an Inception block is one row); 2 shows their parts.

    Returns:
        A :class:`ShapeTable` (plain text with ``print``, a table in notebooks).

    Raises:
        ValueError: ``model`` is not a network instance, ``input_shape`` is not 3 or 4 whole
            numbers of at least 1 (or is too large to run), or ``depth`` is not a whole number >= 1.
        ShapeError: when a layer cannot take the shape it receives; the message names
            the layer, the shape it got and what the previous layer produced.
    """
    model = check_model(model)
    shape = _check_input_shape(input_shape)
    depth = check_int(depth, "depth", 1)

    layers = _top_layers(model, depth)
    rows: list[ShapeRow] = []
    handles = []
    stack: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    names = {id(m): n for n, m in model.named_modules()}
    last_output: dict[str, object] = {"name": "input", "shape": shape}

    def record(name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            out_shape = tuple(output.shape) if isinstance(output, torch.Tensor) else ()
            rows.append(ShapeRow(name, type(module).__name__, out_shape,
                                 sum(p.numel() for p in module.parameters())))
            last_output["name"], last_output["shape"] = name, out_shape
        return hook

    def pre(module: nn.Module, inputs) -> None:
        in_shape = tuple(inputs[0].shape) if inputs and isinstance(inputs[0], torch.Tensor) else ()
        stack.append((names.get(id(module), type(module).__name__), module, in_shape))

    def post(module: nn.Module, inputs, output) -> None:
        if stack:
            stack.pop()

    for name, layer in layers:
        handles.append(layer.register_forward_hook(record(name)))
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))

    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape, device=device, dtype=dtype))
    except RuntimeError as err:
        if stack:
            name, module, in_shape = stack[-1]
            detail = str(err).splitlines()[0]
            raise ShapeError(
                f"层 '{name}'（{module}）接收不了形状为 {in_shape} 的输入：{detail}。"
                f"上一个记录下来的层 '{last_output['name']}' 输出的形状是 {last_output['shape']}。"
                f"请检查 input_shape={shape}（这个模型可能需要另一种图像尺寸），"
                f"或层 '{name}' 的各项尺寸。"
            ) from None
        raise
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    return ShapeTable(rows, shape, total)
