//! The questions the archive answers over MCP and HTTP, written once.
//!
//! Both servers hand the same parameters to the same functions here, so an
//! agent using MCP and a script using the HTTP API see the same results, and
//! the access rules (a token's limits, output redaction) are enforced in one
//! place. Answers are shaped for a reader paying per token: transcripts come
//! in pages with long parts clipped unless asked for in full.

mod images;
mod overview;
mod raw;
mod shapes;

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

pub use images::{images_at, message_image};
pub use overview::{
    RunBucket, RunTimeline, RunsParams, client_counts, run_timeline, sessions_and_messages_by,
    status,
};
pub use raw::{RawDownload, source_file as session_source_file};
pub use shapes::*;

use crate::access::Limits;
use crate::embed::Lazy;
use crate::model::{Message, Part, PartKind, Session};
use crate::search::{self, Filters, Mode, Request};
use crate::store::{Store, StoreError, TableKind, sql_eq, sql_str, tables::schema};

/// Why a question got no answer. Each maps to one HTTP status and one MCP
/// tool error.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The caller asked wrongly (400).
    #[error("{0}")]
    BadRequest(String),
    /// Absent, or outside what the caller may see: the two look alike so a
    /// limited token cannot probe for ids (404).
    #[error("{0}")]
    NotFound(String),
    /// The caller asked outright for something outside its limits (403).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("search failed: {0}")]
    Search(String),
}

/// What one caller may see, and whether secrets are masked for it.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub limits: Limits,
    pub redact: bool,
    /// A stats token's view (rule 55): totals only, with its projects shown
    /// as its project limit and no error text that names a path.
    pub totals_only: bool,
}

impl View {
    fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.redact {
            crate::redact::redact_str(text)
        } else {
            Cow::Borrowed(text)
        }
    }

    /// A host's last error as this caller may read it: masked, and for a
    /// totals-only caller without the paths (of sessions' files) it names.
    fn host_error(&self, error: &str) -> String {
        if self.totals_only && error.contains(['/', '\\']) {
            return "failed (the error names a path; a stats token does not see it)".to_string();
        }
        self.mask(error).into_owned()
    }

    fn mask_owned(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask(text) {
            *text = masked;
        }
    }

    /// A host filter naming a host the caller may never see is refused
    /// outright rather than answered with nothing.
    fn check_hosts(&self, hosts: &[String]) -> Result<(), ArchiveError> {
        if let Some(prefix) = &self.limits.host_prefix
            && let Some(h) = hosts.iter().find(|h| !h.starts_with(prefix.as_str()))
        {
            return Err(ArchiveError::Forbidden(format!(
                "host `{h}` is outside what this token may read"
            )));
        }
        Ok(())
    }
}

