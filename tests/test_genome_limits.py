"""Genome files parsed with limits: every hostile or damaged file is one GenomeError, whose
message is one short line, never another exception."""
import json

import numpy as np
import pytest

from gp_opt import catalog
from gp_opt.errors import GenomeError
from gp_opt.genome import OptimizerGenome

def _valid():
    g = OptimizerGenome.random(np.random.default_rng(0))
    return g.to_dict()


def _with(**fields):
    d = _valid()
    d.update(fields)
    return json.dumps(d)


def _chain(n):
    nodes = {"h0": {"op": "identity", "inputs": ["g"]}}
    for k in range(1, n):
        nodes[f"h{k}"] = {"op": "identity", "inputs": [f"h{k - 1}"]}
    nodes["out"] = {"op": "identity", "inputs": [f"h{n - 1}"]}
    return json.dumps({"schema": 1, "momentum": "none", "sign": 1, "nodes": nodes})


FUZZED = {
    "5001-digit integer": lambda: json.dumps(_valid())[:-1] + ', "meta": {"n": ' + "9" * 5001 + "}}",
    "5001-digit sign": lambda: json.dumps(_valid()).replace('"sign": 1', '"sign": ' + "1" * 5001)
                                                   .replace('"sign": -1', '"sign": ' + "1" * 5001),
    "10-million-character node name": lambda: json.dumps(
        {"schema": 1, "momentum": "none", "sign": 1, "nodes": {"h" + "1" * 10_000_000: {}, "out": {}}}),
    "long node name": lambda: json.dumps(
        {"schema": 1, "momentum": "none", "sign": 1, "nodes": {"h" + "1" * 5000: {}, "out": {}}}),
    "100k-deep nesting": lambda: '{"schema": 1, "meta": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "40-deep nesting": lambda: '{"schema": 1, "meta": ' + "[" * 40 + "]" * 40 + "}",
    "10 MB op name": lambda: json.dumps({"schema": 1, "momentum": "none", "sign": 1,
                                         "nodes": {"out": {"op": "x" * 10_000_000, "inputs": []}}}),
    "100k op name": lambda: json.dumps({"schema": 1, "momentum": "none", "sign": 1,
                                        "nodes": {"out": {"op": "x" * 100_000, "inputs": ["g"]}}}),
    "100k input name": lambda: json.dumps({"schema": 1, "momentum": "none", "sign": 1,
                                           "nodes": {"h0": {"op": "identity", "inputs": ["g" * 100_000]},
                                                     "out": {"op": "identity", "inputs": ["h0"]}}}),
    "sign true": lambda: _with(sign=True),
    "sign 1.0": lambda: _with(sign=1.0),
    "sign '1'": lambda: _with(sign="1"),
    "schema true": lambda: _with(schema=True),
    "schema 1.0": lambda: _with(schema=1.0),
    "NaN in meta": lambda: json.dumps(_valid())[:-1] + ', "meta": {"x": NaN}}',
    "Infinity in meta": lambda: json.dumps(_valid())[:-1] + ', "meta": {"x": -Infinity}}',
    "1e400 in meta": lambda: json.dumps(_valid())[:-1] + ', "meta": {"x": 1e400}}',
    "10,000 hidden nodes": lambda: _chain(10_000),
    "2,000-node chain": lambda: _chain(2_000),
    "momentum 5": lambda: _with(momentum=5),
    "unknown field": lambda: _with(weights=[1, 2]),
    "huge momentum name": lambda: _with(momentum="m" * 1_000_000),
    "not an object": lambda: "[1, 2, 3]",
    "truncated": lambda: json.dumps(_valid())[:30],
    "binary": lambda: b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("name", list(FUZZED))
def test_each_hostile_genome_file_is_one_short_genome_error(name):
    text = FUZZED[name]()
    with pytest.raises(GenomeError) as info:
        OptimizerGenome.from_json(text)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 300, msg[:500]


def test_hostile_files_through_the_catalog_loader_name_the_file(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(FUZZED["5001-digit integer"]())
    with pytest.raises(GenomeError, match=r"g\.json: integer of 5001 digits"):
        catalog.load_file(path)


def test_a_chain_within_the_limit_still_loads():
    g = OptimizerGenome.from_json(_chain(4))
    assert len(g.hidden_nodes()) == 4


def test_random_byte_damage_is_a_genome_error_or_a_genome():
    text = json.dumps(_valid()).encode()
    rng = np.random.default_rng(1)
    outcomes = {"error": 0, "ok": 0}
    for _ in range(300):
        b = bytearray(text)
        for _ in range(int(rng.integers(1, 4))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
        try:
            OptimizerGenome.from_json(bytes(b))
            outcomes["ok"] += 1
        except GenomeError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300
            outcomes["error"] += 1
    assert outcomes["error"] > 100


def test_output_is_strict_json():
    g = OptimizerGenome.random(np.random.default_rng(0))
    g.meta["score"] = float("nan")
    with pytest.raises(GenomeError, match="meta"):
        g.to_json()
    g.meta["score"] = 0.5
    assert json.loads(g.to_json())["meta"]["score"] == 0.5


def test_a_hidden_node_name_with_a_trailing_newline_is_refused():
    """``^h\\d+$`` matched "h1\\n" (``$`` admits a final newline); names reach generated code."""
    text = catalog.get("Opt6").to_json()
    hidden = next(n for n in json.loads(text)["nodes"] if n != "out")
    renamed = text.replace(f'"{hidden}"', json.dumps(hidden + "\n"))
    assert OptimizerGenome.from_json(text.replace(f'"{hidden}"', '"h77"'))  # a plain rename loads
    with pytest.raises(GenomeError, match="node"):
        OptimizerGenome.from_json(renamed)
