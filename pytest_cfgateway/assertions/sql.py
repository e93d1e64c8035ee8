"""SQL assertions: is-sql and contains-sql, with a built-in validator for a documented subset.

promptfoo parses with ``node-sql-parser``; no comparable pure-Python parser ships with this
plugin, so this module carries a small recursive-descent validator. What it accepts:

- Statements: ``SELECT`` (with ``WITH [RECURSIVE]`` CTEs, ``DISTINCT``, ``TOP n``, joins of all
  kinds with ``ON``/``USING``, ``WHERE``, ``GROUP BY [WITH ROLLUP]``, ``HAVING``, ``UNION
  [ALL]``/``INTERSECT``/``EXCEPT``, ``ORDER BY ... [ASC|DESC] [NULLS FIRST|LAST]``, ``LIMIT``/
  ``OFFSET``/``FETCH FIRST n ROWS ONLY``), ``INSERT`` (``VALUES``, ``SELECT``, MySQL ``SET``,
  ``ON DUPLICATE KEY UPDATE``, ``ON CONFLICT ... DO NOTHING|UPDATE``, ``RETURNING``),
  ``UPDATE`` (``SET``, ``FROM``, ``WHERE``, ``ORDER BY``, ``LIMIT``, ``RETURNING``) and
  ``DELETE`` (``FROM``, ``USING``, ``WHERE``, ``ORDER BY``, ``LIMIT``, ``RETURNING``); several
  statements separated by ``;``.
- Expressions: literals, placeholders (``?``, ``$1``, ``:name``, ``@var``), column references,
  arithmetic/comparison/logical operators, ``IN``, ``BETWEEN``, ``LIKE``/``ILIKE``/``REGEXP``,
  ``IS [NOT] NULL``, ``EXISTS``, subqueries, ``CASE``, ``CAST(x AS t)``, ``x::t``,
  ``INTERVAL``, function calls with ``DISTINCT``/``*``/``FILTER``/``OVER (...)``.
- ``databaseType`` (default MySQL) changes quoting: MySQL/MariaDB/Hive/BigQuery read ``"x"``
  as a string and use backticks for names; PostgreSQL, SQLite, TransactSQL, Snowflake,
  Redshift, DB2, Trino, Athena read ``"x"`` as a name (TransactSQL also ``[x]``).

- ``CREATE [TEMPORARY] TABLE [IF NOT EXISTS] t (...)`` (column definitions read loosely) or
  ``... AS SELECT``, and ``DROP TABLE|VIEW [IF EXISTS] t, ...``.
- promptfoo 0.123.1's extra rejections (:func:`heuristic_problem`): empty text, an odd number
  of backticks, ``SELECT a b FROM`` (a likely missing comma, quoted text and comments
  ignored), ``generate_series(`` in MySQL; and no ``ILIKE`` in MySQL/MariaDB. PostgreSQL
  ``$$...$$`` / ``$tag$...$tag$`` strings are read as strings.
- ``contains-sql`` tries every ``sql``-tagged or untagged fenced block (``` or ~~~) in
  order, else the whole output.

Loud limits: any other statement (``ALTER``, ``CREATE INDEX``, ``MERGE``...) raises
`AssertionConfigError` -- the validator cannot judge it, so it neither passes nor fails.
A real parser was considered: sqlglot agreed with promptfoo on 34 of 40 syntax-only rows of
``tests/fidelity/configs/29_sql.yaml`` (it accepts ``SELEC * FORM users``, a trailing comma
and MySQL ``ILIKE``); this validator agrees on all of them.

``allowedTables`` / ``allowedColumns`` use node-sql-parser's authority strings
``{select|insert|update|delete}::{db or null}::{table}`` and ``{type}::{table or null}::{column}``
(each entry is a case-insensitive regular expression, e.g. ``(select|update)::null::users``);
an entry without ``::`` is a plain table or column name allowed for every statement type. As
in promptfoo, an ``allowedColumns`` entry ``type::table::col`` also allows ``type::null::col``.
"""

from __future__ import annotations

import dataclasses
import re

from ._helpers import PASSED, describe_value, output_text, type_name
from .base import AssertionCall, AssertionConfigError, BuiltinHandler, GradingResult

_DIALECTS: dict[str, str] = {  # lower-case name -> canonical name
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "hive": "Hive",
    "bigquery": "BigQuery",
    "postgresql": "PostgreSQL",
    "postgres": "PostgreSQL",
    "sqlite": "SQLite",
    "transactsql": "TransactSQL",
    "mssql": "TransactSQL",
    "sqlserver": "TransactSQL",
    "snowflake": "Snowflake",
    "redshift": "Redshift",
    "db2": "DB2",
    "trino": "Trino",
    "athena": "Athena",
}
_DQ_IS_STRING = {"MySQL", "MariaDB", "Hive", "BigQuery"}
_BACKTICK_NAMES = {"MySQL", "MariaDB", "Hive", "BigQuery", "SQLite"}
_BRACKET_NAMES = {"TransactSQL", "SQLite"}