/// A paging value, refused when outside the range its schema documents: a
/// caller asking for 0 or a million results has made a mistake worth saying.
fn within(
    name: &str,
    value: Option<usize>,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Option<usize>, ArchiveError> {
    match value {
        Some(v) if !range.contains(&v) => Err(ArchiveError::BadRequest(format!(
            "`{name}` must be between {} and {}, not {v}",
            range.start(),
            range.end()
        ))),
        v => Ok(v),
    }
}

impl SearchParams {
    /// The search these parameters ask for, seen through `limits`. Paging
    /// values are taken as given: the servers bound them first, the local
    /// CLI does not.
    pub fn into_request(
        self,
        limits: Limits,
        now: DateTime<Utc>,
    ) -> Result<Request, search::FilterError> {
        let time = |s: &Option<String>| {
            s.as_deref()
                .map(|s| search::filters::parse_time(s, now))
                .transpose()
        };
        let (mut since, mut until) = (time(&self.since)?, time(&self.until)?);
        let mut query = self.query;
        let mut understood = None;
        // Rule 52: a time phrase narrows the range only when no range is given.
        if !self.literal.unwrap_or(false)
            && since.is_none()
            && until.is_none()
            && let Some((rest, phrase)) = search::when::read(&query, search::when::local(now))
        {
            (since, until) = (Some(phrase.since), Some(phrase.until));
            query = rest;
            understood = Some(phrase);
        }
        Ok(Request {
            filters: Filters {
                since,
                until,
                clients: self.client,
                project: self.project,
                hosts: self.host,
                roles: self.role,
                kinds: self.kind,
                tools: self.tool,
                session: self.session,
                within: limits,
            },
            query,
            understood,
            mode: self.mode.unwrap_or(Mode::Hybrid),
            limit: self.limit.unwrap_or(10),
            offset: self.offset.unwrap_or(0),
            per_session: self.per_session.unwrap_or(1),
            redact: false,
        })
    }
}

/// Masks secrets in the hits' snippets; their match offsets were of the
/// unmasked text, so they go.
pub fn mask_hits(response: &mut search::Response) {
    for hit in &mut response.hits {
        if let Cow::Owned(masked) = crate::redact::redact_str(&hit.snippet) {
            hit.snippet = masked;
            hit.highlights.clear();
        }
    }
}

/// Runs a search as `pond search --json` does, within the caller's view.
pub async fn search(
    store: &Store,
    embedder: &Lazy,
    view: &View,
    params: SearchParams,
) -> Result<search::Response, ArchiveError> {
    view.check_hosts(&params.host)?;
    within("limit", params.limit, 1..=100)?;
    within("offset", params.offset, 0..=10_000)?;
    within("per_session", params.per_session, 1..=10)?;
    let mut request = params
        .into_request(view.limits.clone(), Utc::now())
        .map_err(|e| ArchiveError::BadRequest(e.to_string()))?;
    request.redact = view.redact;
    let model = async { embedder.get() };
    let mut response = search::search(store, model, &request)
        .await
        .map_err(|e| match e {
            search::SearchError::Store(e) => ArchiveError::Store(e),
            e @ (search::SearchError::Filter(_)
            | search::SearchError::EmptyQuery
            | search::SearchError::NoModel(_)) => ArchiveError::BadRequest(e.to_string()),
            e => ArchiveError::Search(e.to_string()),
        })?;
    if view.redact {
        mask_hits(&mut response);
    }
    Ok(response)
}

impl SessionLine {
    fn new(s: Session, view: &View) -> SessionLine {
        let mut title = s.title;
        if let Some(t) = &mut title {
            view.mask_owned(t);
        }
        SessionLine {
            id: s.id,
            client: s.client,
            project: s.project,
            title,
            started_at: s.started_at,
            updated_at: s.updated_at,
            messages: s.message_count,
            model: s.model,
            git_branch: s.git_branch,
            parent_id: s.parent_id,
            host: s.host,
            redacted: false,
        }
    }
}

/// Sets `redacted` on each line the store marks so.
async fn mark_redacted(store: &Store, lines: &mut [SessionLine]) -> Result<(), ArchiveError> {
    let redacted = store
        .redacted_sessions(lines.iter().map(|l| l.id.as_str()))
        .await?;
    for line in lines {
        line.redacted = redacted.contains(&line.id);
    }
    Ok(())
}

/// Sessions, most recently active first, a page of at most 10,000.
pub async fn list_sessions(
    store: &Store,
    view: &View,
    params: ListSessionsParams,
) -> Result<SessionList, ArchiveError> {
    let offset = within("offset", params.offset, 0..=100_000_000)?.unwrap_or(0);
    let limit = within("limit", params.limit, 1..=10_000)?.unwrap_or(20);
    list_sessions_page(store, view, &params, offset, limit).await
}

/// [`list_sessions`] with any page size: for the local CLI, whose user may
/// list everything.
pub async fn list_sessions_page(
    store: &Store,
    view: &View,
    params: &ListSessionsParams,
    offset: usize,
    limit: usize,
) -> Result<SessionList, ArchiveError> {
    if let Some(h) = &params.host {
        view.check_hosts(std::slice::from_ref(h))?;
    }
    let mut clauses: Vec<String> = Vec::new();
    clauses.extend(sql_eq("client", params.client.as_deref()));
    clauses.extend(sql_eq("host", params.host.as_deref()));
    if let Some(p) = &params.project {
        clauses.push(format!("contains(project, {})", sql_str(p)));
    }
    clauses.extend(sql_eq("parent_id", params.parent.as_deref()));
    clauses.extend(view.limits.to_sql());
    let filter = (!clauses.is_empty()).then(|| clauses.join(" AND "));
    let mut sessions = Vec::new();
    for b in store
        .scan(TableKind::Sessions, filter.as_deref(), None)
        .await?
    {
        sessions.extend(schema::sessions_from_batch(&b)?);
    }
    sessions.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let total = sessions.len();
    let mut page: Vec<SessionLine> = sessions
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|s| SessionLine::new(s, view))
        .collect();
    mark_redacted(store, &mut page).await?;
    let next = offset.saturating_add(page.len());
    Ok(SessionList {
        sessions: page,
        total,
        next_offset: (next < total).then_some(next),
    })
}

