//! A session as a document a person reads, for sending to someone without
//! pond: Markdown, or one self-contained HTML file that looks like the
//! session page (`pond export --format md|html`).
//!
//! The byte-exact export (`export.rs`) is what a client can continue; this
//! is what a colleague reads. Both come from the same stored rows: the
//! transcript from the messages, its tokens and cost from the usage table,
//! its images from the raw records they were read from.

mod html;
mod markdown;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pond_adapters::images::Image;

use crate::archive::{self, ArchiveError, View};
use crate::model::{Message, Part, PartKind, Session};
use crate::spend::{PriceTable, UsageQuery, UsageTotals};
use crate::store::Store;

pub use html::{Framing, STYLE, html, page};
pub use markdown::markdown;

/// The readable formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown, for a pull request, an issue or a wiki.
    Md,
    /// One HTML file with its styles and images inside, readable without
    /// scripts or a network.
    Html,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
        }
    }
}

/// Everything a readable export shows of one session.
pub struct Document {
    pub session: Session,
    pub messages: Vec<Message>,
    /// The session's model calls: tokens by kind and their cost.
    pub usage: UsageTotals,
    /// Images each message holds inline, by message id (HTML only).
    pub images: BTreeMap<String, Vec<Image>>,
    /// Secrets were masked for this export.
    pub redacted: bool,
}

/// Reads session `id` (a whole key) for a readable export; `with_images`
/// decodes the images its messages hold from their raw records.
pub async fn gather(
    store: &Store,
    id: &str,
    redact: bool,
    with_images: bool,
    prices: &PriceTable,
) -> Result<Document, ArchiveError> {
    let view = View {
        redact,
        ..View::default()
    };
    let (session, messages) = archive::transcript(store, &view, id).await?;
    let query = UsageQuery {
        sessions: vec![session.id.clone()],
        ..UsageQuery::default()
    };
    let usage = crate::spend::report(store, &query, prices).await?.totals;
    let mut images = BTreeMap::new();
    if with_images {
        for m in messages.iter().filter(|m| m.parts.iter().any(is_image)) {
            let found = archive::images_at(store, &session.id, m.seq).await?;
            if !found.is_empty() {
                images.insert(m.id.clone(), found);
            }
        }
    }
    Ok(Document {
        session,
        messages,
        usage,
        images,
        redacted: redact,
    })
}

/// A part that names an image the message holds inline ("[image:
/// image/png]"), as the session page decides.
fn is_image(part: &Part) -> bool {
    part.kind == PartKind::File
        && part
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("[image"))
}

/// A time as both formats print it: to the second, in UTC.
fn when(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// The facts a document opens with, as label and value, in order.
fn facts(doc: &Document) -> Vec<(&'static str, String)> {
    let s = &doc.session;
    let mut rows = vec![("Session", s.id.clone()), ("Client", s.client.clone())];
    if let Some(p) = &s.project {
        rows.push(("Project", p.clone()));
    }
    if let Some(b) = &s.git_branch {
        rows.push(("Branch", b.clone()));
    }
    rows.push(("Host", s.host.clone()));
    if let Some(m) = &s.model {
        rows.push(("Model", m.clone()));
    }
    if let Some(t) = when(s.started_at) {
        rows.push(("Started", t));
    }
    if let Some(t) = when(s.updated_at) {
        rows.push(("Last message", t));
    }
    rows.push(("Messages", doc.messages.len().to_string()));
    let u = &doc.usage;
    if u.calls > 0 {
        rows.push((
            "Tokens",
            format!(
                "{} in, {} out, {} cache write, {} cache read ({} calls)",
                u.input_tokens, u.output_tokens, u.cache_write_tokens, u.cache_read_tokens, u.calls
            ),
        ));
        rows.push((
            "Cost",
            match u.cost_usd {
                Some(c) if u.unpriced_calls == 0 => format!("${c:.4}"),
                Some(c) => format!("${c:.4} ({} calls without a price)", u.unpriced_calls),
                None => "not priced".to_string(),
            },
        ));
    }
    if doc.redacted {
        rows.push(("Redacted", "secrets masked".to_string()));
    }
    rows
}

/// The heading of a session: its title, or its id.
fn title(session: &Session) -> String {
    session
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map_or_else(|| format!("Session {}", session.id), str::to_string)
}

/// A tool part's label: its tool's name, or "tool" where the client gave none.
fn tool_label(part: &Part) -> String {
    part.tool_name.as_deref().unwrap_or("tool").to_string()
}

#[cfg(test)]
mod tests;
