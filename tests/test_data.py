"""The loader on IDX files the tests write: formats, search order, subsets, resize, errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import transforms

import cnn_course
from cnn_course import data as cdata
from cnn_course.data import DataError, find_data, load_data, read_idx, write_idx, write_synthetic_dataset


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No environment data, no system folders, an empty cache: only what a test writes exists."""
    monkeypatch.delenv("CNN_COURSE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(cdata.DATASETS, "FashionMNIST",
                        cdata.DatasetInfo(**{**cdata.DATASETS["FashionMNIST"].__dict__, "system_dirs": ()}))
    return tmp_path


def test_idx_roundtrip_gz_and_raw(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        assert torch.equal(read_idx(write_idx(tmp_path / name, array)), torch.from_numpy(array))
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "b", np.zeros(3, dtype=np.float32))


def test_truncated_and_corrupt_files_are_reported(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((10, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="header promises"):
        read_idx(path)
    gz = write_idx(tmp_path / "y-idx3-ubyte.gz", np.zeros((10, 28, 28), dtype=np.uint8))
    gz.write_bytes(gz.read_bytes()[:-20])
    with pytest.raises(DataError, match="damaged or incomplete"):
        read_idx(gz)
    bad = tmp_path / "z"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="bad header"):
        read_idx(bad)


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


def test_same_batches_as_torchvision_pipeline(isolated: Path) -> None:
    root = isolated / "d"
    write_synthetic_dataset(root, "FashionMNIST", train_per_class=3, test_per_class=2)
    _, test_iter = load_data("FashionMNIST", 20, root=root, device="cpu")
    tv = cdata.torchvision_dataset(
        "FashionMNIST", train=False, root=root,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.2860, 0.3530)]),
    )
    X, y = next(iter(test_iter))
    expected = torch.stack([tv[i][0] for i in range(20)])
    assert torch.allclose(X, expected, atol=1e-5)
    assert y.tolist() == [tv[i][1] for i in range(20)]