/// Characters of a part shown when not asked for in full: enough to tell
/// what happened, few enough that a page costs a few thousand tokens.
const CLIP_TEXT: usize = 600;
const CLIP_TOOL_OUTPUT: usize = 300;

impl MessageView {
    fn new(m: Message, full: bool, clip_to: Option<usize>, view: &View) -> MessageView {
        MessageView {
            id: m.id,
            role: m.role.as_str().to_string(),
            timestamp: m.timestamp,
            model: m.model,
            parts: m
                .parts
                .into_iter()
                .map(|p| part_view(p, full, clip_to, view))
                .collect(),
        }
    }
}

fn part_view(p: Part, full: bool, clip_to: Option<usize>, view: &View) -> PartView {
    let limit = clip_to.unwrap_or(match p.kind {
        PartKind::ToolResult | PartKind::ToolCall | PartKind::File => CLIP_TOOL_OUTPUT,
        _ => CLIP_TEXT,
    });
    let mut clipped = 0;
    let text = p.text.map(|t| {
        let masked = view.mask(&t).into_owned();
        if full {
            return masked;
        }
        let chars = masked.chars().count();
        if chars <= limit {
            masked
        } else {
            clipped = chars - limit;
            masked.chars().take(limit).collect()
        }
    });
    PartView {
        kind: crate::search::documents::kind_name(p.kind).to_string(),
        text,
        tool: p.tool_name,
        call_id: p.tool_call_id,
        is_error: p.is_error,
        clipped,
    }
}

/// Finds a session the caller may see by id or unique prefix.
pub(crate) async fn visible_session(
    store: &Store,
    view: &View,
    given: &str,
) -> Result<Session, ArchiveError> {
    let not_found = || ArchiveError::NotFound(format!("no session `{given}`"));
    if given.is_empty() {
        return Err(ArchiveError::BadRequest("a session id is needed".into()));
    }
    let mut found = sessions_where(store, view, session_id_clause(given)).await?;
    let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
    match choose_session(given, &ids) {
        Choice::One(i) => Ok(found.swap_remove(i)),
        Choice::None => Err(not_found()),
        Choice::Many => Err(ArchiveError::BadRequest(ambiguous(
            given,
            found.into_iter().map(|s| s.id).collect(),
        ))),
    }
}

pub enum Choice {
    One(usize),
    None,
    Many,
}

/// Which of the keys [`session_id_clause`] matched `given` means: the key
/// itself, else the one session whose client's own id it is, else the only
/// match.
pub fn choose_session(given: &str, ids: &[&str]) -> Choice {
    if let Some(i) = ids.iter().position(|id| *id == given) {
        return Choice::One(i);
    }
    // Rule 40: an id held from before (a bare source id, a prefix) resolves when one
    // session has it; several are refused with the candidates.
    let own_id = format!(":{given}");
    let own: Vec<usize> = (0..ids.len())
        .filter(|&i| ids[i].ends_with(&own_id))
        .collect();
    match (own.as_slice(), ids.len()) {
        ([i], _) => Choice::One(*i),
        (_, 0) => Choice::None,
        (_, 1) => Choice::One(0),
        _ => Choice::Many,
    }
}

/// The sessions a given id may mean: the key itself, keys it begins, and
/// keys whose client's own id it is or begins (`3ae3ab59` finds
/// `claude-code:3ae3ab59-...`), so ids held from before keys were scoped by
/// client, and the ids clients print, keep resolving (rule 40).
pub fn session_id_clause(given: &str) -> String {
    crate::store::key_or_prefix_sql("id", given)
}

/// Why a session a person named could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SessionLookupError {
    #[error("no session `{0}` in the store (see `pond sessions`)")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves a session key, a unique prefix of one, or the client's own id,
/// over the whole store: the one lookup `show`, `export`, `resume` and
/// `erase` share ([`visible_session`] is its view-limited twin).
pub async fn resolve_session_key(store: &Store, given: &str) -> Result<String, SessionLookupError> {
    let clause = session_id_clause(given);
    let mut ids = store
        .scan_strings(TableKind::Sessions, Some(&clause), "id")
        .await?;
    let keys: Vec<&str> = ids.iter().map(String::as_str).collect();
    match choose_session(given, &keys) {
        Choice::One(i) => Ok(ids.swap_remove(i)),
        Choice::None => Err(SessionLookupError::NotFound(given.to_string())),
        Choice::Many => Err(SessionLookupError::Ambiguous(ambiguous(given, ids))),
    }
}