_UNSUPPORTED = frozenset(
    """
        create alter drop truncate rename grant revoke merge explain describe desc show use set
        begin commit rollback savepoint call exec execute do lock unlock analyze vacuum copy
        comment replace upsert declare prepare deallocate load
        """.split()  # noqa: SIM905
)

_RESERVED = frozenset(
    """
        select from where group by having order limit offset fetch union intersect except minus
        join inner left right full outer cross natural on using as and or not in is null like
        ilike rlike regexp between case when then else end exists all any some distinct insert
        into values update set delete returning with recursive asc desc nulls window over filter
        partition rows range top into conflict duplicate escape xor div mod similar interval
        cast
        """.split()  # noqa: SIM905
)


class SqlSyntaxError(Exception):
    """The text is not SQL of the supported subset."""


class SqlUnsupported(Exception):
    """The statement is SQL of a kind the built-in validator does not judge."""


@dataclasses.dataclass(frozen=True)
class Tok:
    kind: str  # word, qname (quoted identifier), str, num, op, param, end
    text: str
    pos: int

    @property
    def low(self) -> str:
        return self.text.lower()


_OPS = sorted(
    "<=> <> != <= >= :: || && -> ->> !~* !~ ~* ( ) , ; . = < > + - * / % ^ | & ~ [ ]".split(),  # noqa: SIM905
    key=len,
    reverse=True,
)


_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][\w$]*")
_PARAM = re.compile(r".[\w$]*")
_DOLLAR_QUOTE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def tokenize(sql: str, dialect: str) -> list[Tok]:
    """Split SQL into tokens; unterminated strings/comments raise SqlSyntaxError."""
    toks: list[Tok] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i) or (ch == "#" and dialect in ("MySQL", "MariaDB")):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise SqlSyntaxError("unterminated /* comment")
            i = j + 2
        elif ch == "'" or (ch == '"' and dialect in _DQ_IS_STRING):
            j = _close_quote(sql, i, ch, backslash=dialect in _DQ_IS_STRING)
            toks.append(Tok("str", sql[i : j + 1], i))
            i = j + 1
        elif ch == '"' or (ch == "`" and dialect in _BACKTICK_NAMES):
            j = _close_quote(sql, i, ch, backslash=False)
            toks.append(Tok("qname", sql[i + 1 : j].replace(ch * 2, ch), i))
            i = j + 1
        elif ch == "[" and dialect in _BRACKET_NAMES:
            j = sql.find("]", i)
            if j < 0:
                raise SqlSyntaxError("unterminated [identifier]")
            toks.append(Tok("qname", sql[i + 1 : j], i))
            i = j + 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            assert m is not None
            end = m.end()
            if end < n and (sql[end].isalpha() or sql[end] == "_"):
                raise SqlSyntaxError(f"malformed number near {sql[i : end + 1]!r}")
            toks.append(Tok("num", sql[i:end], i))
            i = end
        elif ch.isalpha() or ch == "_":
            m = _WORD.match(sql, i)
            assert m is not None
            toks.append(Tok("word", m.group(), i))
            i = m.end()
        elif ch == "$" and dialect == "PostgreSQL" and _DOLLAR_QUOTE.match(sql, i):
            m = _DOLLAR_QUOTE.match(sql, i)
            assert m is not None
            j = sql.find(m.group(), m.end())
            if j < 0:
                raise SqlSyntaxError(f"unterminated {m.group()} string at position {i}")
            toks.append(Tok("str", sql[i : j + len(m.group())], i))
            i = j + len(m.group())
        elif ch == "?" or (
            ch in "$:@" and i + 1 < n and (sql[i + 1].isalnum() or sql[i + 1] == "_")
        ):
            if ch == ":" and i + 1 < n and sql[i + 1] == ":":
                toks.append(Tok("op", "::", i))
                i += 2
                continue
            m = _PARAM.match(sql, i)
            assert m is not None
            toks.append(Tok("param", m.group(), i))
            i = m.end()
        else:
            for op in _OPS:
                if sql.startswith(op, i):
                    toks.append(Tok("op", op, i))
                    i += len(op)
                    break
            else:
                raise SqlSyntaxError(f"unexpected character {ch!r} at position {i}")
    toks.append(Tok("end", "", n))
    return toks