def test_resize_matches_torchvision_resize(isolated: Path) -> None:
    root = isolated / "d"
    write_synthetic_dataset(root, "FashionMNIST", train_per_class=2, test_per_class=1)
    _, test_iter = load_data("FashionMNIST", 10, root=root, resize=224, device="cpu")
    tv = cdata.torchvision_dataset(
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
    with pytest.raises(ValueError, match="train_size"):
        load_data("MNIST", 64, root=isolated / "d", train_size=301, device="cpu")
    with pytest.raises(ValueError, match="test_size"):
        load_data("MNIST", 64, root=isolated / "d", test_size=0, device="cpu")


def test_raw_images_and_labels(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=2)
    _, test_iter = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    images = test_iter.raw_images([0, 3])
    assert images.dtype == torch.uint8 and images.shape == (2, 28, 28)
    assert torch.equal(test_iter.raw_labels([0, 3]), test_iter.labels[[0, 3]])
    with pytest.raises(ValueError, match="indices"):
        test_iter.raw_images([99])


def test_augment_keeps_shape_and_changes_images(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "FashionMNIST", train_per_class=5, test_per_class=1)
    plain, _ = load_data("FashionMNIST", 50, root=isolated / "d", device="cpu", seed=1)
    aug, test_iter = load_data("FashionMNIST", 50, root=isolated / "d", device="cpu", seed=1, augment=True)
    (Xp, yp), (Xa, ya) = next(iter(plain)), next(iter(aug))
    assert Xa.shape == Xp.shape and torch.equal(ya, yp)
    assert not torch.allclose(Xa, Xp)
    assert not test_iter.augment


def test_search_order_root_then_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir, root_dir = isolated / "env", isolated / "root"
    write_synthetic_dataset(env_dir, "MNIST", train_per_class=1, test_per_class=1)
    monkeypatch.setenv("CNN_COURSE_DATA", str(env_dir))
    assert find_data("MNIST", download=False) == env_dir / "MNIST" / "raw"
    write_synthetic_dataset(root_dir, "MNIST", train_per_class=1, test_per_class=1)
    assert find_data("MNIST", root=root_dir, download=False) == root_dir / "MNIST" / "raw"


def test_flat_folder_accepted(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "tmp", "FashionMNIST", train_per_class=1, test_per_class=1)
    flat = isolated / "flat"
    folder.rename(flat)
    assert find_data("FashionMNIST", root=flat, download=False) == flat


def test_missing_data_error_lists_places(isolated: Path) -> None:
    with pytest.raises(DataError) as info:
        find_data("FashionMNIST", root=isolated / "nowhere", download=False)
    message = str(info.value)
    assert str(isolated / "nowhere" / "FashionMNIST" / "raw") in message
    assert "CNN_COURSE_DATA" in message and "train-images-idx3-ubyte.gz" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_failed_download_leaves_nothing(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision import datasets

    class Broken:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            raw = Path(root) / "MNIST" / "raw"
            raw.mkdir(parents=True)
            (raw / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b half a file")
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: connection refused")

    monkeypatch.setattr(datasets, "MNIST", Broken)
    with pytest.raises(DataError) as info:
        find_data("MNIST")
    assert "download failed" in str(info.value) and "connection refused" in str(info.value)
    cache = isolated / "cache" / "cnn_course"
    leftovers = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert leftovers == []


def test_successful_download_moves_files(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision import datasets

    class Fake:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            write_synthetic_dataset(root, "MNIST", train_per_class=1, test_per_class=1)

    monkeypatch.setattr(datasets, "MNIST", Fake)
    folder = find_data("MNIST")
    assert folder == isolated / "cache" / "cnn_course" / "MNIST" / "raw"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{s}.gz" for pair in cdata.FILES.values() for s in pair
    )
    assert not any(p.name.startswith(".download-") for p in folder.parent.iterdir())


def test_bad_arguments(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    with pytest.raises(ValueError, match="name='CIFAR10'.*'MNIST' or 'FashionMNIST'"):
        load_data("CIFAR10", 32)
    with pytest.raises(ValueError, match="batch_size"):
        load_data("MNIST", 0, root=isolated / "d")
    with pytest.raises(ValueError, match="resize"):
        load_data("MNIST", 8, root=isolated / "d", resize=-3)
    with pytest.raises(ValueError, match="device='tpu'"):
        load_data("MNIST", 8, root=isolated / "d", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            load_data("MNIST", 8, root=isolated / "d", device="cuda")


def test_mismatched_split_is_reported(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=2, test_per_class=1)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match="do not match"):
        load_data("MNIST", 8, root=isolated / "d", device="cpu")


def test_device_placement(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    train_iter, _ = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    assert train_iter.device.type == "cpu" and next(iter(train_iter))[0].device.type == "cpu"
    default, _ = load_data("MNIST", 8, root=isolated / "d")
    assert default.device.type == cnn_course.get_device().type


def test_gzip_of_decompressed_files_equal(isolated: Path) -> None:
    folder = write_synthetic_dataset(isolated / "d", "MNIST", train_per_class=1, test_per_class=1)
    for gz in folder.glob("*.gz"):
        plain = gz.with_suffix("")
        plain.write_bytes(gzip.decompress(gz.read_bytes()))
        os.remove(gz)
    train_iter, _ = load_data("MNIST", 8, root=isolated / "d", device="cpu")
    assert train_iter.num_examples == 10


def test_torchvision_copy_follows_its_source(isolated: Path) -> None:
    write_synthetic_dataset(isolated / "a", "MNIST", train_per_class=2, test_per_class=1, seed=1)
    write_synthetic_dataset(isolated / "b", "MNIST", train_per_class=3, test_per_class=1, seed=2)
    assert len(cdata.torchvision_dataset("MNIST", train=True, root=isolated / "b")) == 30
    assert len(cdata.torchvision_dataset("MNIST", train=True, root=isolated / "a")) == 20
    assert len(cdata.torchvision_dataset("MNIST", train=True, root=isolated / "b")) == 30
