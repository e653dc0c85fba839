"""The data modules on IDX files the tests write: formats, search order, downloads, subsets, isolation, errors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import json
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torchvision import datasets, transforms

import cnn_course
from cnn_course import DataError, Loader, TensorLoader, load_data
from cnn_course.config import DATA_ENV
from cnn_course.datasets import DATASETS, FILES, cache_dir, find_data, normalize
from cnn_course.idx import read_idx, write_idx
from cnn_course.loaders import balanced_subset, torchvision_dataset
from tests.synthetic import write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
STEMS = [stem for pair in FILES.values() for stem in pair]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No environment data, no system folders, an empty cache, no reachable mirror: only what a test writes exists."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(DATASETS, "FashionMNIST", dataclasses.replace(DATASETS["FashionMNIST"], system_dirs=()))
    for name in DATASETS:  # port 9 (discard) refuses at once: a forgotten patch fails fast, never goes online
        monkeypatch.setattr(getattr(datasets, name), "mirrors", ["http://127.0.0.1:9/"])
    return tmp_path


# --------------------------------------------------------------------------- a local mirror


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``/<mode>/<file>``: ``ok`` the file, ``corrupt`` wrong bytes, ``drop`` its first 1,000 bytes;
    ``stall`` promises 1 MB and sends 64 KB; any other path is 404."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        server: _MirrorServer = self.server  # type: ignore[assignment]
        mode, _, filename = self.path.lstrip("/").partition("/")
        body = server.files.get(filename, b"") if mode != "stall" else b"\0" * (1 << 20)
        if mode not in ("ok", "corrupt", "stall", "drop") or not body:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "ok":
            self.wfile.write(body)
        elif mode == "corrupt":
            self.wfile.write(bytes(reversed(body)))
        elif mode == "drop":
            self.wfile.write(body[:1000])
            self.close_connection = True
        else:  # stall after 64 KB, until the test ends (bounded)
            self.wfile.write(body[: 64 * 1024])
            self.wfile.flush()
            server.stalled.set()
            server.release.wait(10)

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


class _MirrorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, bytes]
    stalled: threading.Event
    release: threading.Event


@pytest.fixture
def mirror(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., _MirrorServer]]:
    """``use(*modes)`` serves a synthetic MNIST on 127.0.0.1 and makes torchvision's MNIST mirrors ``/<mode>/``."""
    source = write_synthetic_dataset(isolated / "served", "MNIST", train_per_class=3, test_per_class=1)
    files = {f"{stem}.gz": (source / f"{stem}.gz").read_bytes() for stem in STEMS}
    server = _MirrorServer(("127.0.0.1", 0), _Handler)
    server.files, server.stalled, server.release = files, threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def use(*modes: str) -> _MirrorServer:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setattr(datasets.MNIST, "mirrors", [f"{base}/{mode}/" for mode in modes])
        monkeypatch.setattr(datasets.MNIST, "resources",
                            [(name, hashlib.md5(body).hexdigest()) for name, body in files.items()])
        return server

    yield use
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _everything_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


# --------------------------------------------------------------------------- IDX files


def test_idx_roundtrip_gz_and_raw(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        assert torch.equal(read_idx(write_idx(tmp_path / name, array)), torch.from_numpy(array))


def test_write_idx_refuses_other_dtypes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "b", np.zeros(3, dtype=np.float32))


def _truncate(path: Path, cut: int) -> None:
    path.write_bytes(path.read_bytes()[:-cut])


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: _truncate(p, 100), "有 7,740 个数据字节，但它的文件头说应当有 7,840 个"),
    (lambda p: p.write_bytes(b"PK\x03\x04 a zip file"), "不是 IDX 文件"),
    (lambda p: p.write_bytes(b"\0\0\x0d\x01\0\0\0\x01abcd"), "是 IDX 文件，但数据类型是“单精度浮点数”"),
    (lambda p: p.write_bytes(b""), "不是 IDX 文件"),
    (lambda p: p.write_bytes(b"\0\0\x08\x03\0\0"), "的文件头不完整"),
])
def test_damaged_idx_file_is_named(tmp_path: Path, damage: Callable[[Path], None], message: str) -> None:
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((10, 28, 28), dtype=np.uint8))
    damage(path)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "请用原始文件替换它" in str(info.value)


