"""SQL built from values in every form tests/test_sql_is_parameterised.py must flag: the scan has
to report each line marked ``# flag``, and no other. Read as text by that test, never run."""

RAISE_END = "UPDATE records JOIN ({reported}) AS r ON r.k = records.sid SET endTime = r.t"
BY_USER = "SELECT * FROM records WHERE user = '%s'"
SAFE_COLUMNS = "sid, node, user"


def f_string(cursor, user):
    cursor.execute(f"SELECT * FROM records WHERE user = '{user}'")  # flag


def percent_on_text(cursor, user, label):
    cursor.execute("SELECT * FROM records WHERE user = '%s'" % user)  # flag
    cursor.execute("SELECT * FROM records WHERE user = '%s' AND process = '%s'" % (user, label))  # flag


def format_on_text(cursor, user):
    cursor.execute("DELETE FROM records WHERE user = '{}'".format(user))  # flag


def concatenation(cursor, user):
    cursor.execute("select * from records where user = '" + user + "'")  # flag


def a_condition_alone(user):
    return f"user = '{user}'"  # flag


def through_a_local(user):
    where = user
    return f"SELECT 1 FROM records WHERE user = {where}"  # flag


def an_attribute(report):
    return f"UPDATE nodes SET cfg = {report.cfg}"  # flag


def joined_values(values):
    return f"INSERT INTO records VALUES ({', '.join(values)})"  # flag


def format_on_a_named_template(cursor, user):
    cursor.execute(RAISE_END.format(reported=user))  # flag


def format_on_a_named_template_with_a_mapping(cursor, values):
    cursor.execute(RAISE_END.format(**values))  # flag


def percent_on_a_named_template(cursor, user):
    cursor.execute(BY_USER % user)  # flag


def percent_on_a_named_template_with_a_tuple(cursor, user):
    cursor.execute(BY_USER % (user,))  # flag


def format_on_a_template_passed_in(cursor, statement, user):
    # The form of hub/storage/mariadb.py's _raise_times, with a value where placeholders belong.
    cursor.execute(statement.format(reported=user))  # flag


def format_on_a_template_attribute(cursor, dialect, column):
    cursor.execute(dialect.count_sql.format(column=column))  # flag


def appended_to_sql(cursor, user, clauses):
    sql = f"SELECT {SAFE_COLUMNS} FROM records"
    sql += " WHERE user = '" + user + "'"  # flag
    sql += clauses[0]  # flag
    sql += f" LIMIT {len(clauses)}"  # flag
    cursor.execute(sql)


def appended_to_a_query_named_so(cursor, user):
    query = build()
    query += user  # flag
    cursor.execute(query)


def build():
    return "SELECT 1"
