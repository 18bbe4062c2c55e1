"""Loaders on tiny files written here in the official formats, digits, npz errors, augmentation."""
import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from gp_opt import data as gdata
from gp_opt.data import (AugmentConfig, BatchStream, augment_batch, download_and_extract, load_dataset,
                         load_digits, load_npz)
from gp_opt.errors import DataError

RNG = np.random.default_rng(0)


def _write_batch(path, n, label_key=b"labels", extra=None):
    d = {b"batch_label": b"testing", b"data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8),
         label_key: [int(v) for v in RNG.integers(0, 10, n)], b"filenames": [b"x.png"] * n}
    if extra:
        d.update(extra)
    with open(path, "wb") as fh:
        pickle.dump(d, fh, protocol=2)
    return d


def _tiny_cifar10(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = [_write_batch(folder / f"data_batch_{i}", 20) for i in range(1, 6)]
    test = _write_batch(folder / "test_batch", 10)
    return folder, batches, test


def test_cifar10_from_official_batch_files(tmp_path):
    folder, batches, test = _tiny_cifar10(tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.x_train.dtype == torch.uint8 and ds.x_train.shape == (90, 3, 32, 32)
    assert ds.x_val.shape == (10, 3, 32, 32) and ds.num_classes == 10
    # the validation split is the tail of the training set (SPEC: the last 5,000 images)
    last = batches[-1]
    assert torch.equal(ds.x_val, torch.from_numpy(last[b"data"][-10:].reshape(10, 3, 32, 32)))
    assert ds.y_val.tolist() == last[b"labels"][-10:]
    assert ds.y_train[:20].tolist() == batches[0][b"labels"]
    assert ds.x_test.shape == (10, 3, 32, 32) and ds.y_test.tolist() == test[b"labels"]
    # row layout: the first 1024 bytes are the red plane of a 32x32 image
    assert torch.equal(ds.x_train[0, 0].flatten(), torch.from_numpy(batches[0][b"data"][0, :1024]))
    assert len(ds.mean) == 3 and all(0.3 < m < 0.7 for m in ds.mean)
    # the folder itself works as data_dir too
    assert load_dataset("cifar10", data_dir=folder).x_train.shape == (90, 3, 32, 32)


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    tr = _write_batch(folder / "train", 30, b"fine_labels", {b"coarse_labels": [0] * 30})
    _write_batch(folder / "test", 5, b"fine_labels", {b"coarse_labels": [0] * 5})
    ds = load_dataset("cifar100", data_dir=tmp_path)
    assert ds.num_classes == 100 and ds.x_train.shape[0] + ds.x_val.shape[0] == 30
    assert ds.y_train.tolist() + ds.y_val.tolist() == tr[b"fine_labels"]


def test_missing_cifar_names_dir_files_and_flag(tmp_path):
    with pytest.raises(DataError) as ei:
        load_dataset("cifar10", data_dir=tmp_path)
    msg = str(ei.value)
    assert str(tmp_path) in msg and "data_batch_1" in msg and "test_batch" in msg and "--download" in msg


def test_corrupt_cifar_batch_is_a_data_error(tmp_path):
    folder, _, _ = _tiny_cifar10(tmp_path)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset("cifar10", data_dir=tmp_path)


class _System:
    """Unpickled naively, this runs ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os
        return (os.system, (self.command,))


class _Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def _hostile_batches(marker):
    """Pickles that would run code, in several shapes and protocols."""
    payload = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}
    yield "system-in-dict", pickle.dumps(dict(payload, x=_System(f"touch {marker}")), protocol=2)
    yield "system-top", pickle.dumps(_System(f"touch {marker}"), protocol=4)
    yield "eval", pickle.dumps({b"data": _Eval(), b"labels": [0]}, protocol=5)
    yield "protocol-0", b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    yield "codec", pickle.dumps({b"data": b"x"}, protocol=2).replace(b"latin1", b"rot_13")


@pytest.mark.parametrize("shape", ["system-in-dict", "system-top", "eval", "protocol-0", "codec"])
def test_a_crafted_cifar_batch_is_refused_and_runs_nothing(tmp_path, shape):
    folder, _, _ = _tiny_cifar10(tmp_path)
    marker = tmp_path / "ran"
    blob = dict(_hostile_batches(marker))[shape]
    (folder / "data_batch_1").write_bytes(blob)
    with pytest.raises(DataError) as ei:
        load_dataset("cifar10", data_dir=tmp_path)
    msg = str(ei.value)
    assert "data_batch_1" in msg and "refused: the pickle calls" in msg and "\n" not in msg
    if shape != "codec":
        assert {"system-in-dict": "posix.system", "system-top": "posix.system", "eval": "builtins.eval",
                "protocol-0": "os.system"}[shape] in msg
    else:
        assert "_codecs.encode with the codec 'rot_13'" in msg
    assert not marker.exists()


def _python2_batch(data, labels):
    """A batch byte for byte as Python 2's cPickle wrote the official files (protocol 2, str keys
    as SHORT_BINSTRING, the array rebuilt by numpy.core.multiarray._reconstruct, numpy 1.x's name)."""
    import struct

    def s(text):
        return b"U" + bytes([len(text)]) + text

    n = data.shape[0]
    out = b"\x80\x02}q\x01(" + s(b"batch_label") + s(b"training batch 1 of 5")
    out += s(b"labels") + b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    out += s(b"data") + b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85" + s(b"b")
    out += b"\x87Rq\x04(K\x01M" + struct.pack("<H", n) + b"M\x00\x0c\x86cnumpy\ndtype\nq\x05" + s(b"u1")
    out += b"K\x00K\x01\x87Rq\x06(K\x03" + s(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
    raw = data.tobytes()
    out += b"T" + struct.pack("<I", len(raw)) + raw + b"tb"
    out += s(b"filenames") + b"](" + s(b"a.png") * n + b"eu."
    return out


def test_a_batch_in_the_official_python2_layout_loads(tmp_path):
    folder, batches, _ = _tiny_cifar10(tmp_path)
    data = RNG.integers(0, 256, (20, 3072), dtype=np.uint8)
    labels = [int(v) for v in RNG.integers(0, 10, 20)]
    blob = _python2_batch(data, labels)
    assert b"numpy.core.multiarray\n_reconstruct" in blob and b"_codecs" not in blob
    (folder / "data_batch_1").write_bytes(blob)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.y_train[:20].tolist() == labels
    assert torch.equal(ds.x_train[:20], torch.from_numpy(data.reshape(20, 3, 32, 32)))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_batches_numpy_pickles_at_every_protocol_load(tmp_path, protocol):
    from gp_opt.cifar_pickle import read_batch

    data = RNG.integers(0, 256, (4, 3072), dtype=np.uint8)
    for labels in ([1, 2, 3, 9], np.array([1, 2, 3, 9]), [np.int64(v) for v in (1, 2, 3, 9)]):
        file = tmp_path / f"b{protocol}"
        file.write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=protocol))
        x, y = read_batch(file, "labels", 10)
        assert x.shape == (4, 3, 32, 32) and y.tolist() == [1, 2, 3, 9]


@pytest.mark.parametrize("content, expected", [
    ({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}, "'data' must be a uint8 array of shape (N, 3072)"),
    ({"data": np.zeros((2, 3071), np.uint8), "labels": [0, 1]}, "got uint8 (2, 3071)"),
    ({"data": [[0] * 3072], "labels": [0]}, "got list"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, "holds label 10; labels lie in 0..9"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, -1]}, "holds label -1"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "1 labels for 2 images"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, "a"]}, "must be a list of integer labels"),
    ({"data": np.zeros((2, 3072), np.uint8)}, "missing key 'data' or 'labels'"),
    ([1, 2], "expected a pickled dict, found list"),
])
def test_a_batch_off_the_official_layout_is_one_data_error(tmp_path, content, expected):
    from gp_opt.cifar_pickle import read_batch

    file = tmp_path / "data_batch_1"
    file.write_bytes(pickle.dumps(content, protocol=4))
    with pytest.raises(DataError) as ei:
        read_batch(file, "labels", 10)
    assert expected in str(ei.value) and str(file) in str(ei.value)


