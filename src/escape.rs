//! Text escaped for the formats pond writes by hand (the transcript's HTML,
//! launchd's XML, Prometheus's label values): one routine, and each format
//! a table of what it replaces, so a format's rules read in one place.

/// What HTML gives meaning to, inside an element or a quoted attribute.
pub const HTML: &[(char, &str)] = &[
    ('&', "&amp;"),
    ('<', "&lt;"),
    ('>', "&gt;"),
    ('"', "&quot;"),
    ('\'', "&#39;"),
];

/// What XML gives meaning to in element text.
pub const XML_TEXT: &[(char, &str)] = &[('&', "&amp;"), ('<', "&lt;"), ('>', "&gt;")];

/// What the Prometheus text format escapes in a label value.
pub const PROMETHEUS_LABEL: &[(char, &str)] = &[('\\', "\\\\"), ('"', "\\\""), ('\n', "\\n")];

/// `text` with every character `table` names replaced by its escape.
pub fn escaped(text: &str, table: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_replaces_only_its_own_characters() {
        assert_eq!(
            escaped(r#"<a href="x">'&'</a>"#, HTML),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            escaped(r#"a "b" & <c>"#, XML_TEXT),
            r#"a "b" &amp; &lt;c&gt;"#
        );
        assert_eq!(
            escaped("host \"a\\b\"\nc <d>", PROMETHEUS_LABEL),
            "host \\\"a\\\\b\\\"\\nc <d>"
        );
    }
}
