"""The Fashion-MNIST reader (contract/fashion_mnist.py): the real files, a slice of them, and hand-made broken ones."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from contract.fashion_mnist import CLASS_NAMES, DEFAULT_DIR, FILES, DatasetError, dataset_checksum, load_split


def test_reads_a_slice_of_the_real_data():
    split = load_split("test", limit=100)
    assert split.images.shape == (100, 28, 28) and split.images.dtype == np.float32
    assert 0.0 <= split.images.min() and split.images.max() <= 1.0
    assert split.labels.shape == (100,) and set(split.labels) <= set(range(len(CLASS_NAMES)))
    assert split.images.std() > 0.1  # real pictures, not zeros


def test_missing_directory_names_the_debian_package(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_split("test", tmp_path / "nowhere")


def test_env_var_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("FSE_FASHION_MNIST", str(tmp_path / "elsewhere"))
    with pytest.raises(DatasetError, match="elsewhere"):
        load_split("test")


def _copy_real(tmp_path):
    for name in FILES["test"]:
        shutil.copy(DEFAULT_DIR / name, tmp_path / name)
    return tmp_path


def _write_gz(path, payload: bytes):
    with gzip.open(path, "wb") as f:
        f.write(payload)


def test_wrong_magic_number_is_named(tmp_path):
    d = _copy_real(tmp_path)
    _write_gz(d / FILES["test"][0], struct.pack(">IIII", 0x0801, 1, 28, 28) + bytes(784))
    with pytest.raises(DatasetError, match=r"t10k-images.*magic number 0x00000801, expected 0x00000803"):
        load_split("test", d)


def test_truncated_data_names_the_sizes(tmp_path):
    d = _copy_real(tmp_path)
    _write_gz(d / FILES["test"][0], struct.pack(">IIII", 0x0803, 10, 28, 28) + bytes(784 * 3))
    with pytest.raises(DatasetError, match=r"declares dimensions \(10, 28, 28\) = 7840 bytes.*holds 2352"):
        load_split("test", d)


def test_truncated_gzip_is_not_a_traceback(tmp_path):
    d = _copy_real(tmp_path)
    raw = (DEFAULT_DIR / FILES["test"][1]).read_bytes()
    (d / FILES["test"][1]).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetError, match="t10k-labels.*truncated or corrupt"):
        load_split("test", d)


def test_header_shorter_than_idx_header(tmp_path):
    d = _copy_real(tmp_path)
    _write_gz(d / FILES["test"][0], b"\x00\x00\x08")
    with pytest.raises(DatasetError, match="shorter than the 16-byte IDX header"):
        load_split("test", d)


def test_label_count_mismatch(tmp_path):
    d = _copy_real(tmp_path)
    _write_gz(d / FILES["test"][1], struct.pack(">II", 0x0801, 3) + bytes([1, 2, 3]))
    with pytest.raises(DatasetError, match="10000 images but .* has 3 labels"):
        load_split("test", d)


def test_checksum_is_the_one_the_shipped_models_were_trained_on():
    """The manifest records the checksum of the data the shipped models saw; the same four files
    here must give the same value (a change in the checksum's definition, or different data, fails)."""
    import json
    from pathlib import Path

    manifest = json.loads((Path(__file__).resolve().parent.parent / "onnx_models" / "manifest.json").read_text())
    assert dataset_checksum() == manifest["dataset"]["sha256"]


def test_checksum_sees_a_changed_file(tmp_path):
    d = _copy_real(tmp_path)
    for name in FILES["train"]:
        shutil.copy(DEFAULT_DIR / name, d / name)
    before = dataset_checksum(d)
    _write_gz(d / FILES["test"][1], struct.pack(">II", 0x0801, 1) + bytes([1]))
    assert dataset_checksum(d) != before
