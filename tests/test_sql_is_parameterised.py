"""No SQL is built by string formatting with values: values travel as parameters, always.

An AST scan of the programs and benchmarks finds string building (f-strings, ``%``, ``.format``,
``+``, ``+=``) whose text looks like SQL, and checks what is spliced into it. SQL is text that
looks like it, and a *template*: a name or attribute assigned such text anywhere in the module
(``RAISE_END = "UPDATE ... {reported}"``, ``sql = "SELECT ..."``), or named for it (``sql``,
``statement``, ``query``, ``template``, ``*_SQL``), such as a parameter that receives a template.
Allowed: constants, UPPER_CASE module constants (table and column lists), placeholder builders
(``_marks(n)``, ``", ".join("?" * n)``), locals assigned only from those, and the few reviewed
expressions below. Anything else, a value above all, fails the test with its file and line.
tests/sql_forms_to_flag.py holds the forms the scan must flag. The tests themselves are not
scanned: their fixtures name throwaway databases, which SQL cannot take as parameters.
"""
from __future__ import annotations

import ast
import re

import pytest

from tests.processes import REPO

SCANNED = ("common", "hub", "node", "bench")
# Statements start with these; clause words in upper case, as this project writes SQL; and a
# comparison with an opening quote right before a spliced value (`user = '{x}'`).
STATEMENT = re.compile(r"^\s*(select|insert|update|delete|replace|create|drop|alter|with)\s", re.I)
CLAUSE = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|VALUES|SET|JOIN|GROUP BY|ORDER BY|"
                    r"HAVING|LIMIT|AND|OR|IN|LIKE)\b")