def test_truncated_gzip_is_named(tmp_path: Path) -> None:
    gz = write_idx(tmp_path / "y-idx3-ubyte.gz", np.zeros((10, 28, 28), dtype=np.uint8))
    _truncate(gz, 20)
    with pytest.raises(DataError, match="已损坏或不完整") as info:
        read_idx(gz)
    assert str(gz) in str(info.value)


def test_damaged_file_in_a_data_folder_is_named(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=1)
    _truncate(folder / "t10k-images-idx3-ubyte.gz", 30)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz 已损坏"):
        load_data("MNIST", 8, root=isolated / "d", device="cpu")


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("compress", [True, False])
def test_load_data_from_root(isolated: Path, compress: bool) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=20, test_per_class=5, compress=compress)
    train_iter, test_iter = load_data("MNIST", 32, root=isolated / "d", device="cpu")
    assert train_iter.num_examples == 200 and test_iter.num_examples == 50
    assert len(train_iter) == 7 and len(test_iter) == 2
    X, y = next(iter(train_iter))
    assert X.shape == (32, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert train_iter.classes == [str(i) for i in range(10)]
    assert sum(len(y) for _, y in train_iter) == 200
    assert "MNIST train: 200 images" in repr(train_iter)


def test_loaders_follow_the_declared_interface(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    train_iter, test_iter = load_data("MNIST", 4, root=isolated / "d", device="cpu")
    assert isinstance(train_iter, Loader) and isinstance(test_iter, Loader)
    assert not isinstance([(torch.zeros(1), torch.zeros(1))], Loader)


def test_notebooks_and_package_use_only_declared_loader_members() -> None:
    declared = {name for name in dir(Loader) if not name.startswith("_")}
    used: set[str] = set()
    pattern = re.compile(r"\b(?:train_iter|test_iter|data_iter)\.([A-Za-z]\w*)")
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                used |= set(pattern.findall("".join(cell["source"])))
    for module in sorted((REPO / "cnn_course").glob("*.py")):
        if module.name != "loaders.py":
            used |= set(pattern.findall(module.read_text(encoding="utf-8")))
    assert used and used <= declared, f"not declared in cnn_course.Loader: {sorted(used - declared)}"


def test_same_batches_as_torchvision_pipeline(isolated: Path) -> None:
    root = isolated / "d"
    write_synthetic_dataset(root, "FashionMNIST", train_per_class=3, test_per_class=2)
    _, test_iter = load_data("FashionMNIST", 20, root=root, device="cpu")
    tv = torchvision_dataset(
        "FashionMNIST", train=False, root=root,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.2860, 0.3530)]),
    )
    assert isinstance(tv, datasets.FashionMNIST) and len(tv) == 20
    X, y = next(iter(test_iter))
    expected = torch.stack([tv[i][0] for i in range(20)])
    assert torch.allclose(X, expected, atol=1e-5)
    assert y.tolist() == [tv[i][1] for i in range(20)]


def test_torchvision_dataset_holds_the_files_it_was_pointed_at(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "a", "MNIST", train_per_class=2, test_per_class=1, seed=1)
    folder = write_synthetic_dataset(isolated / "b", "MNIST", train_per_class=3, test_per_class=1, seed=2)
    assert len(torchvision_dataset("MNIST", train=True, root=isolated / "b")) == 30
    assert len(torchvision_dataset("MNIST", train=True, root=isolated / "a")) == 20
    again = torchvision_dataset("MNIST", train=True, root=isolated / "b")
    assert torch.equal(again.data, read_idx(folder / "train-images-idx3-ubyte.gz"))
    assert not _everything_under(isolated / "cache")  # nothing copied anywhere