def _close_quote(sql: str, i: int, q: str, *, backslash: bool) -> int:
    j = i + 1
    while j < len(sql):
        c = sql[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == q:
            if j + 1 < len(sql) and sql[j + 1] == q:
                j += 2
                continue
            return j
        j += 1
    raise SqlSyntaxError(f"unterminated quoted text starting at position {i}")


@dataclasses.dataclass
class SqlFacts:
    """What the validator saw: authority strings for the allow-lists."""

    tables: set[str] = dataclasses.field(default_factory=set)
    columns: set[str] = dataclasses.field(default_factory=set)
    statements: list[str] = dataclasses.field(default_factory=list)


class _Parser:
    def __init__(self, toks: list[Tok], dialect: str = "MySQL") -> None:
        self.toks = toks
        self.dialect = dialect
        self.i = 0
        self.facts = SqlFacts()
        self.kind = "select"  # statement type for authorities
        self.aliases: dict[str, str] = {}
        #: (statement type, qualifier, column), resolved against aliases after each statement
        self.pending: list[tuple[str, str | None, str]] = []

    # -- token helpers --
    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, *words: str) -> bool:
        t = self.tok
        return t.kind == "word" and t.low in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def take(self, *words: str) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def take_op(self, *ops: str) -> bool:
        if self.at_op(*ops):
            self.i += 1
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.take(*words):
            self.fail(" or ".join(w.upper() for w in words))

    def expect_op(self, op: str) -> None:
        if not self.take_op(op):
            self.fail(repr(op))

    def fail(self, wanted: str) -> None:
        t = self.tok
        got = "end of input" if t.kind == "end" else repr(t.text)
        raise SqlSyntaxError(f"expected {wanted} but found {got} at position {t.pos}")

    def name(self) -> str:
        t = self.tok
        if t.kind == "qname" or (t.kind == "word" and t.low not in _RESERVED):
            self.i += 1
            return t.text
        self.fail("a name")
        raise AssertionError  # unreachable

    def is_name(self, k: int = 0) -> bool:
        t = self.peek(k) if k else self.tok
        return t.kind == "qname" or (t.kind == "word" and t.low not in _RESERVED)

    # -- statements --
    def script(self) -> SqlFacts:
        if self.tok.kind == "end":
            raise SqlSyntaxError("empty statement")
        while True:
            self.statement()
            self.resolve_columns()
            if not self.take_op(";"):
                break
            if self.tok.kind == "end":
                break
        if self.tok.kind != "end":
            self.fail("end of statement")
        return self.facts

    def statement(self) -> None:
        t = self.tok
        self.aliases = {}
        if t.kind == "op" and t.text == "(":
            self.kind = "select"
            self.facts.statements.append("select")
            self.query()
            return
        if t.kind != "word":
            self.fail("a SQL statement")
        word = t.low
        if word in ("select", "with"):
            self.kind = "select"
            self.facts.statements.append("select")
            self.query()
        elif word == "insert":
            self.kind = "insert"
            self.facts.statements.append("insert")
            self.insert()
        elif word == "update":
            self.kind = "update"
            self.facts.statements.append("update")
            self.update()
        elif word == "delete":
            self.kind = "delete"
            self.facts.statements.append("delete")
            self.delete()
        elif word == "drop" and self.peek().low in ("table", "view"):
            self.kind = "drop"
            self.facts.statements.append("drop")
            self.drop()
        elif word == "create" and self.peek().low in ("table", "temporary"):
            self.kind = "create"
            self.facts.statements.append("create")
            self.create_table()
        elif word in _UNSUPPORTED:
            raise SqlUnsupported(word.upper())
        else:
            self.fail("a SQL statement (SELECT, WITH, INSERT, UPDATE or DELETE)")

    def drop(self) -> None:
        """``DROP TABLE|VIEW [IF EXISTS] name [, name ...] [CASCADE|RESTRICT]``."""
        self.i += 2
        if self.take("if"):
            self.expect("exists")
        while True:
            db, table = self.qualified_name()
            self.table_fact(db, table)
            if not self.take_op(","):
                break
        self.take("cascade", "restrict")

    def create_table(self) -> None:
        """``CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (column or constraint, ...)`` with
        each element read loosely: a name, then a balanced run of words, literals and
        parenthesised arguments (types, defaults, constraints); or ``AS SELECT ...``."""
        self.i += 1
        self.take("temporary")
        self.expect("table")
        if self.take("if"):
            self.expect("not")
            self.expect("exists")
        db, table = self.qualified_name()
        self.table_fact(db, table)
        if self.take("as"):
            self.kind = "select"
            self.query()
            return
        self.expect_op("(")
        while True:
            if not (self.is_name() or self.at("primary", "unique", "foreign", "check", "key")):
                self.fail("a column definition")
            self.i += 1
            depth = 0
            while not (depth == 0 and self.at_op(",", ")")):
                if self.tok.kind == "end" or self.at_op(";"):
                    self.fail("')'")
                if self.at_op("("):
                    depth += 1
                elif self.at_op(")"):
                    depth -= 1
                self.i += 1
            if not self.take_op(","):
                break
        self.expect_op(")")

    def query(self) -> None:
        if self.take("with"):
            self.take("recursive")
            while True:
                cte = self.name()
                self.aliases[cte.lower()] = "\0cte"
                if self.take_op("("):
                    self.name_list()
                    self.expect_op(")")
                self.expect("as")
                self.expect_op("(")
                self.query()
                self.expect_op(")")
                if not self.take_op(","):
                    break
        self.select_core()
        while self.at("union", "intersect", "except", "minus"):
            self.i += 1
            self.take("all", "distinct")
            self.select_core()
        self.order_limit()
        if self.dialect in _MYSQL_FAMILY:  # MySQL locking reads
            if self.take("for"):
                self.expect("update")
            elif self.take("lock"):
                self.expect("in")
                self.expect("share")
                self.expect("mode")

    def select_core(self) -> None:
        if self.take_op("("):
            self.query()
            self.expect_op(")")
            return
        self.expect("select")
        self.take("distinct", "all")
        if self.take("top"):
            if not self.take_op("("):
                self.primary()
            else:
                self.expr()
                self.expect_op(")")
        self.select_list()
        if self.take("into"):
            self.qualified_name()
        if self.take("from"):
            self.from_list()
        if self.take("where"):
            self.expr()
        if self.at("group") and self.peek().low == "by":
            self.i += 2
            self.expr_list()
            if self.take("with"):
                self.expect("rollup")
        if self.take("having"):
            self.expr()

    def select_list(self) -> None:
        while True:
            if self.take_op("*"):
                self.column_fact(None, "(.*)")
            else:
                self.expr()
                if self.take("as") or self.is_name() or self.tok.kind == "str":
                    self.alias_name()
            if not self.take_op(","):
                return

    def alias_name(self) -> str:
        if self.tok.kind == "str":
            self.i += 1
            return self.toks[self.i - 1].text.strip("'\"")
        return self.name()

    def order_limit(self) -> None:
        if self.at("order") and self.peek().low == "by":
            self.i += 2
            while True:
                self.expr()
                self.take("asc", "desc")
                if self.take("nulls"):
                    self.expect("first", "last")
                if not self.take_op(","):
                    break
        if self.take("limit"):
            self.expr()
            if self.take_op(","):
                self.expr()
            if self.take("offset"):
                self.expr()
        if self.take("offset"):
            self.expr()
            self.take("rows", "row")
        if self.at("fetch") and self.dialect in (*_MYSQL_FAMILY, "PostgreSQL"):
            self.fail("end of query (node-sql-parser has no FETCH FIRST here)")
        if self.take("fetch"):
            self.expect("first", "next")
            if not self.at("rows", "row"):
                self.expr()
            self.expect("rows", "row")
            self.expect("only")

    def from_list(self) -> None:
        while True:
            self.table_ref()
            if not self.take_op(","):
                return

    def table_ref(self) -> None:
        self.table_primary()
        while True:
            if self.at("natural") and self.dialect in _MYSQL_FAMILY:
                self.fail("a join (node-sql-parser's MySQL grammar has no NATURAL JOIN)")
            self.take("natural")
            if self.take("cross") or self.take("inner"):
                self.expect("join")
            elif self.at("left", "right", "full"):
                self.i += 1
                self.take("outer")
                self.expect("join")
            elif not self.take("join", "straight_join"):
                return
            self.table_primary()
            if self.take("on"):
                self.expr()
            elif self.take("using"):
                self.expect_op("(")
                self.name_list()
                self.expect_op(")")

    def table_primary(self) -> None:
        if self.take_op("("):
            if self.at("select", "with") or self.at_op("("):
                self.query()
                self.expect_op(")")
            else:
                self.table_ref()
                self.expect_op(")")
                return
            self.take("as")
            if self.is_name():
                self.name()
            return
        db, table = self.qualified_name()
        if self.take_op("("):  # table-valued function
            if not self.at_op(")"):
                self.expr_list()
            self.expect_op(")")
        else:
            self.table_fact(db, table)
        self.take("as")
        if self.is_name():
            alias = self.name()
            self.aliases[alias.lower()] = table

    def qualified_name(self) -> tuple[str | None, str]:
        parts = [self.name()]
        while self.at_op(".") and (self.is_name(1)):
            self.i += 1
            parts.append(self.name())
        db = parts[-2] if len(parts) > 1 else None
        return db, parts[-1]

    def table_fact(self, db: str | None, table: str) -> None:
        if self.aliases.get(table.lower()) == "\0cte":
            return
        self.facts.tables.add(f"{self.kind}::{db or 'null'}::{table}")

    def column_fact(self, qualifier: str | None, column: str, kind: str | None = None) -> None:
        self.pending.append((kind or self.kind, qualifier, column))

    def resolve_columns(self) -> None:
        """Record the statement's columns with table aliases replaced by table names."""
        for kind, qualifier, column in self.pending:
            table = qualifier
            if qualifier is not None:
                target = self.aliases.get(qualifier.lower())
                if target and target != "\0cte":
                    table = target
            self.facts.columns.add(f"{kind}::{table or 'null'}::{column}")
        self.pending = []

    def name_list(self) -> list[str]:
        names = [self.name()]
        while self.take_op(","):
            names.append(self.name())
        return names

    def insert(self) -> None:
        self.expect("insert")
        self.take("ignore")
        self.take("into")
        db, table = self.qualified_name()
        self.table_fact(db, table)
        if self.at_op("(") and not self.at_select_ahead():
            self.i += 1
            for col in self.name_list():
                self.column_fact(table, col)
            self.expect_op(")")
        if self.take("values", "value"):
            while True:
                self.expect_op("(")
                self.expr_list()
                self.expect_op(")")
                if not self.take_op(","):
                    break
        elif self.take("set"):
            self.assignments(table)
        elif self.at("select", "with") or self.at_op("("):
            self.query()
        elif self.take("default"):
            self.expect("values")
        else:
            self.fail("VALUES, SELECT or SET")
        if self.take("on"):
            if self.take("duplicate"):
                self.expect("key")
                self.expect("update")
                self.assignments(table)
            else:
                self.expect("conflict")
                if self.take_op("("):
                    self.name_list()
                    self.expect_op(")")
                self.expect("do")
                if not self.take("nothing"):
                    self.expect("update")
                    self.expect("set")
                    self.assignments(table)
                    if self.take("where"):
                        self.expr()
        self.returning()

    def at_select_ahead(self) -> bool:
        return (
            self.at_op("(") and self.peek().kind == "word" and self.peek().low in ("select", "with")
        )

    def assignments(self, table: str | None) -> None:
        while True:
            _, col = self.qualified_name()
            self.column_fact(table, col)
            self.expect_op("=")
            self.expr()
            if not self.take_op(","):
                return

    def returning(self) -> None:
        if self.take("returning"):
            self.select_list()

    def update(self) -> None:
        self.expect("update")
        self.take("ignore")
        self.table_ref()
        self.expect("set")
        self.assignments(None)
        if self.take("from"):
            self.from_list()
        if self.take("where"):
            self.expr()
        self.order_limit()
        self.returning()

    def delete(self) -> None:
        self.expect("delete")
        if self.is_name() and not self.at("from"):
            self.name()  # MySQL multi-table "DELETE t FROM ..."
        self.expect("from")
        self.from_list()
        if self.take("using"):
            self.from_list()
        if self.take("where"):
            self.expr()
        self.order_limit()
        self.returning()

    # -- expressions --
    def expr_list(self) -> None:
        while True:
            self.expr()
            if not self.take_op(","):
                return

    def expr(self) -> None:
        self.and_expr()
        while self.take("or", "xor"):
            self.and_expr()

    def and_expr(self) -> None:
        self.not_expr()
        while self.take("and") or self.take_op("&&"):
            self.not_expr()

    def not_expr(self) -> None:
        if self.take("not"):
            self.not_expr()
            return
        self.predicate()

    def predicate(self) -> None:
        self.additive()
        while True:
            if self.take_op("=", "<>", "!=", "<", ">", "<=", ">=", "<=>") or (
                self.dialect == "PostgreSQL" and self.take_op("~", "~*", "!~", "!~*")
            ):
                if self.take("any", "all", "some"):
                    self.expect_op("(")
                    self.query()
                    self.expect_op(")")
                else:
                    self.additive()
                continue
            negated = self.take("not")
            if self.take("in"):
                self.expect_op("(")
                if self.at("select", "with"):
                    self.query()
                else:
                    self.expr_list()
                self.expect_op(")")
            elif self.take("between"):
                self.additive()
                self.expect("and")
                self.additive()
            elif self.at("similar", "like", "ilike", "rlike", "regexp"):
                if self.take("similar"):
                    self.expect("to")
                else:
                    self.i += 1
                self.additive()
                if self.take("escape"):
                    self.additive()
            elif negated:
                self.fail("IN, BETWEEN or LIKE after NOT")
            elif self.take("is"):
                self.take("not")
                if self.take("distinct"):
                    self.expect("from")
                    self.additive()
                else:
                    self.expect("null", "true", "false", "unknown")
            else:
                return

    def additive(self) -> None:
        self.multiplicative()
        while self.take_op("+", "-", "||", "&", "|", "^", "->", "->>"):
            self.multiplicative()

    def multiplicative(self) -> None:
        self.unary()
        while self.take_op("*", "/", "%") or self.take("div", "mod"):
            self.unary()

    def unary(self) -> None:
        if self.take_op("-", "+", "~"):
            self.unary()
            return
        self.primary()
        while True:
            if self.take_op("::"):
                self.type_name()
            elif self.take_op("["):
                self.expr()
                self.expect_op("]")
            elif self.take("collate"):
                self.name()
            else:
                return

    def type_name(self) -> None:
        if self.tok.kind not in ("word", "qname"):
            self.fail("a type name")
        self.i += 1
        while self.tok.kind == "word" and self.tok.low in (
            "precision",
            "varying",
            "unsigned",
            "signed",
            "zone",
            "time",
            "with",
            "without",
        ):
            self.i += 1
        if self.take_op("("):
            self.expr_list()
            self.expect_op(")")
        while self.take_op("["):
            self.expect_op("]")

    def primary(self) -> None:
        t = self.tok
        if t.kind in ("num", "str", "param"):
            self.i += 1
            return
        if t.kind == "op" and t.text == "(":
            self.i += 1
            if self.at("select", "with"):
                self.query()
            else:
                self.expr_list()
            self.expect_op(")")
            return
        if t.kind == "word":
            low = t.low
            if low in (
                "null",
                "true",
                "false",
                "default",
                "current_date",
                "current_time",
                "current_timestamp",
                "localtime",
                "localtimestamp",
                "current_user",
            ):
                self.i += 1
                if self.at_op("("):
                    self.call_args()
                return
            if low == "exists":
                self.i += 1
                self.expect_op("(")
                self.query()
                self.expect_op(")")
                return
            if low == "case":
                self.i += 1
                if not self.at("when"):
                    self.expr()
                if not self.at("when"):
                    self.fail("WHEN")
                while self.take("when"):
                    self.expr()
                    self.expect("then")
                    self.expr()
                if self.take("else"):
                    self.expr()
                self.expect("end")
                return
            if low == "cast" and self.peek().text == "(":
                self.i += 2
                self.expr()
                self.expect("as")
                self.type_name()
                self.expect_op(")")
                return
            if low == "interval":
                self.i += 1
                self.primary()
                if self.tok.kind == "word" and self.tok.low not in _RESERVED:
                    self.i += 1
                return
            if low in ("date", "time", "timestamp") and self.peek().kind == "str":
                self.i += 2
                return
        if (
            t.kind == "qname"
            or (t.kind == "word" and t.low not in _RESERVED)
            or (
                t.kind == "word"
                and t.low in ("left", "right", "replace", "mod")
                and self.peek().text == "("
            )
        ):
            self.i += 1
            if self.at_op("("):
                self.call_args()
                return
            parts = [t.text]
            while self.at_op("."):
                self.i += 1
                if self.take_op("*"):
                    self.column_fact(parts[-1], "(.*)", kind="select")
                    return
                parts.append(self.name())
            # node-sql-parser reports columns read in expressions as select:: authorities,
            # whatever the statement (UPDATE ... WHERE id = 1 reads select::null::id)
            self.column_fact(parts[-2] if len(parts) > 1 else None, parts[-1], kind="select")
            return
        self.fail("an expression")

    def call_args(self) -> None:
        self.expect_op("(")
        if not self.at_op(")"):
            self.take("distinct", "all")
            if not self.take_op("*"):
                self.expr_list()
                if self.at("order") and self.peek().low == "by":
                    self.order_limit()
                if self.take("separator"):
                    self.primary()
        self.expect_op(")")
        if self.take("filter"):
            self.expect_op("(")
            self.expect("where")
            self.expr()
            self.expect_op(")")
        if self.take("over"):
            if self.is_name():
                self.name()
                return
            self.expect_op("(")
            if self.take("partition"):
                self.expect("by")
                self.expr_list()
            if self.at("order"):
                self.order_limit()
            if self.take("rows", "range"):
                self.frame()
            self.expect_op(")")

    def frame(self) -> None:
        between = self.take("between")
        self.frame_bound()
        if between:
            self.expect("and")
            self.frame_bound()

    def frame_bound(self) -> None:
        if self.take("unbounded"):
            self.expect("preceding", "following")
        elif self.take("current"):
            self.expect("row")
        else:
            self.additive()
            self.expect("preceding", "following")