QUOTED_VALUE = re.compile(r"(=|<|>|<>|!=|\bLIKE|\bIN\s*\()\s*'$", re.I)
TEMPLATE_NAME = re.compile(r"(^|_)(sql|statement|stmt|query|template)s?(_|$)", re.I)
PLACEHOLDER_BUILDERS = {"_marks"}
# (file, function) -> spliced expressions a person checked, and why they can never carry a value.
REVIEWED = {
    ("hub/storage/base.py", "usage_query"): {
        # Column names, each looked up in GROUP_COLUMNS by group_columns(), which rejects others.
        "keys",
        # The Dialect's SUM template, filled with column names and placeholders only.
        "seconds",
        # The conditions built above, each a column, an operator and a placeholder.
        "' AND '.join(conditions)",
        # The Dialect's fixed index hint for reports with a start (a constant per backend).
        "hint",
    },
    # Identifiers and column definitions taken from the DDL constants of hub/storage (records.sql,
    # sqlite.SCHEMA), never from input: ALTER TABLE cannot take them as parameters.
    ("hub/storage/schema.py", "_table_upgrade"): {"table.name", "column", "definition", "clause"},
    # A VALUES table: its name and column list from the callers (constants), one row of
    # placeholders per row.
    ("hub/answers/base.py", "values_cte"): {"', '.join([row] * len(rows))", "name"},
    # The time placeholder, and ranges of startTime each made of two of them.
    ("hub/answers/base.py", "overlapping"): {"tp", "starts"},
    # In the answer queries below: placeholders (mark, tp, dp and the Dialect's *_param), rows of
    # placeholders, the Dialect's index hints and row lock, CTEs built by values_cte, WHERE
    # conditions built by overlapping, column names from KEY_COLUMNS, COUNTED or MEASURES, and the
    # roll-up's own table and column names (ROLLUP_TABLES, RollupTable constants).
    ("hub/answers/inventory.py", "last_used"): {"mark", "dialect.time_param", "hint"},
    ("hub/answers/inventory.py", "running_now"): {"dialect.since_hint", "dialect.time_param"},
    ("hub/answers/peak.py", "histogram_sql"): {
        "', '.join([mark] * len(labels))", "cte", "end", "seconds(dialect, 't', 't2')",
        "start", "who", "' ' + hint if hint else ''", "where"},
    ("hub/answers/peak.py", "rolled_tops_sql"): {
        "', '.join([mark] * len(labels))", "cte", "dp", "mark"},
    ("hub/answers/peak.py", "rolled_over_sql"): {"days_cte", "owned_cte", "mark"},
    ("hub/answers/rollup.py", "refresh"): {"dialect.lock_rows", "mark"},
    ("hub/answers/rollup.py", "delete_old_sessions"): {
        "mark", "storage.dialect.time_param", "', '.join([mark] * len(ids))"},
    ("hub/answers/rollup.py", "_reset"): {"table"},
    ("hub/answers/rollup.py", "_set_state"): {"mark"},
    ("hub/answers/rollup.py", "_longest_stored"): {"seconds(dialect, 'startTime', 'endTime')"},
    # One row per stretch key: placeholders, a date or time placeholder from the Dialect.
    ("hub/answers/rollup.py", "_names"): {"mark", "param"},
    ("hub/answers/rollup.py", "_compute"): {
        "table", "dp", "tp", "measures", "summed", "', '.join([dp] * len(todo))"},
    # The statements _compute makes: a table with its column list, the columns it takes (constants
    # and placeholders), the query of raw_usage_sql or histogram_sql, the derived table of _names.
    ("hub/answers/rollup.py", "_insert"): {"into", "picked", "sql", "named"},
    ("hub/answers/usage.py", "rolled_usage_sql"): {
        "', '.join(ctes)", "group", "table.name", "table.unit", "' AND '.join(conditions)"},
    # Aliases g0.. of columns from KEY_COLUMNS, the slots CTE of placeholders, the Dialect's
    # templates (hint, time placeholder, GREATEST/LEAST and seconds of column names, also in a
    # piece's share of its session's measured seconds), overlapping's condition, the measures
    # named after USAGE_COLUMNS.
    ("hub/answers/usage.py", "raw_usage_sql"): {
        "', '.join(picked + ['s.k AS k'])", "cte", "end", "group", "start",
        "seconds(dialect, fresh, 'b')", "where", "named",
        "' ' + hint if hint else ''"},
    # The rows of a derived table: the statement's first row from FIRST_REPORTED_ROW and rows of
    # placeholders from _marks, nothing else.
    ("hub/storage/mariadb.py", "_raise_times"): {"rows"},
    # Database names cannot be parameters; the benchmarks make them, "procmesh_bench_" plus hex.
    ("bench/harness.py", "create_database"): {"name"},
    ("bench/harness.py", "drop_database"): {"name"},
}


def looks_like_sql(text: str) -> bool:
    return bool(STATEMENT.match(text) or CLAUSE.search(text))


def holds_sql(value: ast.expr) -> bool:
    """Text that looks like SQL: a string, an f-string or a concatenation with such text in it."""
    if _is_text(value):
        return looks_like_sql(value.value)
    if isinstance(value, ast.JoinedStr):
        return looks_like_sql("".join(str(v.value) for v in value.values if isinstance(v, ast.Constant)))
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        return any(holds_sql(o) for o in _concatenated(value))
    return False