@pytest.mark.parametrize("compress", [False, True])
def test_torchvision_dataset_is_built_by_torchvision_itself(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=1, compress=compress)
    calls: list[dict[str, Any]] = []
    original = datasets.MNIST.__init__

    def spy(self: datasets.MNIST, *args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(datasets.MNIST, "__init__", spy)
    monkeypatch.setattr(tempfile, "tempdir", str(isolated / "tmp"))
    (isolated / "tmp").mkdir()
    tv = torchvision_dataset("MNIST", train=False, root=isolated / "d")
    assert len(calls) == 1 and calls[0]["download"] is False and calls[0]["train"] is False
    assert torch.equal(tv.data, read_idx(next(folder.glob("t10k-images*"))))
    assert tv.targets.dtype == torch.int64 and len(tv) == 10
    # Uncompressed files in torchvision's layout are read where they are; .gz files from a copy that is removed.
    assert tv.root == (str(isolated / "d") if not compress else str(folder))
    assert not _everything_under(isolated / "tmp")


def test_normalize_is_what_load_data_does(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "FashionMNIST", train_per_class=1, test_per_class=1)
    _, test_iter = load_data("FashionMNIST", 10, root=isolated / "d", device="cpu")
    raw = test_iter.raw_images(list(range(10)))
    kept = raw.clone()
    X, _ = next(iter(test_iter))
    assert torch.equal(normalize(raw.unsqueeze(1), "FashionMNIST"), X)
    assert torch.equal(raw, kept)  # the input is left alone
    assert torch.allclose(normalize(raw.float() / 255, "fashion-mnist").unsqueeze(1), X)
    assert normalize(torch.full((1,), 255, dtype=torch.uint8)).item() == pytest.approx((1 - 0.1307) / 0.3081)
    with pytest.raises(ValueError, match="images 必须是张量，装着 0-255 的 uint8 像素值或 0-1 的浮点数，传入的是 dtype torch.int32"):
        normalize(raw.int(), "MNIST")
    with pytest.raises(ValueError, match="name='CIFAR'"):
        normalize(raw, "CIFAR")


def test_resize_matches_torchvision_resize(isolated: Path) -> None:
    root = isolated / "d"
    write_synthetic_dataset(root, "FashionMNIST", train_per_class=2, test_per_class=1)
    _, test_iter = load_data("FashionMNIST", 10, root=root, resize=224, device="cpu")
    tv = torchvision_dataset(
        "FashionMNIST", train=False, root=root,
        transform=transforms.Compose(
            [transforms.ToTensor(), transforms.Resize(224), transforms.Normalize(0.2860, 0.3530)]
        ),
    )
    X, _ = next(iter(test_iter))
    assert X.shape == (10, 1, 224, 224)
    assert torch.allclose(X, torch.stack([tv[i][0] for i in range(10)]), atol=1e-4)
    assert test_iter.image_shape == (1, 224, 224)


def test_shuffle_changes_each_epoch_and_is_seeded(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=10, test_per_class=2)
    a, _ = load_data("MNIST", 100, root=isolated / "d", device="cpu", seed=3)
    b, _ = load_data("MNIST", 100, root=isolated / "d", device="cpu", seed=3)
    first_a, second_a = next(iter(a))[1], next(iter(a))[1]
    assert not torch.equal(first_a, second_a)
    assert torch.equal(first_a, next(iter(b))[1])
    assert sorted(torch.cat([y for _, y in a]).tolist()) == sorted(a.labels.tolist())


def test_balanced_subsets(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=30, test_per_class=10)
    train_iter, test_iter = load_data("MNIST", 64, root=isolated / "d", train_size=105, test_size=20, device="cpu")
    counts = torch.bincount(train_iter.labels, minlength=10).tolist()
    assert sum(counts) == 105 and max(counts) - min(counts) <= 1
    assert torch.bincount(test_iter.labels, minlength=10).tolist() == [2] * 10
    again, _ = load_data("MNIST", 64, root=isolated / "d", train_size=105, test_size=20, device="cpu")
    assert torch.equal(again.images, train_iter.images)
    assert "subset of 300" in repr(train_iter)


def test_a_validation_split_is_held_out_of_the_training_images(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=30, test_per_class=10)
    root = isolated / "d"
    train_iter, valid_iter, test_iter = load_data("MNIST", 64, root=root, valid_size=50, device="cpu", seed=1)
    assert torch.bincount(valid_iter.labels, minlength=10).tolist() == [5] * 10  # class-balanced
    assert train_iter.num_examples == 250 and test_iter.num_examples == 100
    assert not valid_iter.shuffle and train_iter.shuffle
    whole, _ = load_data("MNIST", 64, root=root, device="cpu")
    rows = {tuple(img.flatten().tolist()) for img in whole.images}
    train_rows = {tuple(img.flatten().tolist()) for img in train_iter.images}
    valid_rows = {tuple(img.flatten().tolist()) for img in valid_iter.images}
    assert len(rows) == 300 and train_rows | valid_rows == rows and not train_rows & valid_rows  # no image in both
    assert "held out from the 300 training images, seed 1" in valid_iter.describe()
    assert "the 300 training images minus the 50 held out" in train_iter.describe()
    again = load_data("MNIST", 64, root=root, valid_size=50, device="cpu", seed=1)[1]
    other = load_data("MNIST", 64, root=root, valid_size=50, device="cpu", seed=2)[1]
    assert torch.equal(again.images, valid_iter.images) and not torch.equal(other.images, valid_iter.images)
    small, valid2, _ = load_data("MNIST", 64, root=root, valid_size=50, train_size=100, device="cpu", seed=1)
    assert torch.equal(valid2.images, valid_iter.images)  # the subset is drawn from what is left
    assert small.num_examples == 100 and "subset of the 250 not held out" in small.describe()
    assert not {tuple(img.flatten().tolist()) for img in small.images} & valid_rows


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"valid_size": 300}, "valid_size=300 会让训练图像一张不剩"),
    ({"valid_size": 0}, "valid_size"),
    ({"valid_size": 50, "train_size": 251}, "train_size=251 超过了 MNIST 的训练图像数（留出验证集后剩下的 250 张，在 "),
])
def test_a_validation_split_that_cannot_be_made_is_refused(isolated: Path, kwargs: dict, message: str) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=30, test_per_class=10)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_data("MNIST", 64, root=isolated / "d", device="cpu", **kwargs)