def parse_sql(text: str, dialect: str = "MySQL") -> SqlFacts:
    """Validate ``text`` against the supported subset; raises SqlSyntaxError/SqlUnsupported."""
    toks = tokenize(text, dialect)
    if dialect in _MYSQL_FAMILY:
        for t in toks:
            if t.kind == "word" and t.low == "ilike":
                raise SqlSyntaxError(f"{dialect} has no ILIKE (position {t.pos})")
    return _Parser(toks, dialect).script()


_MYSQL_FAMILY = ("MySQL", "MariaDB")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STANDARD_MODIFIERS = r"(?:all|distinct)"
_MYSQL_MODIFIERS = (
    r"(?:all|distinct(?:row)?|high_priority|straight_join|"
    r"sql_(?:big_result|buffer_result|cache|calc_found_rows|no_cache|small_result))"
)


def _missing_comma_pattern(modifiers: str) -> re.Pattern[str]:
    return re.compile(
        rf"\bselect\s+(?:{modifiers}\s+)*(?!{modifiers}\b){_IDENT}\s+{_IDENT}\s+from\b",
        re.IGNORECASE,
    )


_MISSING_COMMA = {
    "standard": _missing_comma_pattern(_STANDARD_MODIFIERS),
    "mysql": _missing_comma_pattern(_MYSQL_MODIFIERS),
}