def sql_templates(tree: ast.AST) -> set[str]:
    """Names and attributes assigned SQL text anywhere in the module, or keyword arguments given it."""
    names: set[str] = set()
    for node in ast.walk(tree):
        pairs: list[tuple[ast.expr | None, ast.expr | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(target, node.value) for target in node.targets]
        elif isinstance(node, ast.AnnAssign):
            pairs = [(node.target, node.value)]
        elif isinstance(node, ast.keyword) and node.arg:
            names.update([node.arg] if holds_sql(node.value) else [])
        for target, value in pairs:
            if value is not None and holds_sql(value) and isinstance(target, (ast.Name, ast.Attribute)):
                names.add(target.id if isinstance(target, ast.Name) else target.attr)
    return names


class SqlScan(ast.NodeVisitor):
    """Collects ``line: expression`` for every value-like expression spliced into SQL text."""

    def __init__(self, reviewed_in: dict[str, set[str]] | None = None,
                 templates: set[str] | None = None) -> None:
        self.findings: list[str] = []
        self._reviewed_in = reviewed_in or {}
        self._templates = templates or set()
        self._function = ""
        self._assignments: dict[str, list[ast.expr]] = {}

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = (self._function, self._assignments)
        self._function = node.name
        self._assignments = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        self._assignments.setdefault(target.id, []).append(sub.value)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                self._assignments.setdefault(sub.target.id, []).append(sub.value)
        self.generic_visit(node)
        self._function, self._assignments = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        spliced = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        before_each = []
        literal = ""
        for part in node.values:
            if isinstance(part, ast.Constant):
                literal += str(part.value)
            else:
                before_each.append(literal)
                literal = ""
        if looks_like_sql(text) or any(QUOTED_VALUE.search(b) for b in before_each):
            self._check(node, spliced)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mod) and ((_is_text(node.left) and looks_like_sql(node.left.value))
                                             or self._is_template(node.left)):
            values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            self._check(node, values)
        elif isinstance(node.op, ast.Add):
            operands = _concatenated(node)
            if any(_is_text(o) and looks_like_sql(o.value) for o in operands):
                self._check(node, [o for o in operands if not _is_text(o)])
                return   # the operands are checked; their inner BinOps would repeat the finding
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "format"
                and ((_is_text(func.value) and looks_like_sql(func.value.value))
                     or self._is_template(func.value))):
            self._check(node, [*node.args, *(k.value for k in node.keywords)])
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # sql += ...: whatever is appended to SQL is spliced into it.
        if isinstance(node.op, ast.Add) and self._is_template(node.target):
            self._check(node, [node.value])
        self.generic_visit(node)

    def _is_template(self, node: ast.expr) -> bool:
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        return name is not None and (name in self._templates or TEMPLATE_NAME.search(name) is not None)

    def _check(self, node: ast.AST, spliced: list[ast.expr]) -> None:
        reviewed = self._reviewed_in.get(self._function, set())
        for value in spliced:
            if not self._safe(value, reviewed, depth=0):
                self.findings.append(f"{node.lineno}: {ast.unparse(value)}")

    def _safe(self, value: ast.expr, reviewed: set[str], depth: int) -> bool:
        if depth > 8:
            return False
        if ast.unparse(value) in reviewed or isinstance(value, ast.Constant):
            return True
        if isinstance(value, ast.FormattedValue):
            return self._safe(value.value, reviewed, depth + 1)
        if isinstance(value, ast.Name):
            if value.id.isupper():   # a module constant, by the project's naming
                return True
            assigned = self._assignments.get(value.id)
            return bool(assigned) and all(self._safe(v, reviewed, depth + 1) for v in assigned)
        if isinstance(value, ast.Attribute):
            return value.attr.isupper()
        if isinstance(value, ast.JoinedStr):
            return all(self._safe(v, reviewed, depth + 1) for v in value.values)
        if isinstance(value, ast.IfExp):
            return self._safe(value.body, reviewed, depth + 1) and self._safe(value.orelse, reviewed, depth + 1)
        if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
            return all(self._safe(o, reviewed, depth + 1) for o in _concatenated(value))
        if isinstance(value, ast.Call):
            return _placeholder_call(value)
        return False


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _concatenated(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _concatenated(node.left) + _concatenated(node.right)
    return [node]


def _placeholder_call(call: ast.Call) -> bool:
    """``_marks(n)``, or ``"<sep>".join(...)`` of constant text repeated (``* n``) and put together
    (``+``), such as ``", ".join("?" * n)`` or ``" UNION ".join(["SELECT %s"] + ["SELECT %s"] * n)``:
    placeholders only."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in PLACEHOLDER_BUILDERS
    return (isinstance(func, ast.Attribute) and func.attr == "join" and _is_text(func.value)
            and len(call.args) == 1 and isinstance(call.args[0], ast.BinOp) and _constant_texts(call.args[0]))


def _constant_texts(node: ast.expr) -> bool:
    """Constant text, lists of it, repetitions (``* n``, whatever n) and sums of those."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _constant_texts(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _constant_texts(node.left) and _constant_texts(node.right)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_text(item) for item in node.elts)
    return _is_text(node)


def scan(source: str, reviewed_in: dict[str, set[str]] | None = None) -> list[str]:
    tree = ast.parse(source)
    visitor = SqlScan(reviewed_in=reviewed_in, templates=sql_templates(tree))
    visitor.visit(tree)
    # A splice seen both as SQL text and as appended to a template is one finding.
    return list(dict.fromkeys(visitor.findings))


def reviewed_for(relative: str) -> dict[str, set[str]]:
    return {function: names for (path, function), names in REVIEWED.items() if path == relative}


def test_no_sql_in_the_project_is_built_from_values() -> None:
    findings = []
    for package in SCANNED:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            findings += [f"{relative}:{finding}"
                         for finding in scan(path.read_text(encoding="utf-8"), reviewed_for(relative))]
    assert findings == [], "SQL built from values; pass them as parameters instead:\n" + "\n".join(findings)


def test_every_reviewed_exception_is_still_needed() -> None:
    # An exception whose code is gone must go too, or it would quietly allow a value one day.
    for (relative, function), names in REVIEWED.items():
        source = (REPO / relative).read_text(encoding="utf-8")
        for name in names:
            others = {f: n - {name} for f, n in reviewed_for(relative).items()}
            assert scan(source, others), f"{relative}: {function}: {name!r} is not needed any more"


def test_the_scan_flags_every_form_in_its_fixture_and_nothing_else() -> None:
    source = (REPO / "tests" / "sql_forms_to_flag.py").read_text(encoding="utf-8")
    marked = {number for number, line in enumerate(source.splitlines(), start=1) if line.endswith("# flag")}
    flagged = [int(finding.split(":", 1)[0]) for finding in scan(source)]
    assert sorted(set(flagged)) == sorted(marked), scan(source)


@pytest.mark.parametrize("good", [
    "cursor.execute(\"SELECT * FROM records WHERE user = %s\", (user,))",
    "SQL = f\"INSERT INTO records ({SESSION_COLUMNS}) VALUES ({_marks(8)})\"",
    "SQL = f\"INSERT INTO nodes ({NODE_COLUMNS}) VALUES ({', '.join('?' * 10)})\"",
    "def f(chunk):\n    cases = ' '.join(['WHEN %s THEN %s'] * len(chunk))\n"
    "    return f'UPDATE records SET endTime = CASE sid {cases} END'",
    "log.info(f'node joined: {node} from {address}')",
    # hub/storage/mariadb.py's forms: a template passed in, filled with placeholders only.
    "def f(statement, chunk):\n"
    "    rows = ' UNION ALL '.join(['SELECT %s AS k'] + ['SELECT %s'] * (len(chunk) - 1))\n"
    "    return statement.format(reported=rows)",
    "def f(conditions):\n    sql = 'SELECT 1 FROM records'\n    sql += ' WHERE ' + ' AND '.join(['x = ?'] * 3)\n"
    "    sql += ' ORDER BY x'\n    return sql",
    "message = f'cannot read from {path}: {reason}'",
])
def test_the_scan_lets_parameters_and_constants_through(good: str) -> None:
    assert scan(good) == []


def test_a_reviewed_expression_counts_only_in_its_own_function() -> None:
    source = ("def usage_query(keys):\n    return f'SELECT {keys} FROM records'\n"
              "def other(keys):\n    return f'SELECT {keys} FROM records'\n")
    assert scan(source, {"usage_query": {"keys"}}) == ["4: keys"]