def test_subset_larger_than_a_class_allows_is_refused() -> None:
    labels = torch.tensor([0] * 5 + [1] * 20)
    with pytest.raises(ValueError, match=r"size=20：.*需要类别 0 的 10 张图像，但它只有 5 张；最多只能用 10"):
        balanced_subset(labels, 20, 2)


@pytest.mark.parametrize(("labels", "size", "num_classes", "message"), [
    (torch.tensor([0.0, 1.0]), 1, 2, "由整数标签组成的一维张量"),
    (torch.tensor([0, 1, 2]), 1, 2, "num_classes=2，但标签从 0 到 2；请用 num_classes=3"),
    (torch.tensor([0, 1]), 3, 2, "size 必须是从 1 到 2 的整数，传入的是 3"),
])
def test_balanced_subset_rejects_bad_arguments(labels: torch.Tensor, size: int, num_classes: int, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        balanced_subset(labels, size, num_classes)


def test_raw_images_and_labels(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=2)
    _, test_iter = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    images = test_iter.raw_images([0, 3])
    assert images.dtype == torch.uint8 and images.shape == (2, 28, 28)
    assert torch.equal(test_iter.raw_labels([0, 3]), test_iter.labels[[0, 3]])
    assert torch.equal(test_iter.raw_images(range(2)), test_iter.images[:2])


@pytest.mark.parametrize(("indices", "message"), [
    ([99], "indices 里的 [99] 超出了这个加载器的 20 张图像"),
    ([-1], "indices 里的 [-1] 超出了这个加载器的 20 张图像"),
    ([0.0, 1.5], "不是整数"),
    (torch.ones(20, dtype=torch.bool), "indices 是 True/False 掩码"),
    (True, "indices=True 是布尔值"),
    ("0", "indices='0' 不是位置"),
])
def test_raw_images_rejects_what_is_not_a_position(isolated: Path, indices: Any, message: str) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=2)
    _, test_iter = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    with pytest.raises(ValueError, match=re.escape(message)):
        test_iter.raw_images(indices)