def _end_of_quoted(sql: str, start: int, quote: str) -> int:
    close = "]" if quote == "[" else quote
    i = start + 1
    while i < len(sql):
        if close != "]" and sql[i] == "\\":
            i += 2
            continue
        if sql[i] == close:
            if sql[i + 1 : i + 2] == close:
                i += 2
                continue
            return i + 1
        i += 1
    return len(sql)


def _without_quotes_and_comments(sql: str, dialect: str) -> str:
    """``sql`` with quoted text replaced by `` ? `` and comments by a space (promptfoo's
    heuristics run on this)."""
    out: list[str] = []
    plain, i = 0, 0
    brackets = dialect in ("TransactSQL", "SQLite")
    while i < len(sql):
        ch = sql[i]
        end: int | None = None
        repl = " "
        if ch in "'\"`" or (ch == "[" and brackets):
            end, repl = _end_of_quoted(sql, i, ch), " ? "
        elif sql.startswith("--", i) or ch == "#":
            end = i + 1
            while end < len(sql) and sql[end] not in "\r\n":
                end += 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end = len(sql) if close == -1 else close + 2
        elif ch == "$":
            m = _DOLLAR_QUOTE.match(sql, i)
            if m:
                close = sql.find(m.group(), i + len(m.group()))
                end, repl = (len(sql) if close == -1 else close + len(m.group())), " ? "
        if end is None:
            i += 1
            continue
        out += [sql[plain:i], repl]
        i = plain = end
    out.append(sql[plain:])
    return "".join(out)


