"""Bad input is bounded: alias bombs, deep nesting, $ref bombs, non-text snapshots, and the
values promptfoo would choke on are clear errors naming the file, key and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pytest_cfgateway.config import ConfigError, load_config
from pytest_cfgateway.config.yaml12 import parse_yaml12
from pytest_cfgateway.snapshots import CassetteError
from pytest_cfgateway.snapshots.cassette import Cassette
from pytest_cfgateway.snapshots.yamlio import load_yaml as load_cassette_yaml

HEAD = "prompts: ['{{x}}']\nproviders: [echo]\n"


def billion_laughs(levels: int = 9) -> str:
    """A 10-line document that stands for 9**levels strings once aliases are expanded."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_alias_bomb_in_a_config_is_refused_before_expansion(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(
        HEAD + "metadata:\n" + "".join("  " + ln + "\n" for ln in billion_laughs().splitlines())
    )
    message = _error(path)
    assert "promptfooconfig.yaml" in message and "aliases expand to" in message
    assert "Fix:" in message


def test_alias_bomb_in_a_data_file_is_refused() -> None:
    with pytest.raises(ValueError, match="aliases expand to"):
        parse_yaml12(billion_laughs())


def test_moderate_alias_use_still_works(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(
        HEAD
        + "defaultTest: &d {vars: {x: shared}}\n"
        + "tests:\n"
        + "".join(f"  - {{vars: {{x: 'v{i}'}}}}\n" for i in range(50))
    )
    assert len(load_config(path).cases) == 50


@pytest.mark.parametrize("depth", [150, 3000])
def test_deep_yaml_is_a_clear_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    body = "".join("  " * i + "- \n" for i in range(1, depth))
    path.write_text(HEAD + "metadata:\n  deep:\n" + body.replace("\n", "\n  ").rstrip() + "\n")
    message = _error(path)
    assert "nested" in message and "promptfooconfig.yaml" in message


def test_deep_flow_yaml_and_deep_json_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(HEAD + "metadata: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "promptfooconfig.yaml" in _error(path)
    jpath = tmp_path / "promptfooconfig.json"
    jpath.write_text('{"providers": ["echo"], "metadata": ' + "[" * 5000 + "]" * 5000 + "}")
    message = _error(jpath)
    assert "nested" in message and "promptfooconfig.json" in message


def test_recursive_alias_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(HEAD + "metadata: &m {self: *m}\n")
    assert "recursive alias" in _error(path)


def test_ref_bomb_is_bounded(tmp_path: Path) -> None:
    templates = {"t0": {"type": "contains", "value": "x"}}
    for i in range(1, 12):
        templates[f"t{i}"] = {
            "type": "assert-set",
            "assert": [{"$ref": f"#/assertionTemplates/t{i - 1}"}] * 8,
        }
    config = {
        "providers": ["echo"],
        "assertionTemplates": templates,
        "tests": [{"assert": [{"$ref": "#/assertionTemplates/t11"}]}],
    }
    path = tmp_path / "promptfooconfig.json"
    path.write_text(json.dumps(config))
    message = _error(path)
    assert "$ref" in message and "Fix:" in message


def test_description_list_null_test_and_negative_weight_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(HEAD + "description: [a, b]\n")
    message = _error(path)
    assert "description" in message and "must be text" in message and "Fix:" in message

    path.write_text(HEAD + "tests: [null]\n")
    message = _error(path)
    assert "tests[0]" in message and "empty" in message

    path.write_text(HEAD + "tests:\n  - assert: [{type: contains, value: a, weight: -1}]\n")
    message = _error(path)
    assert "promptfooconfig.yaml:4: tests[0].assert[0].weight" in message
    assert ">= 0, got -1" in message and "Fix:" in message


def test_alias_bomb_in_a_cassette_is_a_cassette_error() -> None:
    text = "version: 1\nexchanges: []\nbomb:\n" + "".join(
        "  " + ln + "\n" for ln in billion_laughs().splitlines()
    )
    with pytest.raises(yaml.YAMLError, match="aliases expand to"):
        load_cassette_yaml(text)
    with pytest.raises(CassetteError, match=r"snap\.yaml: not valid YAML"):
        Cassette.from_text(text, source="snap.yaml")


def test_deep_cassette_is_a_cassette_error() -> None:
    text = "version: 1\nexchanges: " + "[" * 900 + "]" * 900 + "\n"
    with pytest.raises(CassetteError, match=r"snap\.yaml"):
        Cassette.from_text(text, source="snap.yaml")


@pytest.mark.parametrize("depth", [1, 48, 49, 50, 51, 150])
@pytest.mark.parametrize("anchor", [False, True])
def test_tree_check_gives_the_errors_of_the_full_check(depth: int, anchor: bool) -> None:
    """`check_tree` (a depth-only walk when the text has no '&') passes and fails exactly
    where `check_nodes` does, with its message."""
    from pytest_cfgateway._yamlguard import YamlBoundsError, check_nodes, check_tree

    text = "root: &a\n" if anchor else "root:\n"
    text += "".join("  " * i + "- k:\n" for i in range(1, depth)) + "  " * depth + "- leaf\n"
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    try:
        check_nodes(node)
    except YamlBoundsError as exc:
        with pytest.raises(YamlBoundsError) as info:
            check_tree(node, text)
        assert str(info.value) == str(exc)
    else:
        check_tree(node, text)