def test_transform_refuses_float_images_and_leaves_its_input_alone(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    _, test_iter = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    raw = test_iter.raw_images([0, 1])
    before = raw.clone()
    assert test_iter.transform(raw).shape == (2, 1, 28, 28) and torch.equal(raw, before)
    assert test_iter.transform(raw[0]).shape == (1, 1, 28, 28)
    with pytest.raises(ValueError, match="已经变换过了"):
        test_iter.transform(raw.float() / 255)


def test_augment_keeps_shape_and_changes_images(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "FashionMNIST", train_per_class=5, test_per_class=1)
    plain, _ = load_data("FashionMNIST", 50, root=isolated / "d", device="cpu", seed=1)
    aug, test_iter = load_data("FashionMNIST", 50, root=isolated / "d", device="cpu", seed=1, augment=True)
    (Xp, yp), (Xa, ya) = next(iter(plain)), next(iter(aug))
    assert Xa.shape == Xp.shape and torch.equal(ya, yp)
    assert not torch.allclose(Xa, Xp)
    assert not test_iter.augment


@pytest.mark.parametrize("resize", [None, 56, 112])
def test_augment_shifts_by_at_most_two_original_pixels(isolated: Path, resize: int | None) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=5, test_per_class=1)
    plain, _ = load_data("MNIST", 50, root=isolated / "d", device="cpu", seed=1, resize=resize)
    aug, _ = load_data("MNIST", 50, root=isolated / "d", device="cpu", seed=1, resize=resize, augment=True)
    (Xp, _), (Xa, _) = next(iter(plain)), next(iter(aug))
    scale = Xp.shape[-1] // 28

    def centre_of_mass(X: torch.Tensor) -> torch.Tensor:
        ink = (X - X.amin()).squeeze(1)
        grid = torch.arange(X.shape[-1], dtype=X.dtype)
        return torch.stack([(ink.sum(2) * grid).sum(1), (ink.sum(1) * grid).sum(1)], 1) / ink.sum((1, 2))[:, None]

    shift = (centre_of_mass(Xa) - centre_of_mass(Xp)).abs() / scale  # in pixels of the 28x28 original
    assert shift.max() <= 2.5, "a shift larger than 2 original pixels"
    assert shift.max() >= 0.9, "shifts too small to matter at this size"


