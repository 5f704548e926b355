//! Search filters and their translation to the SQL predicate both arms push
//! down, so "no results" and "filters excluded everything" can be told apart.

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::Role;
use crate::search::documents::KIND_NAMES;
use crate::store::{sql_str, sql_time};

/// What narrows a search. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub clients: Vec<String>,
    /// Substring of the session's working directory.
    pub project: Option<String>,
    pub hosts: Vec<String>,
    pub roles: Vec<String>,
    pub kinds: Vec<String>,
    pub tools: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// A session id or a prefix of one.
    pub session: Option<String>,
    /// What the caller may see at all (a token's limits).
    pub within: crate::access::Limits,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    #[error("unknown --kind `{0}`; expected one of: {kinds}", kinds = KIND_NAMES.join(", "))]
    Kind(String),
    #[error("unknown --role `{0}`; expected one of: user, assistant, system, tool, developer")]
    Role(String),
    #[error(
        "cannot read `{0}` as a time: use a date (2026-11-01), an RFC 3339 time, or an age such as 7d, 12h, 2w"
    )]
    Time(String),
    #[error("--since {since} is after --until {until}")]
    EmptyRange { since: String, until: String },
}

impl Filters {
    pub fn validate(&self) -> Result<(), FilterError> {
        if let Some(k) = self
            .kinds
            .iter()
            .find(|k| !KIND_NAMES.contains(&k.as_str()))
        {
            return Err(FilterError::Kind(k.clone()));
        }
        if let Some(r) = self.roles.iter().find(|r| Role::parse(r).is_none()) {
            return Err(FilterError::Role(r.clone()));
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(FilterError::EmptyRange {
                since: since.to_rfc3339(),
                until: until.to_rfc3339(),
            });
        }
        Ok(())
    }

    /// Whether the filter keeps every row of a message or only some parts.
    pub fn selects_parts(&self) -> bool {
        !self.kinds.is_empty() || !self.tools.is_empty()
    }

    /// The predicate, or `None` when nothing is filtered.
    pub fn to_sql(&self) -> Option<String> {
        let mut clauses = Vec::new();
        let any_of = |column: &str, values: &[String]| match values {
            [] => None,
            [one] => Some(format!("{column} = {}", sql_str(one))),
            many => Some(format!(
                "{column} IN ({})",
                many.iter()
                    .map(|v| sql_str(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        clauses.extend(any_of("client", &self.clients));
        clauses.extend(any_of("host", &self.hosts));
        clauses.extend(any_of("role", &self.roles));
        clauses.extend(any_of("kind", &self.kinds));
        clauses.extend(any_of("tool", &self.tools));
        if let Some(p) = &self.project {
            // `contains`, not `LIKE '%…%'`: the n-gram index answers it.
            clauses.push(format!("contains(project, {})", sql_str(p)));
        }
        if let Some(s) = &self.session {
            // A key's prefix, or the client's own id's (rule 40).
            clauses.push(crate::store::key_or_prefix_sql("session_id", s));
        }
        clauses.extend(self.within.to_sql());
        if let Some(t) = self.since {
            clauses.push(format!("timestamp >= {}", sql_time(t)));
        }
        if let Some(t) = self.until {
            clauses.push(format!("timestamp <= {}", sql_time(t)));
        }
        (!clauses.is_empty()).then(|| clauses.join(" AND "))
    }
}

/// Reads `--since`/`--until`: a date (midnight UTC), an RFC 3339 time, or an
/// age before `now` such as `7d`, `36h` or `2w`.
pub fn parse_time(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, FilterError> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    let age = humantime::parse_duration(s).map_err(|_| FilterError::Time(input.to_string()))?;
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(|| FilterError::Time(input.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_one_predicate() {
        let f = Filters {
            clients: vec!["codex".into()],
            kinds: vec!["tool-result".into(), "text".into()],
            project: Some("my_app".into()),
            ..Filters::default()
        };
        assert_eq!(
            f.to_sql().as_deref(),
            Some(
                "client = 'codex' AND kind IN ('tool-result', 'text') AND contains(project, 'my_app')"
            )
        );
        assert_eq!(Filters::default().to_sql(), None);
    }

    #[test]
    fn quotes_cannot_escape_the_literal() {
        let f = Filters {
            hosts: vec!["a' OR '1'='1".into()],
            ..Filters::default()
        };
        assert_eq!(f.to_sql().as_deref(), Some("host = 'a'' OR ''1''=''1'"));
    }

    #[test]
    fn times_are_dates_instants_or_ages() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time("7d", now).unwrap().to_rfc3339(),
            "2026-11-18T12:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-01", now).unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("yesterday", now),
            Err(FilterError::Time("yesterday".into()))
        );
    }

    #[test]
    fn bad_kinds_roles_and_ranges_are_refused() {
        let bad_kind = Filters {
            kinds: vec!["tool".into()],
            ..Filters::default()
        };
        assert!(matches!(bad_kind.validate(), Err(FilterError::Kind(_))));
        let bad_role = Filters {
            roles: vec!["robot".into()],
            ..Filters::default()
        };
        assert!(matches!(bad_role.validate(), Err(FilterError::Role(_))));
        let now = Utc::now();
        let inverted = Filters {
            since: Some(now),
            until: Some(now - chrono::Duration::days(1)),
            ..Filters::default()
        };
        assert!(matches!(
            inverted.validate(),
            Err(FilterError::EmptyRange { .. })
        ));
    }
}
