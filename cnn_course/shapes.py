"""Output-size formulas for convolution and pooling, and layer-by-layer shape tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

import torch
from torch import nn

IntOrPair = Union[int, Sequence[int]]

__all__ = [
    "ShapeError",
    "ShapeRow",
    "ShapeTable",
    "conv_output_size",
    "layer_shapes",
    "pool_output_size",
]


class ShapeError(ValueError):
    """A layer cannot take the shape it is given."""


def _pair(value: IntOrPair, name: str) -> tuple[int, int]:
    """Return ``value`` as an ``(h, w)`` pair of ints, or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if isinstance(value, int):
        return value, value
    try:
        items = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}") from None
    if len(items) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    return items[0], items[1]


def _is_pair_input(*values: object) -> bool:
    return any(not isinstance(v, int) and v is not None for v in values)


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
    """Output length along one axis; ``axis`` is '' or ' (height)' / ' (width)' for messages."""
    if size < 1:
        raise ValueError(f"size{axis} must be at least 1, got {size}")
    if kernel_size < 1:
        raise ValueError(f"kernel_size{axis} must be at least 1, got {kernel_size}")
    if stride < 1:
        raise ValueError(f"stride{axis} must be at least 1, got {stride}")
    if dilation < 1:
        raise ValueError(f"dilation{axis} must be at least 1 (1 means no gaps), got {dilation}")
    if padding < 0:
        raise ValueError(f"padding{axis} must be 0 or more, got {padding}")
    effective = dilation * (kernel_size - 1) + 1
    padded = size + 2 * padding
    # PyTorch's rule (floor division rounds towards minus infinity, as its div_rtn does).
    out = (padded - effective + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # a last window may not start inside the right padding
    if out < 1:
        hint = (
            f"use kernel_size <= {(padded - 1) // dilation + 1}"
            if dilation > 1
            else f"use kernel_size <= {padded}"
        )
        need_pad = math.ceil((effective - size) / 2)
        raise ValueError(
            f"{what}: the kernel does not fit{axis}: kernel_size={kernel_size}"
            + (f" with dilation={dilation} spans {effective}" if dilation > 1 else "")
            + f" but the padded input is only {size} + 2*{padding} = {padded}; "
            f"{hint}, or padding >= {need_pad}, or a larger input"
        )
    return out


def conv_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
) -> int | tuple[int, int]:
    """Compute the output size of a convolution, as ``nn.Conv2d`` does.

    ``out = floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``

    Args:
        size: input height/width, an int or an ``(h, w)`` pair.
        kernel_size, padding, stride, dilation: as in ``nn.Conv2d``; ints or pairs.

    Returns:
        An int when every argument is an int, else an ``(h, w)`` tuple.

    Raises:
        ValueError: kernel, stride or dilation below 1, negative padding, or a
            kernel that does not fit the padded input; the message names the argument.
    """
    args = {"size": size, "kernel_size": kernel_size, "padding": padding, "stride": stride, "dilation": dilation}
    pairs = {name: _pair(v, name) for name, v in args.items()}
    out = tuple(
        _one_dim(
            pairs["size"][i], pairs["kernel_size"][i], pairs["padding"][i], pairs["stride"][i],
            pairs["dilation"][i], False, "" if not _is_pair_input(*args.values()) else f" ({axis})",
            "conv_output_size",
        )
        for i, axis in enumerate(("height", "width"))
    )
    return out if _is_pair_input(*args.values()) else out[0]


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
            which PyTorch rejects for pooling.
    """
    if stride is None:
        stride = kernel_size
    args = {"size": size, "kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    pairs = {name: _pair(v, name) for name, v in args.items()}
    if not isinstance(ceil_mode, bool):
        raise ValueError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    is_pair = _is_pair_input(*args.values())
    result = []
    for i, axis in enumerate(("height", "width")):
        label = f" ({axis})" if is_pair else ""
        k, p = pairs["kernel_size"][i], pairs["padding"][i]
        if k >= 1 and p > k // 2:
            raise ValueError(
                f"pool_output_size: padding{label}={p} is more than half of kernel_size{label}={k}; "
                f"PyTorch allows padding <= {k // 2} for pooling"
            )
        result.append(
            _one_dim(pairs["size"][i], k, p, pairs["stride"][i], pairs["dilation"][i], ceil_mode, label,
                     "pool_output_size")
        )
    return tuple(result) if is_pair else result[0]


@dataclass(frozen=True)
class ShapeRow:
    """One layer of a :class:`ShapeTable`."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int


class ShapeTable:
    """Layer-by-layer output shapes of a model, printable as text and shown as HTML in notebooks."""

    def __init__(self, rows: list[ShapeRow], input_shape: tuple[int, ...], total_params: int) -> None:
        self.rows = rows
        self.input_shape = input_shape
        self.total_params = total_params

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, index: int) -> ShapeRow:
        return self.rows[index]

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the last row's output."""
        return self.rows[-1].output_shape if self.rows else self.input_shape

    def _cells(self) -> list[tuple[str, str, str, str]]:
        return [(r.name, r.type, str(r.output_shape), f"{r.params:,}") for r in self.rows]

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "params")
        cells = [header, ("input", "", str(self.input_shape), "")] + self._cells()
        widths = [max(len(row[i]) for row in cells) for i in range(4)]
        lines = []
        for row in cells:
            lines.append(
                "  ".join(
                    (cell.rjust(widths[i]) if i == 3 else cell.ljust(widths[i])) for i, cell in enumerate(row)
                ).rstrip()
            )
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"total parameters: {self.total_params:,}")
        return "\n".join(lines)

    __repr__ = __str__

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
        ShapeError: when a layer cannot take the shape it receives; the message names
            the layer, the shape it got and what the previous layer produced.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be a tuple like (1, 28, 28), got {input_shape!r}") from None
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (C, H, W) or (N, C, H, W) with positive sizes, got {tuple(input_shape)!r}"
        )
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")

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
                f"layer '{name}' ({module}) cannot take an input of shape {in_shape}: {detail}. "
                f"The previous recorded layer '{last_output['name']}' gave {last_output['shape']}. "
                f"Check input_shape={shape} (this model may expect another image size) "
                f"or the sizes of the layer '{name}'."
            ) from None
        raise
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    return ShapeTable(rows, shape, total)
