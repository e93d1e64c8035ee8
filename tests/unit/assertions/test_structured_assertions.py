"""Structured-output assertions: is-json, contains-json, is-html, contains-html, is-xml,
contains-xml, is-sql, contains-sql (plain and ``not-``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionConfigError,
    AssertionContext,
    GradingResult,
)
from pytest_cfgateway.assertions.structured import (
    HANDLERS,
    extract_json_objects,
    extract_json_values,
)

from .assertion_helpers import assertion_call, run_sync


def run(type_: str, value: Any, output: Any, *, base_dir: Path | None = None) -> GradingResult:
    context = AssertionContext() if base_dir is None else AssertionContext(base_dir=base_dir)
    return run_sync(HANDLERS, assertion_call(type_, value, output, context=context))


POINT = {
    "type": "object",
    "required": ["latitude", "longitude"],
    "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
}
POINT_YAML = """
type: object
required: [latitude, longitude]
properties:
  latitude: {type: number}
  longitude: {type: number}
"""
XML_DOC = "<analysis><summary>ok</summary><item>1</item><item>2</item></analysis>"
DATED = {"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}

CASES: list[tuple[str, Any, Any, bool]] = [
    # is-json
    ("is-json", None, '{"a": 1}', True),
    ("is-json", None, "[1, 2, 3]", True),
    ("is-json", None, " 42 ", True),
    ("is-json", None, "null", True),  # any JSON value, as JSON.parse
    ("is-json", None, '"text"', True),
    ("is-json", None, "{a: 1}", False),
    ("is-json", None, "NaN", False),
    ("is-json", None, 'Here: {"a": 1}', False),
    ("not-is-json", None, "plain text", True),
    ("not-is-json", None, '{"a": 1}', False),
    ("is-json", POINT, '{"latitude": 1.5, "longitude": 2}', True),
    ("is-json", POINT, '{"latitude": "north", "longitude": 2}', False),
    ("is-json", POINT_YAML, '{"latitude": 1, "longitude": 2}', True),
    ("is-json", POINT_YAML, '{"latitude": 1}', False),
    ("not-is-json", POINT, '{"latitude": "x"}', True),
    ("not-is-json", POINT, '{"latitude": 1, "longitude": 2}', False),
    ("is-json", DATED, '{"d": "2024-02-29"}', True),
    ("is-json", DATED, '{"d": "tomorrow"}', False),  # formats are enforced
    ("is-json", None, {"already": "parsed"}, True),
    # contains-json
    ("contains-json", None, 'Sure! {"a": 1} hope that helps', True),
    ("contains-json", None, 'Result:\n```json\n{"a": [1, 2]}\n```\n', True),
    # promptfoo reads each {...} as YAML flow or JSON: "{not json}" is the object
    # {"not json": null}, so it counts (promptfoo 0.123.1 passes this too)
    ("contains-json", None, "no json here {not json}", True),
    ("contains-json", None, "list: [1, 2, 3] end", False),  # arrays in prose do not count
    ("contains-json", None, "answer: 42", False),
    ("contains-json", None, 'x {"a": {"b": 1} tail', True),  # unclosed object is closed
    ("contains-json", None, 'x {"a": 1 // note\n} y', True),  # // comments allowed
    ("contains-json", None, "x {a: 1, b: [1, 2]} y", True),  # YAML flow mapping
    ("contains-json", None, [{"a": 1}], True),  # an object output is searched as JSON text
    ("contains-json", None, [1, 2], False),
    ("not-contains-json", None, "[1, 2, 3]", True),
    ("not-contains-json", None, "no json here", True),
    ("not-contains-json", None, 'x {"a": 1} y', False),
    ("contains-json", POINT, 'first {"latitude": "n"} then {"latitude": 1, "longitude": 2}', True),
    ("contains-json", POINT, 'only {"latitude": "n"}', False),
    ("not-contains-json", POINT, 'only {"latitude": "n"}', True),
    ("not-contains-json", POINT, 'x {"latitude": 1, "longitude": 2}', False),
    ("contains-json", POINT, "```\n[1, 2]\n```", False),
    # is-html
    ("is-html", None, "<div><p>Hello</p></div>", True),
    ("is-html", None, "<!DOCTYPE html><html><body>Hi</body></html>", True),
    ("is-html", None, "  <ul><li>a</li><li>b</li></ul>  ", True),
    ("is-html", None, "<my-widget>x</my-widget>", True),
    ("is-html", None, "Just some text", False),
    ("is-html", None, "Text before <p>para</p>", False),
    ("is-html", None, "<foo>bar</foo>", False),
    ("is-html", None, '<?xml version="1.0"?><root/>', False),
    ("is-html", None, "", False),
    ("not-is-html", None, "plain text", True),
    ("not-is-html", None, "<p>para</p>", False),
    # contains-html
    ("contains-html", None, "Here is a snippet: <div class='x'>hi</div>", True),
    ("contains-html", None, "Use <br/> for breaks", True),
    ("contains-html", None, "if a < b and c > d", False),
    ("contains-html", None, "tag <example> alone", False),
    ("contains-html", None, "AT&amp;T <!-- note -->", True),
    ("not-contains-html", None, "plain prose only", True),
    ("not-contains-html", None, "<p>hello</p>", False),
    # is-xml
    ("is-xml", None, "<root><child>1</child></root>", True),
    ("is-xml", None, '<?xml version="1.0"?>\n<a x="1"/>', True),
    ("is-xml", None, "<root><child></root>", False),
    ("is-xml", None, "plain text", False),
    ("is-xml", None, "<a>1</a><b>2</b>", False),
    ("not-is-xml", None, "<root><unclosed></root>", True),
    ("not-is-xml", None, "<root/>", False),
    ("is-xml", {"requiredElements": ["analysis.summary"]}, XML_DOC, True),
    ("is-xml", {"requiredElements": ["analysis.item.1"]}, XML_DOC, True),
    ("is-xml", {"requiredElements": ["analysis.item.2"]}, XML_DOC, False),
    ("is-xml", {"requiredElements": ["analysis.missing"]}, XML_DOC, False),
    ("is-xml", {"requiredElements": ["other.summary"]}, XML_DOC, False),
    ("is-xml", {"requiredElements": ["a.@_id"]}, '<a id="7"><b/></a>', True),
    ("is-xml", None, '<!DOCTYPE r [<!ENTITY x "boom">]><r>&x;</r>', False),
    ("is-xml", None, "<!DOCTYPE html><html/>", True),
    # contains-xml
    ("contains-xml", None, "Result: <data><v>1</v></data> done", True),
    ("contains-xml", None, "no markup here", False),
    ("contains-xml", None, "broken <a><b></a> only", False),
    ("not-contains-xml", None, "no markup here", True),
    ("not-contains-xml", None, "x <a>1</a> y", False),
    ("contains-xml", {"requiredElements": ["data.v"]}, "see <data><v>1</v></data>", True),
    ("contains-xml", {"requiredElements": ["data.w"]}, "see <data><v>1</v></data>", False),
    ("contains-xml", None, "inline <br/> tag", True),
    # is-sql
    ("is-sql", None, "SELECT id, name FROM users WHERE age > 21 ORDER BY name LIMIT 5", True),
    ("is-sql", None, "select * from t1 inner join t2 on t1.id = t2.id;", True),
    ("is-sql", None, "WITH r AS (SELECT 1 AS x) SELECT x FROM r", True),
    ("is-sql", None, "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'it''s')", True),
    ("is-sql", None, "UPDATE users SET name = 'x', age = age + 1 WHERE id = 3", True),
    ("is-sql", None, "DELETE FROM sessions WHERE expires_at < NOW()", True),
    ("is-sql", None, "SELECT a FROM t GROUP BY a HAVING COUNT(*) > 1 UNION SELECT b FROM u", True),
    ("is-sql", None, "SELECT CASE WHEN x IS NULL THEN 0 ELSE x END AS y FROM t", True),
    ("is-sql", None, "SELECT * FROM t WHERE id IN (SELECT id FROM u) AND name LIKE 'a%'", True),
    ("is-sql", None, "SELECT 1; SELECT 2;", True),
    ("is-sql", None, "SELECT FROM users", False),
    ("is-sql", None, "SELEC * FROM users", False),
    ("is-sql", None, "Here is the query you asked for", False),
    ("is-sql", None, "SELECT * FROM users WHERE", False),
    ("is-sql", None, "SELECT 'unterminated FROM t", False),
    ("is-sql", None, "SELECT (1 + 2 FROM t", False),
    ("is-sql", None, "", False),
    ("not-is-sql", None, "not sql", True),
    ("not-is-sql", None, "SELECT 1", False),
    ("is-sql", {"databaseType": "PostgreSQL"}, 'SELECT "id" FROM "users" WHERE x::int > 1', True),
    ("is-sql", {"databaseType": "MySQL"}, "SELECT `id` FROM `users` LIMIT 10, 20", True),
    ("is-sql", {"allowedTables": ["select::null::users"]}, "SELECT id FROM users", True),
    ("is-sql", {"allowedTables": ["select::null::users"]}, "SELECT id FROM secrets", False),
    ("is-sql", {"allowedTables": ["(select|update)::null::users"]}, "UPDATE users SET a=1", True),
    ("is-sql", {"allowedTables": ["select::null::users"]}, "DELETE FROM users", False),
    ("is-sql", {"allowedTables": ["users"]}, "DELETE FROM users", True),  # plain name
    ("not-is-sql", {"allowedTables": ["users"]}, "SELECT 1 FROM secrets", True),
    (
        "is-sql",
        {"allowedColumns": ["select::null::id", "select::null::name"]},
        "SELECT id, name FROM t",
        True,
    ),
    ("is-sql", {"allowedColumns": ["select::null::id"]}, "SELECT id, password FROM t", False),
    ("is-sql", {"allowedColumns": ["select::users::id"]}, "SELECT u.id FROM users u", True),
    # contains-sql
    ("contains-sql", None, "Try this:\n```sql\nSELECT * FROM orders\n```\nDone.", True),
    ("contains-sql", None, "```\nSELECT 1\n```", True),
    ("contains-sql", None, "SELECT name FROM users", True),
    ("contains-sql", None, "Try this:\n```sql\nSELEKT * FROM orders\n```", False),
    ("not-contains-sql", None, "no code here", True),
    ("not-contains-sql", None, "```sql\nSELECT 1\n```", False),
]


@pytest.mark.parametrize(("type_", "value", "output", "expected"), CASES)
def test_structured_assertion(type_: str, value: Any, output: Any, expected: bool) -> None:
    result = run(type_, value, output)
    assert result.passed is expected, result.reason
    assert result.score == (1.0 if expected else 0.0)
    if not expected:
        assert result.reason and result.reason != "Assertion passed"


@pytest.mark.parametrize(
    ("type_", "value", "output", "reason"),
    [
        ("is-json", None, "nope", "Expected output to be valid JSON"),
        (
            "contains-json",
            POINT,
            'text {"latitude": "north", "longitude": 1}',
            "JSON does not conform to the provided schema. Errors: data/latitude must be number",
        ),
        (
            "is-json",
            POINT,
            '{"longitude": 1}',
            "JSON does not conform to the provided schema. Errors: "
            "data must have required property 'latitude'",
        ),
        (
            "not-is-json",
            POINT,
            '{"latitude": 1, "longitude": 2}',
            "Output is JSON that conforms to the provided schema",
        ),
        ("contains-json", None, "none", "Expected output to contain valid JSON"),
        ("is-html", None, "words <p>x</p>", "Output must be wrapped in HTML tags"),
        ("is-html", None, "<foo>x</foo>", "Output does not contain recognized HTML elements"),
        ("contains-html", None, "none", "Expected output to contain HTML content"),
        (
            "is-xml",
            {"requiredElements": ["a.b", "a.c"]},
            "<a><b/></a>",
            "XML is missing required elements: a.c",
        ),
        (
            "is-xml",
            None,
            '<!DOCTYPE r [<!ENTITY x "y">]><r/>',
            "DTD internal subsets are not supported by is-xml validation",
        ),
        ("contains-xml", None, "nothing", "No XML content found in the output"),
        ("not-is-sql", None, "SELECT 1", "The output SQL statement is valid"),
    ],
)
def test_reasons(type_: str, value: Any, output: Any, reason: str) -> None:
    assert run(type_, value, output).reason == reason


def test_xml_parse_failure_reason_names_the_problem() -> None:
    reason = run("is-xml", None, "<a><b></a>").reason
    assert reason.startswith("XML parsing failed: mismatched tag")


def test_sql_failure_reason_names_dialect_and_position() -> None:
    reason = run("is-sql", {"databaseType": "PostgreSQL"}, "SELECT FROM t").reason
    assert "PostgreSQL database syntax" in reason and "position 7" in reason


def test_sql_allow_list_failure_names_the_authority() -> None:
    reason = run("is-sql", {"allowedTables": ["select::null::users"]}, "SELECT 1 FROM x").reason
    assert "'select::null::x'" in reason and "allowed table list" in reason


def test_sql_double_quotes_are_strings_in_mysql_but_names_in_postgres() -> None:
    # in MySQL "a" is a string literal, so it cannot be a table name
    assert not run("is-sql", None, 'SELECT * FROM "users"').passed
    assert run("is-sql", {"databaseType": "postgres"}, 'SELECT * FROM "users"').passed


def test_is_json_schema_from_file(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text(POINT_YAML, encoding="utf-8")
    out_ok = '{"latitude": 1, "longitude": 2}'
    assert run("is-json", "file://schema.yaml", out_ok, base_dir=tmp_path).passed
    assert not run("is-json", "file://schema.yaml", '{"a": 1}', base_dir=tmp_path).passed


def test_extract_json_values_skips_nested_and_invalid() -> None:
    text = 'a {"x": {"y": 1}} b [1, {"z": 2}] c {bad} d'
    assert extract_json_values(text) == [{"x": {"y": 1}}, [1, {"z": 2}]]


def test_extract_json_values_survives_deep_nesting() -> None:
    assert extract_json_values("[" * 5000) == []


CONFIG_ERRORS: list[tuple[str, Any, str]] = [
    ("is-json", 42, "must have a string or object value"),
    ("is-json", True, "must have a string or object value"),
    ("is-json", {"type": "not-a-type"}, "Invalid JSON schema"),
    ("contains-json", "type: [unclosed", "not valid JSON/YAML"),
    ("is-json", "file://does/not/exist.json", "cannot be read"),
    ("is-xml", 42, "must be a string, a list, or an object with requiredElements"),
    ("is-xml", {"requiredElements": "root"}, "an object with a requiredElements list"),
    ("contains-xml", {"required": ["a"]}, "an object with a requiredElements list"),
    ("is-xml", {"requiredElements": [{"a": 1}]}, "must be a dotted element path"),
    ("is-sql", "MySQL", "must have an object value"),
    ("is-sql", {"databaseType": "Oracle9"}, "is not supported by the built-in SQL validator"),
    ("is-sql", {"allowedTables": "users"}, "must be a list of strings"),
    ("is-sql", {"tables": ["users"]}, "unknown keys"),
    ("is-sql", {"allowedTables": ["select::null::(bad"]}, "not a valid pattern"),
]


@pytest.mark.parametrize(("type_", "value", "message"), CONFIG_ERRORS)
def test_bad_config_is_an_error(type_: str, value: Any, message: str) -> None:
    # schemas are compiled only when there is JSON to validate (as in promptfoo)
    output = '{"a": 1}' if type_.endswith("json") else '{"a": 1} <a/> SELECT 1'
    with pytest.raises(AssertionConfigError, match=message.replace("(", r"\(")):
        run(type_, value, output)


@pytest.mark.parametrize(
    "statement", ["ALTER TABLE t ADD c INT", "CREATE INDEX i ON t (c)", "TRUNCATE TABLE t"]
)
def test_sql_statements_outside_the_subset_are_loud(statement: str) -> None:
    with pytest.raises(AssertionConfigError, match=r"cannot judge a .* statement"):
        run("is-sql", None, statement)
    with pytest.raises(AssertionConfigError):
        run("not-is-sql", None, statement)


@pytest.mark.parametrize(
    ("statement", "tables", "ok"),
    [
        (
            "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
            ["create::null::t"],
            True,
        ),
        ("CREATE TABLE IF NOT EXISTS t (id INT, PRIMARY KEY (id))", ["create::null::t"], True),
        ("CREATE TABLE t (id INT", ["create::null::t"], False),
        ("DROP TABLE IF EXISTS users, orders", ["drop::null::users", "drop::null::orders"], True),
        ("DROP TABLE users", ["drop::null::orders"], False),
    ],
)
def test_create_and_drop_table(statement: str, tables: list[str], ok: bool) -> None:
    assert run("is-sql", {"allowedTables": tables}, statement).passed is ok


@pytest.mark.parametrize(
    ("value", "output", "ok"),
    [
        (None, "SELECT a b FROM t", False),  # promptfoo: a likely missing comma
        (None, "SELECT a AS b FROM t", True),
        (None, "SELECT 'a b' FROM t", True),
        (None, "SELECT `id FROM t", False),  # odd backticks
        (None, "SELECT * FROM t WHERE a ILIKE 'x'", False),  # MySQL has no ILIKE
        ({"databaseType": "PostgreSQL"}, "SELECT * FROM t WHERE a ILIKE 'x'", True),
        (None, "SELECT * FROM generate_series(1, 3)", False),
        ({"databaseType": "PostgreSQL"}, "SELECT $$it's$$ AS x", True),
        ({"databaseType": "PostgreSQL"}, "SELECT $q$a$q$ AS x", True),
        ({"databaseType": "PostgreSQL"}, "SELECT $q$a AS x", False),
        ({"allowedColumns": ["select::users::id"]}, "SELECT id FROM users", True),
        ({"allowedColumns": ["select::users::id"]}, "SELECT name FROM users", False),
    ],
)
def test_sql_promptfoo_rules(value: Any, output: str, ok: bool) -> None:
    assert run("is-sql", value, output).passed is ok


@pytest.mark.parametrize(
    ("output", "ok"),
    [
        ("```sql\nSELEC x\n```\n```sql\nSELECT 1\n```", True),  # every block is tried
        ("~~~sql\nSELECT 1\n~~~", True),
        ("```python\nprint(1)\n```", False),
        ("````sql\nSELECT 1\n```\n````", False),  # a shorter fence is body text
    ],
)
def test_contains_sql_code_blocks(output: str, ok: bool) -> None:
    assert run("contains-sql", None, output).passed is ok
    assert run("not-contains-sql", None, output).passed is not ok


def test_deeply_nested_inputs_fail_cleanly() -> None:
    assert not run("is-sql", None, "SELECT " + "(" * 3000 + "1" + ")" * 3000).passed
    deep = "<a>" * 3000 + "</a>" * 3000
    assert run("is-xml", None, deep).passed
    assert run("is-xml", {"requiredElements": ["a.a.a"]}, deep).passed
    assert not run("is-xml", {"requiredElements": ["a.b"]}, deep).passed
    assert run("contains-xml", {"requiredElements": ["a.a"]}, "x " + deep).passed


@pytest.mark.parametrize(
    ("type_", "value", "output", "ok"),
    [
        # siblings are joined into one candidate, text between them included
        ("contains-xml", ["x.a", "y.b"], "A <x><a>1</a></x> and <y><b>2</b></y>.", True),
        # an element inside a balanced one is not tried alone
        ("contains-xml", ["inner.c"], "<outer><inner><c>1</c></inner></outer>", False),
        # ... but is when its parent is not balanced
        ("contains-xml", ["inner.c"], "<outer><inner><c>1</c></inner>", True),
        ("contains-xml", ["données.élément"], "R: <données><élément>1</élément></données>", True),
        ("contains-xml", None, "r: <root>a & b</root>", True),  # read leniently
        ("contains-xml", "x.a, x.b", "<x><a/><b>2</b></x>", True),
        ("is-xml", None, '<!DOCTYPE r SYSTEM "f[1].dtd"><r/>', True),
        ("is-xml", None, "<!DOCTYPE r [<!ELEMENT r ANY>]><r/>", False),
        ("is-xml", None, '<!DOCTYPE r SYSTEM "a.dtd#x"><r/>', False),
        ("is-xml", None, "<!DOCTYPE r><r/>", True),
        ("is-xml", "r.a, r.b", "<r><a>1</a><b/></r>", True),
        ("is-xml", ["r.a.1"], "<r><a>1</a><a>2</a></r>", True),
        ("is-xml", ["r.a.01"], "<r><a>1</a><a>2</a></r>", False),
    ],
)
def test_xml_promptfoo_rules(type_: str, value: Any, output: str, ok: bool) -> None:
    assert run(type_, value, output).passed is ok


# --- promptfoo 0.123.1 parity: ajv strict mode, lazy schema compile, object extraction ------

STRICT_REJECTED: list[tuple[Any, str]] = [
    # what ajv 8 (draft-07 class, strictSchema) refuses to compile, as promptfoo runs it
    (
        {"type": "object", "madeUpKeyword": True},
        'at #: strict mode: unknown keyword: "madeUpKeyword"',
    ),
    (
        {"type": "object", "properties": {"a": {"type": "string", "x-note": "hi"}}},
        'at #/properties/a: strict mode: unknown keyword: "x-note"',
    ),
    ({"type": "array", "prefixItems": [{"type": "number"}]}, 'unknown keyword: "prefixItems"'),
    ({"type": "object", "unevaluatedProperties": False}, '"unevaluatedProperties"'),
    ({"type": "object", "dependentRequired": {"a": ["b"]}}, '"dependentRequired"'),
    (
        {"anyOf": [{"type": "string", "foo": 1}]},
        'at #/anyOf/0: strict mode: unknown keyword: "foo"',
    ),
    ({"items": {"minContains": 1}}, '"minContains"'),
    (
        {"$ref": "#/definitions/p", "definitions": {"p": {"type": "object", "bogus": 1}}},
        'at #/definitions/p: strict mode: unknown keyword: "bogus"',
    ),
    ({"type": "string", "format": "colour"}, 'unknown format "colour"'),
    ({"if": {"type": "string"}}, '"if" without "then" and "else" is ignored'),
    ({"then": {"type": "string"}}, '"then" without "if" is ignored'),
    ({"additionalItems": False}, '"additionalItems" is ignored when "items" is not an array'),
    ({"nullable": True}, '"nullable" cannot be used without "type"'),
    ({"id": "x", "type": "object"}, 'keyword "id" is not supported'),
    (
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
        'no schema with key or ref "https://json-schema.org/draft/2020-12/schema"',
    ),
    (
        {"properties": {"ab": {"type": "string"}}, "patternProperties": {"^a": {"type": "number"}}},
        "property ab matches pattern ^a",
    ),
    ("type: object\nmadeUpKeyword: true\n", '"madeUpKeyword"'),  # YAML string schema
]


@pytest.mark.parametrize(("schema", "message"), STRICT_REJECTED)
@pytest.mark.parametrize("type_", ["is-json", "contains-json", "not-is-json"])
def test_ajv_strict_mode_rejects_schema(type_: str, schema: Any, message: str) -> None:
    with pytest.raises(AssertionConfigError) as info:
        run(type_, schema, '{"a": 1}')
    text = str(info.value)
    assert message in text, text
    assert "strict mode" in text and "Fix:" in text


STRICT_ACCEPTED: list[tuple[Any, Any, bool]] = [
    # schema, output, passes
    (
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://example.com/point",
            "$comment": "a point",
            "title": "Point",
            "description": "x and y",
            "type": "object",
            "properties": {
                "x": {"type": "number", "default": 0, "examples": [1], "readOnly": True},
                "y": {"type": "number", "writeOnly": True, "deprecated": False},
                "name": {
                    "type": "string",
                    "contentMediaType": "text/plain",
                    "contentEncoding": "8bit",
                },
            },
            "required": ["x", "y"],
        },
        '{"x": 1, "y": 2}',
        True,
    ),
    # unreferenced definitions are not compiled by ajv, so nothing in them is checked
    ({"type": "object", "$defs": {"unused": {"whatever": 1}}}, '{"a": 1}', True),
    (
        {"$ref": "#/$defs/name", "$defs": {"name": {"type": "string", "minLength": 2}}},
        '"ab"',
        True,
    ),
    ({"type": "array", "items": [{"type": "string"}], "additionalItems": False}, '["a", 1]', False),
    ({"if": {"type": "string"}, "then": {"minLength": 2}}, '"a"', False),
    ({"type": "string", "nullable": True}, "null", True),  # ajv's nullable
    ({"type": "string", "format": "email"}, '"a@b.co"', True),
    ({"type": "string", "format": "email"}, '"nope"', False),
    # ajv 8 applies $ref siblings (plain draft-07 would ignore minLength here)
    (
        {"$ref": "#/definitions/s", "definitions": {"s": {"type": "string"}}, "minLength": 3},
        '"ab"',
        False,
    ),
    ({"dependencies": {"a": ["b"]}}, '{"a": 1}', False),
]


@pytest.mark.parametrize(("schema", "output", "passes"), STRICT_ACCEPTED)
def test_ajv_accepted_schemas_validate(schema: Any, output: str, passes: bool) -> None:
    result = run("is-json", schema, output)
    assert result.passed is passes, result.reason


def test_schema_is_compiled_only_when_there_is_json_to_validate() -> None:
    # promptfoo compiles the schema after JSON.parse succeeds / an object was extracted, so a
    # bad schema does not error on non-JSON output: the plain verdict stands
    bad = {"type": "object", "madeUpKeyword": True}
    assert run("not-is-json", bad, "plain text").passed
    assert not run("is-json", bad, "plain text").passed
    assert run("not-contains-json", bad, "no objects [1, 2]").passed
    with pytest.raises(AssertionConfigError):
        run("not-contains-json", bad, 'one {"a": 1} here')


def test_falsy_schema_values_mean_no_schema() -> None:
    # promptfoo tests `if (renderedValue)`: false / 0 / "" are no schema at all
    for value in (False, 0, ""):
        assert run("is-json", value, '{"a": 1}').passed


def test_contains_json_reports_the_last_objects_errors() -> None:
    reason = run("contains-json", POINT, 'a {"latitude": "n"} b {"longitude": 1}').reason
    assert reason == (
        "JSON does not conform to the provided schema. Errors: "
        "data must have required property 'latitude'"
    )


@pytest.mark.parametrize(
    ("text", "objects"),
    [
        # cases checked against promptfoo 0.123.1's extractJsonObjects
        ("list: [1, 2, 3] end", []),
        ('a {"x": {"y": 1}} b [1, {"z": 2}] c {bad} d', [{"x": {"y": 1}}, {"z": 2}, {"bad": None}]),
        ('x {"a": {"b": 1} tail', [{"b": 1}]),
        ('{"a":1}{"b":2}', [{"a": 1}, {"b": 2}]),
        ('{"u": "http://x.y/z"}', [{"u": "http://x.y/z"}]),
        ('x {"a": 1 // c\n} y', [{"a": 1}]),
        ("f(x) { return 1; }", [{"return 1;": None}]),
        ("use {{ var }} here", [{"var": None}]),
        ("{a: yes, b: 017}", [{"a": "yes", "b": 17}]),  # YAML 1.2 scalars, as js-yaml
        ('{"a": "}"}', []),  # quotes are not special in the brace scan
        ("ends with {", []),
        ('{\n\t"a": 1\n}', [{"a": 1}]),
    ],
)
def test_extract_json_objects_matches_promptfoo(text: str, objects: list[Any]) -> None:
    assert extract_json_objects(text) == objects


def _profile_events(fn: Any, arg: str) -> int:
    """Python and C calls made by ``fn(arg)``: a deterministic measure of work (no clock)."""
    import sys

    count = 0

    def profiler(frame: Any, event: str, _arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profiler)
    try:
        fn(arg)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize(
    "unit",
    ["{", 'x {"a": "//"', "{// x\n"],
    ids=["braces", "slashes", "comments"],
)
def test_extract_json_objects_work_grows_linearly_on_pathological_text(unit: str) -> None:
    # Doubling a pathological input must not much more than double the work (a quadratic
    # scan would quadruple it). Counted in calls, not seconds, so a busy machine cannot flake.
    small = _profile_events(extract_json_objects, unit * 100)
    large = _profile_events(extract_json_objects, unit * 200)
    assert large <= 2.5 * max(small, 1), (small, large)


def test_extract_json_objects_on_unquoted_key_runs() -> None:
    # JSON5-style keys go through PyYAML's pure scanner, which is superlinear on long flow
    # runs (noticed for the performance issue); this only checks the answer stays correct.
    assert extract_json_objects("{a: 1, " * 50) is not None
