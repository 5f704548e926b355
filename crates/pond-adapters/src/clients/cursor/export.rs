//! Markdown files made by Cursor's "Export chat": cut at their headings.

use super::*;

// ---------------------------------------------------------------------------
// Markdown exports

/// Session id of an export: its header names nothing else, and hashing it
/// gives the same id on every host that has the file.
pub(super) fn export_session(header: &str) -> String {
    let header = header.split("**User**").next().unwrap_or(header);
    let digest = hex(&Sha256::digest(header.trim().as_bytes()));
    format!("cursor-export-{}", &digest[..16])
}

/// A section heading: `**User**` or `**Cursor**` alone on its line.
pub(super) fn heading(line: &str) -> Option<Role> {
    match line.trim() {
        "**User**" => Some(Role::User),
        "**Cursor**" => Some(Role::Assistant),
        _ => None,
    }
}

/// Cuts an export before each heading that follows a `---` line (or
/// starts the buffer), so a heading-like line inside a message does not
/// split it. Without `at_eof` the last section may still grow and waits.
pub(super) fn cut_export(buf: &[u8], at_eof: bool) -> Vec<usize> {
    let mut starts = vec![0usize];
    let mut prev_rule = true;
    let mut at = 0;
    for line in buf.split_inclusive(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        if at > 0 && prev_rule && heading(&text).is_some() {
            starts.push(at);
        }
        let t = text.trim();
        if !t.is_empty() {
            prev_rule = t == "---";
        }
        at += line.len();
    }
    let mut lengths: Vec<usize> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let last = starts.last().copied().unwrap_or(0);
    if at_eof && last < buf.len() {
        lengths.push(buf.len() - last);
    }
    lengths.retain(|n| *n > 0);
    lengths
}

pub(super) fn export_record(ctx: RecordContext<'_>, text: &str) -> Interpretation {
    let mut lines = text.lines();
    let first = lines.by_ref().find(|l| !l.trim().is_empty()).unwrap_or("");
    if let Some(role) = heading(first) {
        let body: Vec<&str> = lines.collect();
        let mut body = body.join("\n");
        let trimmed = body.trim_end();
        let trimmed = trimmed.strip_suffix("---").unwrap_or(trimmed);
        body = trimmed.trim().to_string();
        let message = record_message(
            ctx,
            line_id(ctx),
            role,
            None,
            None,
            vec![Part::text(PartKind::Text, body)],
        );
        return Interpretation::message(SessionFacts::default(), message);
    }
    if !text.contains(EXPORT_MARK) {
        return Interpretation::unknown();
    }
    let mut facts = SessionFacts {
        title: text
            .lines()
            .find_map(|l| l.trim().strip_prefix("# "))
            .map(|t| t.trim().to_string()),
        ..SessionFacts::default()
    };
    // The export time bounds the chat's end, not its start.
    facts.last_seen = text.lines().find_map(export_time);
    Interpretation::facts(facts)
}

/// `_Exported on 7/15/2025 at 10:22:33 GMT+2 from Cursor (1.2.4)_`: US
/// date, 24-hour time, `GMT±H[:MM]`. Other locales give no time.
pub(super) fn export_time(line: &str) -> Option<DateTime<Utc>> {
    let rest = line.trim().strip_prefix(EXPORT_MARK)?;
    let (date, rest) = rest.split_once(" at ")?;
    let mut words = rest.split_whitespace();
    let time = words.next()?;
    let zone = words.next()?;
    let naive = chrono::NaiveDateTime::parse_from_str(
        &format!("{} {}", date.trim(), time),
        "%m/%d/%Y %H:%M:%S",
    )
    .ok()?;
    let offset = zone
        .strip_prefix("GMT")
        .or_else(|| zone.strip_prefix("UTC"))?;
    let seconds = if offset.is_empty() {
        0
    } else {
        let (sign, digits) = match (offset.strip_prefix('+'), offset.strip_prefix('-')) {
            (Some(d), _) => (1, d),
            (_, Some(d)) => (-1, d),
            _ => return None,
        };
        let (h, m) = digits.split_once(':').unwrap_or((digits, "0"));
        // Real zones are within ±14:00; anything else is not a zone.
        let (h, m) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        sign * (h * 3600 + m * 60)
    };
    let tz = chrono::FixedOffset::east_opt(seconds)?;
    naive
        .and_local_timezone(tz)
        .single()
        .map(|t| t.with_timezone(&Utc))
}
