"""Test sources: inline, files, globs, directories, CSV special columns, vars files."""

from __future__ import annotations

import pytest

from pytest_cfgateway.config import ConfigError

from .conftest import Loader

HEAD = "providers: [echo]\nprompts: ['{{q}}']\n"


def test_no_tests_means_one_empty_test(load: Loader) -> None:
    cfg = load(HEAD)
    assert [c.name for c in cfg.cases] == ["test-1[echo]"]
    assert cfg.cases[0].vars == {}


def test_inline_tests(load: Loader) -> None:
    cfg = load(HEAD + "tests:\n  - vars: {q: a}\n  - description: second\n    vars: {q: b}\n")
    assert [(c.name, c.vars) for c in cfg.cases] == [
        ("test-1[echo]", {"q": "a"}),
        ("second[echo]", {"q": "b"}),
    ]
    assert cfg.cases[1].key_path == "tests[1]" and cfg.cases[1].line == 5


def test_yaml_json_jsonl_files_and_globs(load: Loader) -> None:
    cfg = load(
        HEAD + "tests:\n  - file://t.yaml\n  - file://t.json\n  - file://t.jsonl\n"
        "  - 'file://more/*.yaml'\n",
        files={
            "t.yaml": "- vars: {q: y1}\n- vars: {q: y2}\n",
            "t.json": '[{"vars": {"q": "j1"}}]',
            "t.jsonl": '{"vars": {"q": "l1"}}\n\n{"vars": {"q": "l2"}}\n',
            "more/b.yaml": "- vars: {q: mb}\n",
            "more/a.yaml": "vars: {q: ma}\n",
        },
    )
    assert [c.vars["q"] for c in cfg.cases] == ["y1", "y2", "j1", "l1", "l2", "ma", "mb"]
    c = cfg.cases[1]
    assert c.source_path is not None and c.source_path.name == "t.yaml"
    assert c.key_path == "[1]" and c.line == 2


def test_tests_string_and_directory(load: Loader) -> None:
    cfg = load(
        HEAD + "tests: file://cases\n",
        files={"cases/a.yaml": "- vars: {q: a}\n", "cases/sub/b.csv": "q\nb\n", "cases/x.md": "#"},
    )
    assert [c.vars["q"] for c in cfg.cases] == ["a", "b"]


def test_csv_special_columns(load: Loader) -> None:
    csv_text = (
        "q,__expected1,__expected2,__description,__prefix,__suffix,__metric,__threshold,"
        "__metadata:category,__metadata:tags[],__config:__expected2:threshold,__providerOutput\n"
        '"Hi, there",contains: Paris,"similar(0.9):close",desc one,PRE ,SUF,m1,0.5,geo,'
        '"a,b\\,c",0.7,canned\n'
    )
    cfg = load(HEAD + "tests: file://t.csv\n", files={"t.csv": csv_text})
    (c,) = cfg.cases
    assert c.vars == {"q": "Hi, there"}
    assert c.description == "desc one" and c.name == "desc one[echo]"
    assert c.options == {"prefix": "PRE ", "suffix": "SUF"}
    assert c.threshold == 0.5
    assert c.metadata == {"category": "geo", "tags": ["a", "b,c"]}
    assert c.provider_output == "canned"
    a1, a2 = c.asserts
    assert (a1.type, a1.value, a1.metric) == ("contains", "Paris", "m1")
    assert (a2.type, a2.value, a2.threshold, a2.metric) == ("similar", "close", 0.7, "m1")
    assert c.key_path == "rows[0]" and c.line == 2


def test_csv_expected_column_and_empty_cells(load: Loader) -> None:
    cfg = load(
        HEAD + "tests: file://t.csv\n",
        files={"t.csv": "q,__expected\na,icontains:bonjour\nb,\n\nc,Exact text\n"},
    )
    assert [[(a.type, a.value) for a in c.asserts] for c in cfg.cases] == [
        [("icontains", "bonjour")],
        [],
        [("equals", "Exact text")],
    ]
    assert [c.line for c in cfg.cases] == [2, 3, 5]


def test_csv_single_underscore_warns(load: Loader) -> None:
    cfg = load(HEAD + "tests: file://t.csv\n", files={"t.csv": "q,_expected\na,b\n"})
    assert cfg.cases[0].vars == {"q": "a", "_expected": "b"}
    assert any("single underscore" in w for w in cfg.warnings)


