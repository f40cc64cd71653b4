"""Every loader of user files, fuzzed: whatever bytes arrive, it succeeds or raises edgec's own error.

Hypothesis mutates valid seeds byte by byte (bit flips, truncation, splices, random bytes) and by structure
(JSON and TOML values of the wrong type, renamed or recompressed zip members, array files of every dtype and
shape). The only exceptions allowed out are EdgecError, ProfileError and BundleError, each naming the file.
The loaders, their seeds and the allowed errors are bench/fuzz_loaders.py's, which fuzzes the same five under
atheris; the last tests run it briefly, so that harness cannot rot. Examples are derandomized: a failure
reproduces, and hypothesis prints the smallest input it found.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import zipped
from edgec.compiler.errors import InputError
from edgec.runtimes.bundle import DATA, INDEX, BundleError
from edgec.targets.profile import ProfileError

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "fuzz_loaders.py"
_spec = importlib.util.spec_from_file_location("fuzz_loaders", SCRIPT)
fuzz_loaders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_loaders)
ALLOWED = fuzz_loaders.allowed_errors()
loader = functools.cache(fuzz_loaders.open_loader)  # each loader imported once
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def test_conversion_leaves_python_recursion_limit_alone(demo_build):
    """onnx2tf sets the limit to 2**31 - 1 when imported; left so, a deeply nested JSON file makes the C json
    parser overflow the C stack (a segfault) where it would raise RecursionError. The demo build converted."""
    assert sys.getrecursionlimit() <= 10_000


def fuzzed(examples: int) -> Callable:
    """Reproducible (the same examples every run, no example database) and bounded: the file runs in ~30 s."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=HEALTH)


class Blob:
    """Bytes that hypothesis prints as their size and hash, not in full: failing inputs run to 200 KB."""

    def __init__(self, data: bytes):
        self.data = data

    def __repr__(self) -> str:
        return f"Blob({len(self.data)} bytes, sha256 {hashlib.sha256(self.data).hexdigest()[:16]})"


@st.composite
def blob(draw: st.DrawFn, strategy: st.SearchStrategy[bytes]) -> Blob:
    return Blob(draw(strategy))  # not strategy.map(Blob): hypothesis would print that as the call, bytes and all


class Seed(Blob):
    """A valid file, parsed for structural edits: a JSON document, or a zip's members and its index's places."""

    def __init__(self, data: bytes, parsed: Any, places: list[tuple]):
        super().__init__(data)
        self.parsed, self.places = parsed, places


def survives(name: str, path: Path, blob: Blob) -> None:
    """The contract: the loader succeeds, or raises one of edgec's own errors with the file's name in it."""
    note(f"the input is kept in {path}")  # the last example run, the one reported, is the smallest failure
    path.write_bytes(blob.data)
    try:
        loader(name)(path)
    except ALLOWED as exc:
        assert path.name in str(exc), f"{type(exc).__name__} does not name {path.name}: {exc}"


