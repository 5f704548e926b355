//! Building SQL filters from values that come from outside: every quote is
//! escaped here and nowhere else.

/// Quotes a value for an SQL filter.
pub fn sql_str(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `column = 'value'` when the filter is set: the one way an optional exact
/// match narrows a query.
pub fn sql_eq(column: &str, value: Option<&str>) -> Option<String> {
    value.map(|v| format!("{column} = {}", sql_str(v)))
}

/// A UTC time as a literal a timestamp column compares with.
pub fn sql_time(t: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "arrow_cast('{}', 'Timestamp(Microsecond, Some(\"UTC\"))')",
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

/// `column IN (...)` for a set of string values.
pub fn sql_in<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = values.into_iter().map(sql_str).collect();
    format!("{column} IN ({})", list.join(", "))
}

/// Escapes `LIKE`'s wildcards (`%`, `_`) and its escape character, so a
/// value from outside matches only itself inside a pattern used with
/// `ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Rows whose `column` begins with `prefix`, taken literally.
pub fn starts_with_sql(column: &str, prefix: &str) -> String {
    format!(
        "{column} LIKE {} ESCAPE '\\'",
        sql_str(&format!("{}%", like_escape(prefix)))
    )
}

/// Rows whose key (`<client>:<id>`, rule 40) in `column` is `given`, begins
/// with it, or whose client's own id begins with it: how a person names a
/// session (`3ae3ab59` finds `<client>:3ae3ab59-...`).
pub fn key_or_prefix_sql(column: &str, given: &str) -> String {
    let escaped = like_escape(given);
    format!(
        "({column} = {} OR {column} LIKE {} ESCAPE '\\' OR {column} LIKE {} ESCAPE '\\')",
        sql_str(given),
        sql_str(&format!("{escaped}%")),
        sql_str(&format!("%:{escaped}%"))
    )
}

/// Rows whose key in `column` is some client's `<client>:<given>`: an id
/// held from before keys were scoped by client.
pub fn scoped_key_sql(column: &str, given: &str) -> String {
    format!(
        "{column} LIKE {} ESCAPE '\\'",
        sql_str(&format!("%:{}", like_escape(given)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(sql_str("it's"), "'it''s'");
        assert_eq!(sql_eq("host", Some("it's")), Some("host = 'it''s'".into()));
        assert_eq!(sql_eq("host", None), None);
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(
            starts_with_sql("host", "ci_%"),
            r"host LIKE 'ci\_\%%' ESCAPE '\'"
        );
        assert_eq!(
            key_or_prefix_sql("id", "ses_1"),
            r"(id = 'ses_1' OR id LIKE 'ses\_1%' ESCAPE '\' OR id LIKE '%:ses\_1%' ESCAPE '\')"
        );
        assert_eq!(scoped_key_sql("id", "a'b"), r"id LIKE '%:a''b' ESCAPE '\'");
    }
}