def heuristic_problem(text: str, dialect: str) -> bool:
    """promptfoo's extra rejections before parsing: empty text, an odd number of backticks,
    ``SELECT a b FROM`` (a likely missing comma), ``generate_series(`` in MySQL."""
    sql = text.strip()
    if not sql or sql.count("`") % 2:
        return True
    family = "mysql" if dialect in _MYSQL_FAMILY else "standard"
    if _MISSING_COMMA[family].search(_without_quotes_and_comments(sql, dialect)):
        return True
    return dialect == "MySQL" and re.search(r"\bgenerate_series\s*\(", sql, re.I) is not None


@dataclasses.dataclass(frozen=True)
class _SqlOptions:
    dialect: str
    tables: list[str] | None
    columns: list[str] | None


def _options(call: AssertionCall) -> _SqlOptions:
    value = call.value
    if value is None or value == "":
        return _SqlOptions("MySQL", None, None)
    if not isinstance(value, dict):
        raise AssertionConfigError(
            f'"{type_name(call)}" assertion must have an object value; got '
            f"{describe_value(value)}. Fix: `value: {{databaseType: PostgreSQL, allowedTables: "
            "['select::null::users']}` or no value."
        )
    unknown = set(value) - {"databaseType", "allowedTables", "allowedColumns"}
    if unknown:
        raise AssertionConfigError(
            f'"{type_name(call)}" value has unknown keys {sorted(unknown)}; allowed: '
            "databaseType, allowedTables, allowedColumns."
        )
    raw_db = value.get("databaseType") or "MySQL"
    dialect = _DIALECTS.get(str(raw_db).lower())
    if dialect is None:
        supported = ", ".join(sorted(set(_DIALECTS.values())))
        raise AssertionConfigError(
            f'"{type_name(call)}" databaseType {raw_db!r} is not supported by the built-in SQL '
            f"validator. Supported: {supported}."
        )
    lists: dict[str, list[str] | None] = {}
    for key in ("allowedTables", "allowedColumns"):
        raw = value.get(key)
        if raw is None:
            lists[key] = None
            continue
        if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
            raise AssertionConfigError(
                f'"{type_name(call)}" {key} must be a list of strings such as '
                "'select::null::users' (or plain names)."
            )
        for entry in raw:
            if "::" in entry:
                try:
                    re.compile(entry)
                except re.error as exc:
                    raise AssertionConfigError(
                        f'"{type_name(call)}" {key} entry {entry!r} is not a valid pattern: {exc}.'
                    ) from None
        entries = list(raw)
        if key == "allowedColumns":  # promptfoo also allows type::null::col for type::t::col
            for entry in raw:
                parts = entry.split("::")
                if len(parts) == 3 and parts[1] != "null":
                    alt = f"{parts[0]}::null::{parts[2]}"
                    if alt not in entries:
                        entries.append(alt)
        lists[key] = entries
    return _SqlOptions(dialect, lists["allowedTables"], lists["allowedColumns"])