@pytest.mark.parametrize(
    ("csv_text", "fragment", "line"),
    [
        ("q,r\na\n", "row has 1 fields but the header has 2", 2),
        ('q\n"unterminated\n', "invalid CSV", None),
        ("", "CSV file is empty", 1),
        ("q,q\na,b\n", "repeats column", 1),
        ("q,__threshold\na,high\n", "__threshold must be a number", 2),
        ("q,__config:__expected:weight\na,1\n", "invalid config key", 2),
        ('q,__expected\na,"contains-any:""x,y"\n', "unterminated quoted field", 2),
        ("q,__expected\na,contains:\n", "needs a 'value'", 2),
        ("q,__expected\na,regex:([a-\n", "invalid regex", 2),
    ],
)
def test_csv_errors(load: Loader, csv_text: str, fragment: str, line: int | None) -> None:
    with pytest.raises(ConfigError) as exc:
        load(HEAD + "tests: file://t.csv\n", files={"t.csv": csv_text})
    assert fragment in str(exc.value)
    assert exc.value.path is not None and exc.value.path.name == "t.csv"
    if line is not None:
        assert exc.value.line == line


def test_vars_files(load: Loader) -> None:
    cfg = load(
        HEAD + "tests:\n  - vars: file://v.yaml\n  - vars: [file://v.yaml, file://w.json]\n",
        files={"v.yaml": "q: from-yaml\nn: 1\n", "w.json": '{"n": 2}'},
    )
    assert [c.vars for c in cfg.cases] == [{"q": "from-yaml", "n": 1}, {"q": "from-yaml", "n": 2}]


def test_file_var_values_checked_and_globbed(load: Loader) -> None:
    cfg = load(
        HEAD + "tests:\n  - vars:\n      q: 'file://docs/*.txt'\n      other: file://one.json\n",
        files={"docs/a.txt": "A", "docs/b.txt": "B", "one.json": "{}"},
    )
    assert [c.vars for c in cfg.cases] == [
        {"q": "file://docs/a.txt", "other": "file://one.json"},
        {"q": "file://docs/b.txt", "other": "file://one.json"},
    ]
    with pytest.raises(ConfigError) as exc:
        load(HEAD + "tests:\n  - vars:\n      q: 'file://none/*.txt'\n")
    assert "no files found for variable 'q'" in str(exc.value)
    assert exc.value.key_path == "tests[0].vars.q"


