//! A message's stored images, for the session page. The message rows keep
//! only an image's name; its bytes are in the raw record the message was
//! read from (which losslessness keeps anyway), so they are decoded from
//! there on demand rather than copied into every message row.

use pond_adapters::images::{Image, images_in_record};

use super::{ArchiveError, View, message_key, session_by_key};
use crate::store::{Store, TableKind, sql_str, tables::schema};

/// The `index`-th inline image (0-based) of message `id`, if the caller's
/// view may see its session.
pub async fn message_image(
    store: &Store,
    view: &View,
    id: &str,
    index: usize,
) -> Result<Image, ArchiveError> {
    let not_found = || ArchiveError::NotFound(format!("no image {index} in message `{id}`"));
    let Some((message_id, session_id)) = message_key(store, id).await? else {
        return Err(not_found());
    };
    if session_by_key(store, view, &session_id).await?.is_none() {
        return Err(not_found());
    }
    // A message's `seq` is the offset of the record it came from.
    let mut offset = None;
    for b in store
        .scan(
            TableKind::Messages,
            Some(&format!("id = {}", sql_str(&message_id))),
            Some(&["seq"]),
        )
        .await?
    {
        offset = offset.or_else(|| {
            schema::Columns::new(&b)
                .u64("seq")
                .ok()?
                .iter()
                .flatten()
                .next()
        });
    }
    let Some(offset) = offset else {
        return Err(not_found());
    };
    images_at(store, &session_id, offset)
        .await?
        .into_iter()
        .nth(index)
        .ok_or_else(not_found)
}

/// The images the message at `offset` of a session holds inline, in
/// order: none when its raw record has none or is gone.
pub async fn images_at(
    store: &Store,
    session_id: &str,
    offset: u64,
) -> Result<Vec<Image>, ArchiveError> {
    let filter = format!("session_id = {} AND offset = {offset}", sql_str(session_id));
    // The newest generation of the record, should the file have been
    // rewritten; a database's rows are judged by what they hold, since an
    // older store labels them all with the database's first session.
    let record = store
        .raw_records(&filter)
        .await?
        .into_iter()
        .filter(|r| super::raw::record_owner(r) == session_id)
        .max_by_key(|r| r.generation);
    Ok(record.map_or_else(Vec::new, |r| images_in_record(&r.bytes)))
}