def _allowed(authority: str, entries: list[str]) -> bool:
    for entry in entries:
        if "::" in entry:
            if re.fullmatch(entry, authority, re.IGNORECASE):
                return True
        elif authority.rsplit("::", 1)[-1].lower() in (entry.lower(), "(.*)"):
            return True
    return False


def judge_sql(call: AssertionCall, text: str) -> GradingResult:
    """Validate ``text`` as SQL under the assertion's options and apply ``not-``."""
    opts = _options(call)
    reasons: list[str] = []
    if heuristic_problem(text, opts.dialect):
        reasons.append(
            f"SQL statement does not conform to the provided {opts.dialect} database syntax."
        )
    try:
        facts = parse_sql(text, opts.dialect)
    except SqlUnsupported as exc:
        raise AssertionConfigError(
            f'"{type_name(call)}" cannot judge a {exc} statement: the built-in SQL validator '
            "supports SELECT, WITH, INSERT, UPDATE and DELETE. Use a `python` assertion for "
            "other statements."
        ) from None
    except SqlSyntaxError as exc:
        facts = None
        reasons.append(
            f"SQL statement does not conform to the provided {opts.dialect} database syntax "
            f"({exc})."
        )
    except RecursionError:
        facts = None
        reasons.append("SQL statement is nested too deeply to validate.")
    if facts is not None:
        for label, entries, found in (
            ("table", opts.tables, facts.tables),
            ("column", opts.columns, facts.columns),
        ):
            if entries is None:
                continue
            bad = sorted(a for a in found if not _allowed(a, entries))
            if bad:
                reasons.append(
                    f"SQL validation failed: authority {', '.join(repr(b) for b in bad)} "
                    f"is not in the allowed {label} list."
                )
    valid = not reasons
    passed = valid != call.inverse
    if passed:
        return GradingResult(passed=True, score=1.0, reason=PASSED)
    reason = "The output SQL statement is valid" if call.inverse else " ".join(reasons)
    return GradingResult(passed=False, score=0.0, reason=reason)