@pytest.mark.parametrize(
    ("tests", "fragment", "key_path"),
    [
        ("3", "'tests' must be a list", "tests"),
        ("{vars: {q: a}}", "got a mapping", "tests"),
        ("[{vars: null}]", "'vars' is empty", "tests[0].vars"),
        ("[{vars: {q: null}}]", "var 'q' is null", "tests[0].vars.q"),
        ("[{vars: 3}]", "'vars' must be a mapping", "tests[0].vars"),
        ("[{threshold: high}]", "'threshold' must be a number", "tests[0].threshold"),
        ("[{metadata: [1]}]", "'metadata' must be a mapping", "tests[0].metadata"),
        (
            "[{options: {storeOutputAs: 'not a name'}}]",
            "must be a variable name",
            "tests[0].options.storeOutputAs",
        ),
        ("[{options: {disableVarExpansion: yes}}]", "true or false", "tests[0].options"),
        ("[file://missing.yaml]", "not found", "tests[0]"),
        ("['file://nothing/*.csv']", "no files match", "tests[0]"),
        ("[file://t.xlsx]", "Excel", "tests[0]"),
        (
            "[{assertScoringFunction: 'file://s.py'}]",
            "scoring function file 's.py' not found",
            "tests[0].assertScoringFunction",
        ),
    ],
)
def test_test_errors(load: Loader, tests: str, fragment: str, key_path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load(HEAD + f"tests: {tests}\n")
    assert fragment in str(exc.value)
    assert exc.value.key_path.startswith(key_path)


GEN = """
import os, sys

def generate_tests(config=None):
    langs = (config or {}).get("languages", ["French", "Spanish"])
    return [{"vars": {"lang": l}, "assert": [{"type": "contains", "value": l}]} for l in langs]

def make(config=None):
    return [{"description": "one", "vars": {"lang": "Greek"}}]

def broken(config=None):
    raise ValueError("no data today")

def leaves(config=None):
    os._exit(0)

def not_a_list(config=None):
    return {"vars": {}}
"""


def test_python_test_generators_run_at_collection(load: Loader) -> None:
    cfg = load(
        "prompts: ['{{lang}}']\nproviders: [echo]\ntests:\n"
        "  - file://gen.py:make\n"
        "  - path: file://gen.py\n    config: {languages: [German, Italian]}\n"
        "  - file://gen.py\n",
        files={"gen.py": GEN},
    )
    assert [c.vars["lang"] for c in cfg.cases] == [
        "Greek",
        "German",
        "Italian",
        "French",
        "Spanish",
    ]
    assert cfg.cases[1].asserts[0].value == "German"
    assert cfg.cases[0].description == "one"


@pytest.mark.parametrize(
    ("fn", "fragment"),
    [
        ("broken", "test generator gen.py:broken failed: ValueError: no data today"),
        ("leaves", "test generator gen.py:leaves failed"),
        ("not_a_list", "must return a list of test cases, got dict"),
        ("missing", "has no function 'missing'"),
    ],
)
def test_a_failing_generator_is_a_config_error_naming_it(
    load: Loader, fn: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load(f"providers: [echo]\ntests: file://gen.py:{fn}\n", files={"gen.py": GEN})
    assert fragment in str(exc.value)
    assert exc.value.key_path == "tests"


def test_typescript_generators_are_refused_by_name(load: Loader) -> None:
    with pytest.raises(ConfigError, match=r"TypeScript test generators \(gen.ts\) are not"):
        load("providers: [echo]\ntests: file://gen.ts\n", files={"gen.ts": "export default []"})


JS_GEN = """
function generate(config) {
  const langs = (config && config.languages) || ['French', 'Spanish'];
  return langs.map((l) => ({vars: {lang: l}, assert: [{type: 'contains', value: l}]}));
}
async function later(config) { return [{description: 'async', vars: {lang: 'Dutch'}}]; }
function broken() { throw new TypeError('no rows'); }
function forever() { while (true) {} }
function notAList() { return {vars: {}}; }
module.exports = generate;
module.exports.later = later;
module.exports.broken = broken;
module.exports.forever = forever;
module.exports.notAList = notAList;
"""


def test_javascript_test_generators_run_at_collection(load: Loader) -> None:
    cfg = load(
        "prompts: ['{{lang}}']\nproviders: [echo]\ntests:\n"
        "  - file://gen.js:later\n"
        "  - path: file://gen.js\n    config: {languages: [German]}\n"
        "  - file://gen.js\n"
        "  - file://static.mjs\n"
        "  - file://named.cjs:rows\n",
        files={
            "gen.js": JS_GEN,
            "static.mjs": "export default [{vars: {lang: 'Welsh'}}];\n",
            "named.cjs": "module.exports = {rows: [{vars: {lang: 'Irish'}}]};\n",
        },
    )
    assert [c.vars["lang"] for c in cfg.cases] == [
        "Dutch",
        "German",
        "French",
        "Spanish",
        "Welsh",
        "Irish",
    ]
    assert cfg.cases[0].description == "async"
    assert cfg.cases[1].asserts[0].value == "German"


@pytest.mark.parametrize(
    ("fn", "fragment"),
    [
        ("broken", "test generator gen.js:broken failed: TypeError: no rows"),
        ("notAList", "must give a list of test cases, got {"),
        ("missing", "does not export 'missing'"),
    ],
)
def test_a_failing_javascript_generator_is_a_config_error_naming_it(
    load: Loader, fn: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load(f"providers: [echo]\ntests: file://gen.js:{fn}\n", files={"gen.js": JS_GEN})
    assert fragment in str(exc.value)
    assert exc.value.key_path == "tests"


def test_a_javascript_generator_that_hangs_is_stopped(
    load: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_cfgateway.config import generators

    monkeypatch.setattr(generators, "GENERATOR_TIMEOUT_S", 0.5)
    with pytest.raises(ConfigError, match=r"gen\.js:forever failed: did not finish within 500 ms"):
        load("providers: [echo]\ntests: file://gen.js:forever\n", files={"gen.js": JS_GEN})


def test_vars_file_in_an_external_tests_file_is_relative_to_that_file(load: Loader) -> None:
    cfg = load(
        "prompts: ['{{topic}}']\nproviders: [echo]\ntests: file://tests/t.yaml\n",
        files={
            "tests/t.yaml": "- vars: ../vars/v.yaml\n- vars: [../vars/w*.yaml]\n",
            "vars/v.yaml": "topic: tides\n",
            "vars/w1.yaml": "topic: waves\n",
        },
    )
    assert [c.vars["topic"] for c in cfg.cases] == ["tides", "waves"]


def test_provider_output_may_be_a_list_of_tool_calls(load: Loader) -> None:
    body = (
        "tests:\n  - vars: {q: x}\n    providerOutput:\n"
        "      - {type: function, function: {name: f, arguments: '{}'}}\n"
    )
    (c,) = load(HEAD + body).cases
    assert c.provider_output == [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]


def test_provider_output_of_another_type_is_refused(load: Loader) -> None:
    with pytest.raises(ConfigError, match="'providerOutput' must be a string, a mapping or a list"):
        load(HEAD + "tests:\n  - vars: {q: x}\n    providerOutput: 42\n")