def _tar_of(src_root, name="cifar-10-batches-py"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src_root / name, arcname=name)
    return buf.getvalue()


def test_download_verifies_md5_and_unpacks(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _tiny_cifar10(src)
    blob = _tar_of(src)
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(blob)
    md5 = hashlib.md5(blob).hexdigest()
    url = archive.as_uri()
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="MD5"):
        download_and_extract(url, "0" * 32, dest)
    assert not dest.exists()  # no partial file, and not the folder the failed download made
    spec = dict(gdata.CIFAR_ARCHIVES["cifar10"], url=url, md5=md5)
    monkeypatch.setitem(gdata.CIFAR_ARCHIVES, "cifar10", spec)
    ds = load_dataset("cifar10", data_dir=dest, download=True)
    assert ds.x_train.shape == (90, 3, 32, 32)
    assert (dest / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_official_archive_constants():
    assert gdata.CIFAR_ARCHIVES["cifar10"]["md5"] == "c58f30108f718f92721af3b95e74349a"
    assert gdata.CIFAR_ARCHIVES["cifar100"]["md5"] == "eb9058c3a382ffc7106e4002c42a8d85"
    assert gdata.CIFAR_ARCHIVES["cifar10"]["url"].startswith("https://www.cs.toronto.edu/~kriz/")


def test_digits_offline_split_and_normalisation():
    ds = load_digits(val_fraction=0.1, seed=0)
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.x_train.dtype == torch.float32
    assert ds.x_train.shape[0] + ds.x_val.shape[0] == 1797
    assert ds.x_val.shape[0] == 180 and ds.num_classes == 10 and not ds.flip_ok
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1.0
    again = load_digits(val_fraction=0.1, seed=0)
    assert torch.equal(ds.y_val, again.y_val)
    assert not torch.equal(ds.y_val, load_digits(val_fraction=0.1, seed=1).y_val)
    dd = ds.to_device("cpu")
    assert abs(float(dd.x_train.mean())) < 1e-3 and abs(float(dd.x_train.std()) - 1) < 1e-2


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("mnist")


def _npz(tmp_path, **arrays):
    f = tmp_path / "d.npz"
    np.savez(f, **arrays)
    return f


def test_npz_channels_last_with_own_validation(tmp_path):
    x = RNG.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    xv = RNG.integers(0, 256, (8, 6, 6, 3), dtype=np.uint8)
    f = _npz(tmp_path, x_train=x, y_train=np.arange(40) % 4, x_val=xv, y_val=np.arange(8) % 4)
    ds = load_dataset("npz", path=f)
    assert ds.x_train.shape == (40, 3, 6, 6) and ds.x_val.shape == (8, 3, 6, 6) and ds.num_classes == 4
    assert torch.equal(ds.x_train[1, 2], torch.from_numpy(x[1, :, :, 2]))


def test_npz_float_grey_without_validation(tmp_path):
    f = _npz(tmp_path, x_train=RNG.random((50, 5, 5)).astype(np.float32), y_train=np.arange(50) % 3)
    ds = load_npz(f, val_fraction=0.2, seed=0)
    assert ds.x_train.shape == (40, 1, 5, 5) and ds.x_val.shape == (10, 1, 5, 5) and ds.num_classes == 3


@pytest.mark.parametrize("arrays, match", [
    (dict(y_train=np.zeros(4, int)), "missing array 'x_train'"),
    (dict(x_train=np.zeros((4, 3, 3)), y_train=np.zeros(4)), "integer class indices"),
    (dict(x_train=np.zeros((4, 3, 3)), y_train=np.zeros(5, int)), r"shape \(4,\)"),
    (dict(x_train=np.zeros((4, 3)), y_train=np.zeros(4, int)), "must have shape"),
    (dict(x_train=np.zeros((4, 3, 3), np.int32), y_train=np.zeros(4, int)), "uint8 or float"),
    (dict(x_train=np.zeros((4, 3, 3)), y_train=np.array([0, 1, -1, 0])), ">= 0"),
    (dict(x_train=np.full((4, 3, 3), np.nan), y_train=np.array([0, 1, 1, 0])), "NaN"),
    (dict(x_train=np.zeros((4, 3, 3)), y_train=np.array([0, 1, 1, 0]), x_val=np.zeros((2, 3, 3))),
     "together"),
    (dict(x_train=np.zeros((4, 3, 3)), y_train=np.array([0, 1, 1, 0]), x_val=np.zeros((2, 3, 3)),
          y_val=np.array([0, 5])), "never seen"),
    (dict(x_train=np.zeros((4, 3, 3)), y_train=np.array([0, 1, 1, 0]), x_val=np.zeros((2, 4, 4)),
          y_val=np.array([0, 1])), "differ"),
])
def test_npz_errors_are_clear(tmp_path, arrays, match):
    f = _npz(tmp_path, **arrays)
    with pytest.raises(DataError, match=match) as ei:
        load_dataset("npz", path=f, val_fraction=0.25)
    assert "d.npz" in str(ei.value)


def test_npz_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset("npz", path=tmp_path / "nope.npz")


# ----------------------------------------------------------------------------------------------
# augmentation
# ----------------------------------------------------------------------------------------------


def _gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def test_augment_shapes_and_determinism():
    x = torch.randn(16, 3, 32, 32)
    cfg = AugmentConfig()
    a = augment_batch(x, cfg, _gen(1))
    b = augment_batch(x, cfg, _gen(1))
    c = augment_batch(x, cfg, _gen(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, x)
    digits_cfg = AugmentConfig.for_image((8, 8), flip=False)
    assert (digits_cfg.pad, digits_cfg.cutout, digits_cfg.flip) == (1, 2, False)
    y = augment_batch(torch.randn(5, 1, 8, 8), digits_cfg, _gen(0))
    assert y.shape == (5, 1, 8, 8)


def test_crop_is_a_window_of_the_reflect_padded_image():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    out = augment_batch(x, AugmentConfig(pad=2, flip=False, cutout=0), _gen(3))
    xp = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(2):
        windows = [xp[i, 0, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i, 0], w) for w in windows)


def test_flip_and_cutout():
    x = torch.randn(64, 2, 8, 8)
    out = augment_batch(x, AugmentConfig(pad=0, flip=True, cutout=0), _gen(0))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54
    ones = torch.ones(200, 1, 8, 8)
    cut = augment_batch(ones, AugmentConfig(pad=0, flip=False, cutout=2), _gen(0))
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert int(zeros.max()) == 4 and int(zeros.min()) >= 1  # clipped at the border, never empty
    assert bool((cut[:, :, :, :] == 0).any(dim=1).any())


def test_batch_stream_is_seeded_and_covers_epochs():
    x = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous()
    y = torch.arange(10)
    s1 = BatchStream(x, y, 5, seed=4)
    s2 = BatchStream(x, y, 5, seed=4)
    b1 = [s1.next() for _ in range(4)]
    b2 = [s2.next() for _ in range(4)]
    assert all(torch.equal(a[1], b[1]) for a, b in zip(b1, b2))
    assert sorted(torch.cat([b1[0][1], b1[1][1]]).tolist()) == list(range(10))  # one epoch = a permutation
    xb, yb = BatchStream(x, y, 3, seed=0, augment=AugmentConfig(pad=1, flip=True, cutout=1)).next()
    assert xb.shape == (3, 1, 4, 4) and yb.shape == (3,)