_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})(.*)$")


def sql_code_blocks(text: str) -> list[str]:
    """Bodies of the fenced code blocks (``` or ~~~) tagged ``sql`` or untagged, in order;
    a block closes at a bare fence of the same character at least as long."""
    blocks: list[str] = []
    open_fence: tuple[str, int, bool] | None = None
    body: list[str] = []
    for line in re.split(r"\r\n?|\n", text):
        m = _FENCE.match(line)
        if open_fence is None:
            if m:
                info = m.group(2).strip().lower()
                open_fence = (m.group(1)[0], len(m.group(1)), info in ("", "sql"))
                body = []
            continue
        closes = m and not m.group(2).strip(" \t") and m.group(1)[0] == open_fence[0]
        if m and closes and len(m.group(1)) >= open_fence[1]:
            if open_fence[2]:
                blocks.append("\n".join(body).strip())
            open_fence = None
            continue
        body.append(line)
    return blocks


def handle_is_sql(call: AssertionCall) -> GradingResult:
    """``is-sql``: the whole output is valid SQL (see the module doc for the subset)."""
    return judge_sql(call, output_text(call.output))


def handle_contains_sql(call: AssertionCall) -> GradingResult:
    """``contains-sql``: some ``sql`` (or untagged) fenced block is valid SQL, tried in
    order; without such blocks, the whole output."""
    text = output_text(call.output)
    candidates = sql_code_blocks(text) or [text]
    plain = dataclasses.replace(call, inverse=False)
    reason = "Output does not contain valid SQL"
    found = False
    for candidate in candidates:
        if not candidate.strip():
            continue
        result = judge_sql(plain, candidate)
        if result.passed:
            found = True
            break
        reason = result.reason
    passed = found != call.inverse
    if passed:
        return GradingResult(passed=True, score=1.0, reason=PASSED)
    return GradingResult(
        passed=False, score=0.0, reason="The output SQL statement is valid" if found else reason
    )


HANDLERS: dict[str, BuiltinHandler] = {
    "is-sql": handle_is_sql,
    "contains-sql": handle_contains_sql,
}