def test_device_placement(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    train_iter, _ = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    assert train_iter.device.type == "cpu" and next(iter(train_iter))[0].device.type == "cpu"
    default, _ = load_data("MNIST", 8, root=isolated / "d")
    assert default.device.type == cnn_course.get_device().type


def test_gzip_of_decompressed_files_equal(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    packed, _ = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    for gz in folder.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        os.remove(gz)
    plain, _ = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    assert torch.equal(plain.images, packed.images)


# --------------------------------------------------------------------------- nothing shared


def _edit_images(train_iter: TensorLoader, test_iter: TensorLoader) -> None:
    train_iter.images.zero_()
    test_iter.images.fill_(255)


def _edit_labels(train_iter: TensorLoader, test_iter: TensorLoader) -> None:
    train_iter.labels.zero_()
    test_iter.labels.zero_()


def _edit_batches(train_iter: TensorLoader, test_iter: TensorLoader) -> None:
    for loader in (train_iter, test_iter):
        for X, y in loader:
            X.zero_()
            y.zero_()


def _edit_raw(train_iter: TensorLoader, test_iter: TensorLoader) -> None:
    train_iter.raw_images(list(range(5))).zero_()
    test_iter.raw_labels([0, 1]).zero_()


def _edit_torchvision_copy(train_iter: TensorLoader, test_iter: TensorLoader) -> None:
    torchvision_dataset("MNIST", train=True, root=Path(train_iter.source)).data.zero_()


@pytest.mark.parametrize("edit", [_edit_images, _edit_labels, _edit_batches, _edit_raw, _edit_torchvision_copy])
def test_edits_to_what_was_handed_out_never_reach_the_next_call(isolated: Path, edit: Callable) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=3, test_per_class=2)
    first = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    expected = [(loader.images.clone(), loader.labels.clone()) for loader in first]
    edit(*first)
    again = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    for loader, (images, labels) in zip(again, expected, strict=True):
        assert torch.equal(loader.images, images) and torch.equal(loader.labels, labels)


def test_editing_a_test_batch_leaves_the_next_pass_alone(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=3, test_per_class=2)
    _, test_iter = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    expected = [y.clone() for _, y in test_iter]
    for _, y in test_iter:
        y.fill_(9)
    assert all(torch.equal(y, e) for (_, y), e in zip(test_iter, expected, strict=True))


# --------------------------------------------------------------------------- finding the files


def test_search_order_root_then_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir, root_dir = isolated / "env", isolated / "root"
    write_synthetic_dataset(env_dir, "MNIST", train_per_class=1, test_per_class=1)
    monkeypatch.setenv(DATA_ENV, str(env_dir))
    assert find_data("MNIST", download=False) == env_dir / "MNIST" / "raw"
    write_synthetic_dataset(root_dir, "MNIST", train_per_class=1, test_per_class=1)
    assert find_data("MNIST", root=root_dir, download=False) == root_dir / "MNIST" / "raw"


def test_describe_names_the_folder_without_this_machines_paths(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_synthetic_dataset(isolated / "env", "MNIST", train_per_class=1, test_per_class=1)
    monkeypatch.setenv(DATA_ENV, str(isolated / "env"))
    train_iter, _ = load_data("MNIST", 8, device="cpu")
    assert train_iter.describe().endswith(f"from ${DATA_ENV}/MNIST/raw")
    assert train_iter.source == str(isolated / "env" / "MNIST" / "raw")


def test_user_folder_with_tilde_is_expanded(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(isolated / "home"))
    write_synthetic_dataset(isolated / "home" / "data", "MNIST", train_per_class=1, test_per_class=1)
    assert find_data("MNIST", root="~/data", download=False) == isolated / "home" / "data" / "MNIST" / "raw"
    monkeypatch.setenv(DATA_ENV, "~/data")
    assert find_data("MNIST", download=False) == isolated / "home" / "data" / "MNIST" / "raw"


@pytest.mark.parametrize("root_is", ["the files' own folder", "the dataset's folder"])
def test_other_folder_layouts_are_accepted(isolated: Path, root_is: str) -> None:
    folder = write_synthetic_dataset(isolated / "tmp", "FashionMNIST", train_per_class=1, test_per_class=1)
    if root_is == "the files' own folder":
        root = folder.rename(isolated / "flat")
        assert find_data("FashionMNIST", root=root, download=False) == root
    else:
        root = folder.parent
        assert find_data("FashionMNIST", root=root, download=False) == root / "raw"


def test_folder_named_after_the_other_dataset_is_not_read_as_this_one(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "FashionMNIST", train_per_class=1, test_per_class=1)
    with pytest.raises(DataError, match="但路径里写的是 FashionMNIST；已跳过"):
        find_data("MNIST", root=folder, download=False)


def test_missing_data_error_lists_places(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(isolated / "env"))
    monkeypatch.setitem(DATASETS, "FashionMNIST",
                        dataclasses.replace(DATASETS["FashionMNIST"], system_dirs=(str(isolated / "debian"),)))
    (isolated / "empty").mkdir()
    with pytest.raises(DataError) as info:
        find_data("FashionMNIST", root=isolated / "empty", download=False)
    message = str(info.value)
    for place in (isolated / "empty" / "FashionMNIST" / "raw", isolated / "env" / "FashionMNIST" / "raw",
                  isolated / "debian", cache_dir() / "FashionMNIST" / "raw"):
        assert f"{place}（" in message
    assert "download=False，所以没有下载" in message and f"设置 {DATA_ENV}=<folder>" in message
    assert "train-images-idx3-ubyte.gz" in message and "apt-get install dataset-fashion-mnist" in message


def test_three_of_four_files_names_the_missing_one(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"四个文件里只有 3 个；缺少 t10k-labels-idx1-ubyte\(\.gz\)"):
        find_data("MNIST", root=isolated / "d", download=False)


def test_root_that_does_not_exist_is_an_error_even_when_the_data_is_elsewhere(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_synthetic_dataset(isolated / "env", "FashionMNIST", train_per_class=1, test_per_class=1)
    monkeypatch.setenv(DATA_ENV, str(isolated / "env"))
    with pytest.raises(ValueError, match=r"root='.*typo' 不存在"):
        load_data("FashionMNIST", 8, root=isolated / "typo", device="cpu")


def test_mismatched_split_is_reported(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=1)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match="对不上"):
        load_data("MNIST", 8, root=isolated / "d", device="cpu")


def test_labels_beyond_the_classes_are_reported(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(10, 42, dtype=np.uint8))
    with pytest.raises(DataError, match="里有标签 42，但 MNIST 只有 10 个类别"):
        load_data("MNIST", 8, root=isolated / "d", device="cpu")


# --------------------------------------------------------------------------- downloading


def test_download_uses_the_first_mirror_that_works(isolated: Path, mirror: Callable[..., _MirrorServer]) -> None:
    server = mirror("drop", "ok")
    folder = find_data("MNIST")
    assert folder == cache_dir() / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == server.files
    assert _everything_under(folder.parent) == sorted([folder, *folder.iterdir()])  # no temporary folder left
    train_iter, _ = load_data("MNIST", 8, device="cpu")
    assert train_iter.num_examples == 30


def test_download_adds_only_missing_files_and_keeps_the_users(
    isolated: Path, mirror: Callable[..., _MirrorServer]
) -> None:
    mirror("ok")
    folder = write_synthetic_dataset(isolated / "mine", "MNIST", train_per_class=2, test_per_class=1, seed=7)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    mine = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert find_data("MNIST", root=isolated / "mine") == folder
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {name: after[name] for name in mine} == mine and "t10k-labels-idx1-ubyte.gz" in after


@pytest.mark.parametrize(("mode", "cause"), [
    ("stall", "超时：服务器 0.5 s 内没有发来任何数据"),
    ("drop", "连接在收到 1,000 字节后就关闭了（应有 "),
    ("corrupt", "文件的 MD5 是 "),
    ("missing", "HTTP 错误 404"),
])
def test_failed_download_explains_and_leaves_nothing(
    isolated: Path, mirror: Callable[..., _MirrorServer], mode: str, cause: str
) -> None:
    server = mirror(mode)
    with pytest.raises(DataError) as info:
        load_data("MNIST", 8, device="cpu", download_timeout=0.5)
    message = str(info.value)
    url = f"http://127.0.0.1:{server.server_address[1]}/{mode}/train-images-idx3-ubyte.gz"
    assert f"试过 {url}，结果：{cause}" in message
    assert f"{cache_dir() / 'MNIST' / 'raw'}（下载缓存）" in message and "要离线使用" in message
    assert ("download_timeout=" in message) == (mode == "stall")
    assert _everything_under(isolated / "cache") == []


def test_ctrl_c_during_a_download_leaves_nothing(isolated: Path, mirror: Callable[..., _MirrorServer]) -> None:
    server = mirror("stall")
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread().ident == main

    def interrupt() -> None:
        if server.stalled.wait(10):  # the client holds 64 KB of a partial file now
            signal.pthread_kill(main, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt, daemon=True)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        find_data("MNIST", download_timeout=20)
    interrupter.join(5)
    assert _everything_under(isolated / "cache") == []


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(("kwargs", "argument", "shown"), [
    ({"name": "CIFAR10"}, "name", "'CIFAR10'"),
    ({"name": 10}, "name", "10"),
    ({"batch_size": 0}, "batch_size", "0"),
    ({"batch_size": True}, "batch_size", "True"),
    ({"batch_size": 64.0}, "batch_size", "64.0"),
    ({"batch_size": "64"}, "batch_size", "'64'"),
    ({"resize": "28"}, "resize", "'28'"),
    ({"resize": -3}, "resize", "-3"),
    ({"resize": (28,)}, "resize", "(28,)"),
    ({"resize": 28.5}, "resize", "28.5"),
    ({"train_size": 0}, "train_size", "0"),
    ({"train_size": 1e4}, "train_size", "10000.0"),
    ({"train_size": 10**6}, "train_size", "1000000"),
    ({"test_size": False}, "test_size", "False"),
    ({"seed": -1}, "seed", "-1"),
    ({"seed": 1.5}, "seed", "1.5"),
    ({"augment": "False"}, "augment", "'False'"),
    ({"download": 1}, "download", "1"),
    ({"download_timeout": 0}, "download_timeout", "0"),
    ({"download_timeout": None}, "download_timeout", "None"),
    ({"device": "tpu"}, "device", "'tpu'"),
    ({"root": 3}, "root", "3"),
    ({"root": ""}, "root", "''"),
    ({"root": "FILE"}, "root", "a.txt"),
])
def test_bad_arguments_are_named_with_their_value(
    isolated: Path, kwargs: dict[str, Any], argument: str, shown: str
) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    (isolated / "a.txt").write_text("not a folder")
    call = {"name": "MNIST", "batch_size": 8, "root": isolated / "d", "device": "cpu", **kwargs}
    if call["root"] == "FILE":
        call["root"] = isolated / "a.txt"
    with pytest.raises(ValueError) as info:
        load_data(**call)
    message = str(info.value)
    assert message.startswith(argument) and shown in message, message


def test_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(ValueError, match=r"name='fashion' .*是不是想写 'FashionMNIST'？.*'MNIST' 或 'FashionMNIST'"):
        load_data("fashion", 8)


def test_name_is_case_and_dash_insensitive(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "FashionMNIST", train_per_class=1, test_per_class=1)
    train_iter, _ = load_data("fashion-mnist", 8, root=isolated / "d", device="cpu")
    assert train_iter.info.name == "FashionMNIST"


def test_tensor_loader_rejects_mismatched_tensors() -> None:
    with pytest.raises(ValueError, match=r"labels 必须是 cpu 上形状为 \(3,\) 的整数张量"):
        TensorLoader(torch.zeros(3, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long),
                     batch_size=2, shuffle=False, info="MNIST")
    with pytest.raises(ValueError, match="images 必须是非空的 uint8 张量"):
        TensorLoader(torch.zeros(3, 28, 28), torch.zeros(3, dtype=torch.long), batch_size=2, shuffle=False,
                     info="MNIST")