@st.composite
def damaged(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` with 1-4 byte-level injuries; positions favour both ends, where headers and zip directories sit."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        end = max(len(data) - 1, 0)
        at = draw(st.one_of(st.integers(0, min(end, 255)), st.integers(max(0, end - 4095), end), st.integers(0, end)))
        kind = draw(st.sampled_from(("flip", "cut", "splice", "insert", "set")))
        if kind == "cut":
            del data[at:]
        elif kind == "splice":  # a stretch of the file copied over another: plausible structure, wrong place
            start = draw(st.integers(0, max(len(seed) - 1, 0)))
            data[at : at + draw(st.integers(0, 64))] = seed[start : start + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif data:
            data[at] = data[at] ^ (1 << draw(st.integers(0, 7))) if kind == "flip" else draw(st.sampled_from(EDGES))
    return bytes(data)


EDGES = (0x00, 0x7F, 0x80, 0xFF)
RAW_JSON = {"\0deep": "[" * 3000 + "]" * 3000, "\0digits": "9" * 5000, "\0nan": "NaN"}  # json.dumps writes none
WRONG = st.one_of(
    st.sampled_from(sorted(RAW_JSON)),
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def places(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key path in a JSON document."""
    if prefix:
        yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        yield from places(item, (*prefix, key))


@st.composite
def json_edited(draw: st.DrawFn, document: Any, where: list[tuple]) -> bytes:
    """`document` with 1-3 values replaced by one of the wrong type, or removed."""
    edited = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        place, parent = draw(st.sampled_from(where)), edited
        try:
            for key in place[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                del parent[place[-1]]
            else:
                parent[place[-1]] = draw(WRONG)
        except (KeyError, IndexError, TypeError):  # an earlier edit took this place away
            continue
    text = json.dumps(edited)
    for marker, raw in RAW_JSON.items():
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


TOML_VALUES = ('"text"', '""', "0", "-1", "3.5", "nan", "-inf", "true", "[]", '[1, "a"]', "{ a = 1 }", "1979-05-27")
TOML_VALUES += ("9" * 5000, "[" * 3000 + "]" * 3000)
TOML_LINES = ("[cpu]", "[[artifacts]]", "[cost.sources]", "[budgets]", "x = 1", "[[cpu]]", "a.b.c = 1")


@st.composite
def toml_edited(draw: st.DrawFn, text: str) -> bytes:
    """A profile with 1-3 lines changed: a value of another type, a line dropped, renamed, doubled or added."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        key, equals, value = lines[at].partition("=")
        kind = draw(st.sampled_from(("value", "drop", "rename", "double", "add")))
        if kind == "value" and equals:
            lines[at] = f"{key}= {draw(st.sampled_from(TOML_VALUES))}"
        elif kind == "rename" and equals:
            lines[at] = f"{key.strip()}_x ={value}"
        elif kind == "drop":
            del lines[at]
        else:
            lines.insert(at, lines[at] if kind == "double" else draw(st.sampled_from(TOML_LINES)))
    return "\n".join(lines).encode()


DTYPES = ("float32", "float64", "float16", "int64", "uint8", "bool", "complex64", "U3", "V4", "M8[s]", "i4,f4")


@st.composite
def arrays_file(draw: st.DrawFn, keys: tuple[str, ...]) -> bytes:
    """An .npy or .npz of arrays of any dtype and shape under some of `keys`, maybe pickled, renamed or lying."""
    arrays = {}
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=4, unique=True)):
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=5)))
        arrays[key] = np.zeros(shape, draw(st.sampled_from(DTYPES)))
        if arrays[key].dtype.kind == "f" and arrays[key].size:
            arrays[key].flat[0] = draw(st.sampled_from((np.nan, np.inf, -1.0)))
    if draw(st.booleans()):
        arrays[draw(st.sampled_from(keys))] = np.array([1, None], dtype=object)  # saved pickled: must be refused
    lies = st.one_of(st.none(), st.sampled_from(LIES))
    files = {f"{key}.npy": npy(array, draw(lies)) for key, array in arrays.items()}
    if draw(st.booleans()):  # one member under another name: another key, no .npy suffix, a path
        files[draw(st.sampled_from(RENAMES))] = files.pop(draw(st.sampled_from(sorted(files))))
    if draw(st.booleans()):
        return next(iter(files.values()))
    return zipped(files, draw(st.sampled_from((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))))


LIES = (10**12, 2**62)  # rows a header may claim that no file of a few bytes holds
RENAMES = ("image", "labels.npy", "IMAGE.npy", "../image.npy", "/abs.npy", "a\\b.npy")


def npy(array: np.ndarray, rows: int | None) -> bytes:
    """`array` as an .npy file; with `rows`, its header claims that many rows instead (a file lying about its size)."""
    buffer = io.BytesIO()
    if rows is None:
        np.save(buffer, array, allow_pickle=True)
    else:
        shape = (rows, *array.shape[1:])
        header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(array.tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """One folder per module: the seeds' side files (the ONNX external data) and the fuzzed inputs."""
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def onnx_seeds(work) -> list[Blob]:
    return [Blob(seed) for seed in fuzz_loaders.onnx_seeds(work).values()]


EXTERNAL = st.sampled_from(("location", "offset", "length", "checksum", "basepath", "__class__"))
EXTERNAL_VALUES = ("weights.bin", "../weights.bin", "/etc/hostname", "missing.bin", "", ".", "w\0.bin", "-1", "abc")


@st.composite
def onnx_edited(draw: st.DrawFn, seed: bytes) -> bytes:
    """A valid model with one structural lie: external data pointing anywhere, odd IO types, a weight gone."""
    import onnx

    model = onnx.load_from_string(seed)
    kind = draw(st.sampled_from(("external", "io", "drop")))
    if kind == "external":
        tensor = draw(st.sampled_from(list(model.graph.initializer)))
        tensor.data_location, tensor.raw_data = onnx.TensorProto.EXTERNAL, b""
        del tensor.external_data[:]
        values = st.sampled_from((*EXTERNAL_VALUES, "0", "16", str(2**64)))
        for key, value in draw(st.lists(st.tuples(EXTERNAL, values), min_size=1, max_size=4)):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    elif kind == "io":
        value = draw(st.sampled_from([*model.graph.input, *model.graph.output]))
        if draw(st.booleans()):
            value.type.tensor_type.elem_type = draw(st.integers(0, 40))
        else:
            value.type.sequence_type.elem_type.tensor_type.elem_type = 1
    else:
        del model.graph.initializer[draw(st.integers(0, len(model.graph.initializer) - 1))]
    return model.SerializeToString()


@pytest.mark.filterwarnings("ignore::UserWarning")  # onnx warns about each unknown external-data key
@fuzzed(300)
@given(data=st.data())
def test_the_onnx_loader_refuses_damaged_models_with_its_own_error(onnx_seeds, work, data):
    seed = data.draw(st.sampled_from(onnx_seeds))
    survives("onnx", work / "fuzzed.onnx", data.draw(blob(st.one_of(damaged(seed.data), onnx_edited(seed.data)))))


DATA_KEYS = ("image", "labels", "other", "x.npy", "")


@fuzzed(300)
@given(data=st.data())
def test_the_data_loader_refuses_damaged_arrays_with_its_own_error(work, data):
    seed = data.draw(st.sampled_from(sorted(fuzz_loaders.data_seeds().items())))[1]
    fuzzed_input = data.draw(blob(st.one_of(damaged(seed), arrays_file(DATA_KEYS))))
    survives("data", fuzz_loaders.input_path("data", work, fuzzed_input.data), fuzzed_input)


@fuzzed(300)
@given(data=st.data())
def test_the_profile_loader_refuses_damaged_toml_with_its_own_error(work, data):
    seed = data.draw(st.sampled_from(sorted(fuzz_loaders.TARGETS.glob("*.toml")))).read_bytes()
    survives("profile", work / "fuzzed.toml", data.draw(blob(st.one_of(damaged(seed), toml_edited(seed.decode())))))


@pytest.fixture(scope="module")
def report_seed(demo_build) -> Seed:
    raw = (demo_build.path / "report.json").read_bytes()
    document = json.loads(raw)
    return Seed(raw, document, list(places(document)))


@fuzzed(200)
@given(data=st.data())
def test_the_report_loader_refuses_damaged_reports_with_its_own_error(report_seed, work, data):
    edits = st.one_of(damaged(report_seed.data), json_edited(report_seed.parsed, report_seed.places))
    survives("report", work / "report.json", data.draw(blob(edits)))


@pytest.fixture(scope="module")
def bundle_seed(demo_bundle) -> Seed:
    raw = demo_bundle.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return Seed(raw, members, list(places(json.loads(members[INDEX]))))


BUNDLE_KEYS = ("input:image", "float_outputs", "host:onnx", "host:tflite", "labels", "input:other")
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@st.composite
def bundle_edited(draw: st.DrawFn, members: dict[str, bytes], where: list[tuple]) -> bytes:
    """The demo bundle with one structural change, its index's sha256s kept right so the change gets read."""
    members, index = dict(members), json.loads(members[INDEX])
    kind = draw(st.sampled_from(("index", "data", "member", "rename", "drop")))
    name = draw(st.sampled_from(sorted(members)))
    if kind == "index":
        members[INDEX] = draw(json_edited(index, where))
    elif kind in ("data", "member"):
        changed = DATA if kind == "data" else name
        members[changed] = draw(arrays_file(BUNDLE_KEYS) if kind == "data" else damaged(members[name]))
        files = {key: hashlib.sha256(value).hexdigest() for key, value in members.items() if key in index["files"]}
        members[INDEX] = json.dumps({**index, "files": files}).encode()
    elif kind == "rename":
        members[draw(st.sampled_from(("bundle.json", "data/eval.npz", "x/../bundle.json", "/abs")))] = members.pop(name)
    else:
        del members[name]
    return zipped(members, draw(st.sampled_from(METHODS)))


@fuzzed(200)
@given(data=st.data())
def test_the_bundle_loader_refuses_damaged_bundles_with_its_own_error(bundle_seed, work, data):
    edits = st.one_of(damaged(bundle_seed.data), bundle_edited(bundle_seed.parsed, bundle_seed.places))
    survives("bundle", work / "fuzzed.bundle", data.draw(blob(edits)))


def _onnx_with_a_sequence_input(work: Path) -> bytes:
    import onnx

    model = onnx.load_from_string(fuzz_loaders.onnx_seeds(work)["inline.onnx"])
    model.graph.input[0].type.sequence_type.elem_type.tensor_type.elem_type = 1
    return model.SerializeToString()


def _bundle_with_a_deep_index(work: Path) -> bytes:
    return zipped({INDEX: b"[" * 100_000})


def _host_profile_with_a_nan_budget(work: Path) -> bytes:
    return (fuzz_loaders.TARGETS / "x86-vnni.toml").read_bytes().replace(b"drop = 1.0", b"drop = nan", 1)


KNOWN_BAD = [  # (loader, content, error, message): each once escaped as another exception type
    ("onnx", b"\x08\x07 not a protobuf", InputError, r"fuzzed\.onnx: not a valid ONNX model"),
    ("onnx", _onnx_with_a_sequence_input, InputError, r"fuzzed\.onnx: graph input 'image' is not a tensor of a"),
    ("data", b"PK\x03\x04 and then nothing", InputError, r"--calib \S*fuzzed\.npz: "),
    ("profile", b'id = "\xff"', ProfileError, r"fuzzed\.toml: cannot read profile .*utf-8"),
    ("profile", _host_profile_with_a_nan_budget, ProfileError, r"max_accuracy_drop: nan is not a finite number"),
    ("report", b"[" * 100_000, InputError, r"report\.json: not valid JSON .*recursion"),
    ("report", b"1" * 5000, InputError, r"report\.json: not valid JSON .*4300 digits"),
    ("bundle", _bundle_with_a_deep_index, BundleError, r"fuzzed\.bundle: bundle\.json is not valid JSON"),
]


@pytest.mark.parametrize("name, content, error, message", KNOWN_BAD, ids=[f"{b[0]}-{b[3]}" for b in KNOWN_BAD])
def test_a_known_bad_file_raises_the_loaders_own_error_naming_it(work, name, content, error, message):
    """Each of these once escaped as another exception type (or, the nan budget, loaded): refused now, by name."""
    data = content if isinstance(content, bytes) else content(work)
    path = fuzz_loaders.input_path(name, work, data)
    path.write_bytes(data)
    with pytest.raises(error, match=message):
        loader(name)(path)


@pytest.mark.parametrize("name", fuzz_loaders.LOADERS)
def test_the_atheris_harness_fuzzes_each_loader(name, demo_build, demo_bundle, tmp_path):
    """bench/fuzz_loaders.py for a thousand runs: it must still start, fuzz and report, crash-free."""
    results = tmp_path / "fuzz.json"
    argv = [sys.executable, str(SCRIPT), name, "--runs", "1000", "--seconds", "30", "--results", str(results)]
    argv += ["--build", str(demo_build.path), "--bundle", str(demo_bundle), "--crashes", str(tmp_path / "crashes")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    record = json.loads(results.read_text())["loaders"][name]
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\n{record.get('crash')}"
    assert record["runs"] > 0 and record["coverage"] > 0