/// Says which sessions an id matched, so the caller can pick one.
pub fn ambiguous(given: &str, mut ids: Vec<String>) -> String {
    ids.sort();
    let n = ids.len();
    let shown: Vec<String> = ids.into_iter().take(5).collect();
    let more = if n > 5 { ", ..." } else { "" };
    format!(
        "`{given}` matches {n} sessions ({}{more}); give more of the id",
        shown.join(", ")
    )
}

/// The session with exactly this key, if the view may see it: one lookup
/// by the key's index, where a given id needs the prefix and client-id
/// matches of [`session_id_clause`].
async fn session_by_key(
    store: &Store,
    view: &View,
    key: &str,
) -> Result<Option<Session>, ArchiveError> {
    let found = sessions_where(store, view, format!("id = {}", sql_str(key))).await?;
    Ok(found.into_iter().next())
}

/// The sessions `clause` selects among those the view may see.
async fn sessions_where(
    store: &Store,
    view: &View,
    clause: String,
) -> Result<Vec<Session>, ArchiveError> {
    let mut clauses = vec![clause];
    clauses.extend(view.limits.to_sql());
    let mut found = Vec::new();
    for b in store
        .scan(TableKind::Sessions, Some(&clauses.join(" AND ")), None)
        .await?
    {
        found.extend(schema::sessions_from_batch(&b)?);
    }
    Ok(found)
}

/// A session's message ids in transcript order (as [`session_messages`]
/// sorts them), read from the id and seq columns alone.
async fn session_order(store: &Store, id: &str) -> Result<Vec<String>, ArchiveError> {
    let of_session = format!("session_id = {}", sql_str(id));
    let mut order: Vec<(u64, String)> = Vec::new();
    for b in store
        .scan(TableKind::Messages, Some(&of_session), Some(&["id", "seq"]))
        .await?
    {
        let c = schema::Columns::new(&b);
        let (ids, seqs) = (c.str("id")?, c.u64("seq")?);
        for i in 0..b.num_rows() {
            order.push((seqs.value(i), ids.value(i).to_string()));
        }
    }
    order.sort();
    Ok(order.into_iter().map(|(_, id)| id).collect())
}

async fn session_messages(store: &Store, id: &str) -> Result<Vec<Message>, ArchiveError> {
    let mut messages = Vec::new();
    let of_session = format!("session_id = {}", sql_str(id));
    for b in store
        .scan(TableKind::Messages, Some(&of_session), None)
        .await?
    {
        messages.extend(schema::messages_from_batch(&b)?);
    }
    messages.sort_by(|a, b| a.seq.cmp(&b.seq).then_with(|| a.id.cmp(&b.id)));
    Ok(messages)
}

/// A whole session and its messages in transcript order, as `view` may
/// see them (masked when it redacts): what `pond show` prints and the
/// readable exports write.
pub async fn transcript(
    store: &Store,
    view: &View,
    given: &str,
) -> Result<(Session, Vec<Message>), ArchiveError> {
    let mut session = visible_session(store, view, given).await?;
    let mut messages = session_messages(store, &session.id).await?;
    if view.redact {
        crate::redact::mask_transcript(&mut session, &mut messages);
    }
    Ok((session, messages))
}

/// A page of a session's transcript.
pub async fn get_session(
    store: &Store,
    view: &View,
    params: GetSessionParams,
) -> Result<SessionPage, ArchiveError> {
    let session = visible_session(store, view, &params.id).await?;
    let messages = session_messages(store, &session.id).await?;
    let total = messages.len();
    let offset = within("offset", params.offset, 0..=100_000_000)?.unwrap_or(0);
    let limit = within("limit", params.limit, 1..=200)?.unwrap_or(20);
    let full = params.full.unwrap_or(false);
    let page: Vec<MessageView> = messages
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|m| MessageView::new(m, full, None, view))
        .collect();
    let next = offset.saturating_add(page.len());
    let mut line = [SessionLine::new(session, view)];
    mark_redacted(store, &mut line).await?;
    let [session] = line;
    Ok(SessionPage {
        session,
        messages: page,
        offset,
        next_offset: (next < total).then_some(next),
    })
}

const NEIGHBOUR_PREVIEW: usize = 200;

/// One message whole, with its neighbours as previews.
pub async fn get_message(
    store: &Store,
    view: &View,
    params: GetMessageParams,
) -> Result<MessageInContext, ArchiveError> {
    let not_found = || ArchiveError::NotFound(format!("no message `{}`", params.id));
    if params.id.is_empty() {
        return Err(ArchiveError::BadRequest("a message id is needed".into()));
    }
    let (message_id, session_id) = match message_key(store, &params.id).await? {
        Some(found) => found,
        None => return Err(not_found()),
    };
    let session = match session_by_key(store, view, &session_id).await? {
        Some(s) => s,
        None => return Err(not_found()),
    };
    let around = within("neighbours", params.neighbours, 0..=10)?.unwrap_or(2);
    // The session's order from two small columns; whole rows (their parts
    // decompressed) only for the message and its neighbours.
    let order = session_order(store, &session.id).await?;
    let index = order
        .iter()
        .position(|id| *id == message_id)
        .ok_or_else(not_found)?;
    let window = &order[index.saturating_sub(around)..(index + 1 + around).min(order.len())];
    let mut rows: HashMap<String, Message> = HashMap::new();
    let of_window = crate::store::sql_in("id", window.iter().map(String::as_str));
    for b in store
        .scan(TableKind::Messages, Some(&of_window), None)
        .await?
    {
        for m in schema::messages_from_batch(&b)? {
            rows.insert(m.id.clone(), m);
        }
    }
    let take = |id: &String| rows.get(id).cloned().ok_or_else(not_found);
    let preview = |m: Message| MessageView::new(m, false, Some(NEIGHBOUR_PREVIEW), view);
    let before = order[index.saturating_sub(around)..index]
        .iter()
        .map(|id| take(id).map(preview))
        .collect::<Result<_, _>>()?;
    let after = order[index + 1..(index + 1 + around).min(order.len())]
        .iter()
        .map(|id| take(id).map(preview))
        .collect::<Result<_, _>>()?;
    let message = MessageView::new(take(&message_id)?, true, None, view);
    Ok(MessageInContext {
        session: SessionLine::new(session, view),
        index,
        message,
        before,
        after,
    })
}

/// A message's key and session from its key, or from the id it had before
/// keys were scoped by client (when exactly one client's message has it).
async fn message_key(store: &Store, given: &str) -> Result<Option<(String, String)>, ArchiveError> {
    let exact = format!("id = {}", sql_str(given));
    let scoped = crate::store::scoped_key_sql("id", given);
    for filter in [exact, scoped] {
        let mut found = store
            .scan_string_pairs(TableKind::Messages, Some(&filter), ["id", "session_id"])
            .await?;
        found.sort();
        found.dedup();
        match found.len() {
            0 => continue,
            1 => return Ok(found.pop()),
            // Not listed: some may be in sessions the caller may not see.
            n => {
                return Err(ArchiveError::BadRequest(format!(
                    "`{given}` names {n} messages of different clients; give the id with its client (`<client>:{given}`)"
                )));
            }
        }
    }
    Ok(None)
}

/// Tokens and spend of the calls the caller may see (rules 47 and 48).
pub async fn usage(
    store: &Store,
    view: &View,
    prices: &crate::spend::PriceTable,
    params: UsageParams,
) -> Result<crate::spend::UsageReport, ArchiveError> {
    let ask = crate::spend::UsageAsk {
        by: params.by.as_deref().unwrap_or_default(),
        since: params.since.as_deref(),
        until: params.until.as_deref(),
        tz: params.tz.as_deref().unwrap_or_default(),
        hosts: params.host.into_iter().collect(),
        projects: params.project.into_iter().collect(),
        clients: params.client.into_iter().collect(),
    };
    let mut query = crate::spend::UsageQuery::parse(ask, view.limits.clone(), Utc::now())
        .map_err(ArchiveError::BadRequest)?;
    if view.totals_only && view.limits.project_prefix.is_some() {
        // Totals would show whether a named project below the limit exists.
        if !query.projects.is_empty() {
            return Err(ArchiveError::Forbidden(
                "a stats token limited to a project sees it as one: no project filter".into(),
            ));
        }
        query.project_floor = view.limits.project_prefix.clone();
    }
    Ok(crate::spend::report(store, &query, prices).await?)
}
