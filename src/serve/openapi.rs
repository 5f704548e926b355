//! The OpenAPI document of `pond serve`, built from the very types the
//! routes read and write, so it cannot drift from them. `docs/openapi.json`
//! is this document as committed; a test fails when they differ
//! (`make openapi` rewrites it).

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Value, json};

use super::admin::EraseRequest;
use super::ingest::{IngestAnswer, IngestQuery};
use super::{ErrorBody, MessageQuery, SessionPageQuery, web};
use crate::archive::{
    ArchiveStatus, ListSessionsParams, MessageInContext, SearchParams, SessionList, SessionPage,
};
use crate::erase::EraseReport;
use crate::search::Response as SearchResponse;

fn settings() -> SchemaSettings {
    SchemaSettings::openapi3()
}

/// A type's schema as a `$ref` into `components`, registering it there.
fn reference<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

/// A query-string type's fields as OpenAPI parameters.
fn query_parameters<T: JsonSchema>() -> Vec<Value> {
    let root = settings().into_generator().into_root_schema_for::<T>();
    let root = root.to_value();
    let required: Vec<&str> = root
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut parameters = Vec::new();
    if let Some(props) = root.get("properties").and_then(Value::as_object) {
        for (name, schema) in props {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::Null);
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if !description.is_null() {
                p["description"] = description;
            }
            parameters.push(p);
        }
    }
    parameters
}

fn path_id(what: &str) -> Value {
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": format!("{what} id"),
        "schema": {"type": "string", "minLength": 1}
    })
}

fn with_path_id(what: &str, query: Vec<Value>) -> Vec<Value> {
    std::iter::once(path_id(what)).chain(query).collect()
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// The responses every guarded route may give besides its own.
fn refusals(error: &Value, extra: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    let mut r = serde_json::Map::new();
    for (code, why) in [
        ("401", "No token, or an unknown or revoked one."),
        ("403", "The token's scope or limits do not allow this."),
    ]
    .iter()
    .chain(extra)
    {
        r.insert(
            code.to_string(),
            json!({"description": why, "content": json_content(error.clone())}),
        );
    }
    r
}

fn responses(ok: Value, error: &Value, extra: &[(&str, &str)]) -> Value {
    let mut r = refusals(error, extra);
    r.insert(
        "200".into(),
        json!({"description": "OK", "content": json_content(ok)}),
    );
    Value::Object(r)
}

/// The answers of a route that serves bytes, not JSON: its own 200, then
/// a malformed request's 400, the refusals, and its own 404, in that order.
fn bytes_responses(ok: Value, error: &Value, missing: &str) -> Value {
    let mut r = serde_json::Map::new();
    r.insert("200".into(), ok);
    r.insert(
        "400".into(),
        json!({"description": "The request is malformed.", "content": json_content(error.clone())}),
    );
    r.extend(refusals(error, &[("404", missing)]));
    Value::Object(r)
}

/// The schemas and answers the routes refer to.
struct Refs {
    error: Value,
    search_params: Value,
    search_response: Value,
    session_list: Value,
    session_page: Value,
    message: Value,
    status: Value,
    usage: Value,
    runs: Value,
    ingest_answer: Value,
    erase_request: Value,
    erase_report: Value,
    caller: Value,
    sign_in: Value,
    share: Value,
    share_line: Value,
    new_share: Value,
    share_preview: Value,
    bad: [(&'static str, &'static str); 1],
    bad_or_missing: [(&'static str, &'static str); 2],
}

pub fn document() -> Value {
    let mut generator = settings().into_generator();
    let refs = Refs {
        error: reference::<ErrorBody>(&mut generator),
        search_params: reference::<SearchParams>(&mut generator),
        search_response: reference::<SearchResponse>(&mut generator),
        session_list: reference::<SessionList>(&mut generator),
        session_page: reference::<SessionPage>(&mut generator),
        message: reference::<MessageInContext>(&mut generator),
        status: reference::<ArchiveStatus>(&mut generator),
        usage: reference::<crate::spend::UsageReport>(&mut generator),
        runs: reference::<crate::archive::RunTimeline>(&mut generator),
        ingest_answer: reference::<IngestAnswer>(&mut generator),
        erase_request: reference::<EraseRequest>(&mut generator),
        erase_report: reference::<EraseReport>(&mut generator),
        caller: reference::<web::Caller>(&mut generator),
        sign_in: reference::<web::SignIn>(&mut generator),
        share: reference::<crate::share::Share>(&mut generator),
        share_line: reference::<crate::share::ShareLine>(&mut generator),
        new_share: reference::<super::shares::NewShare>(&mut generator),
        share_preview: reference::<super::shares::SharePreview>(&mut generator),
        bad: [("400", "The request is malformed.")],
        bad_or_missing: [
            ("400", "The request is malformed."),
            ("404", "No such id, or one outside the token's limits."),
        ],
    };
    let schemas = generator.take_definitions(true);

    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "pond",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The archive of AI coding-agent sessions: search, read, and ingest. Every route except /healthz and /readyz needs `Authorization: Bearer <token>` when the server listens beyond loopback or has tokens configured. The MCP streamable-HTTP endpoint is /mcp (same tokens)."
        },
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": {},
    });
    for paths in [
        probe_paths(&refs),
        reading_paths(&refs),
        fleet_paths(&refs),
        writing_paths(&refs),
        caller_paths(&refs),
        share_paths(&refs),
        browser_paths(&refs),
    ] {
        if let (Some(all), Value::Object(these)) = (document["paths"].as_object_mut(), paths) {
            all.extend(these);
        }
    }
    add_page_paths(&mut document);
    document
}

/// The pages: one HTML shell whose script draws the page its path names
/// from the JSON routes. They carry no data and need no token.
fn add_page_paths(document: &mut Value) {
    let pages = [
        ("/", "search"),
        ("/search", "search"),
        ("/fleet", "fleet"),
        ("/spend", "spend"),
        ("/signin", "signin"),
        ("/session/{id}", "session"),
    ];
    for (path, page) in pages {
        let mut operation = json!({
            "operationId": format!("{page}Page{}", if path == "/" { "Root" } else { "" }),
            "summary": format!("The {page} page (HTML; its data comes from the JSON routes)."),
            "security": [],
            "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}}
        });
        if path.contains("{id}") {
            operation["parameters"] = json!([path_id("Session")]);
        }
        document["paths"][path] = json!({"get": operation});
    }
    document["paths"]["/assets/{name}"] = json!({"get": {
        "operationId": "assetscript",
        "summary": "One of the pages' script modules (app.js, the entry, and the modules it imports), compiled into the binary.",
        "security": [],
        "parameters": [{"name": "name", "in": "path", "required": true, "description": "The module's file name", "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": "script", "content": {"text/javascript": {"schema": {"type": "string"}}}},
            "404": {"description": "No such module.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        }
    }});
    for (path, content_type, what) in [
        ("/assets/app.css", "text/css", "style sheet"),
        ("/favicon.ico", "image/svg+xml", "icon"),
    ] {
        document["paths"][path] = json!({"get": {
            "operationId": format!("asset{}", what.replace(' ', "")),
            "summary": format!("The pages' {what}, compiled into the binary."),
            "security": [],
            "responses": {"200": {"description": what, "content": {content_type: {"schema": {"type": "string"}}}}}
        }});
    }
}

/// The routes any caller may ask without a token: liveness, readiness and this document.
fn probe_paths(refs: &Refs) -> Value {
    json!({
    "/healthz": {"get": {
        "operationId": "healthz",
        "summary": "Liveness: the process answers.",
        "security": [],
        "responses": {"200": {"description": "alive", "content": {"text/plain": {"schema": {"type": "string"}}}}}
    }},
    "/readyz": {"get": {
        "operationId": "readyz",
        "summary": "Readiness: the store answers a read.",
        "security": [],
        "responses": {
            "200": {"description": "ready", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "503": {"description": "the store cannot be read", "content": json_content(refs.error.clone())}
        }
    }},
    "/openapi.json": {"get": {
        "operationId": "openapi",
        "summary": "This document.",
        "responses": responses(json!({"type": "object"}), &refs.error, &[])
    }}
    })
}

/// Reading the archive within a token's limits.
fn reading_paths(refs: &Refs) -> Value {
    json!({
    "/v1/search": {"post": {
        "operationId": "search",
        "summary": "Hybrid (BM25 + vector) search over every session, as `pond search --json`.",
        "requestBody": {"required": true, "content": json_content(refs.search_params.clone())},
        "responses": responses(refs.search_response.clone(), &refs.error, &refs.bad)
    }},
    "/v1/sessions": {"get": {
        "operationId": "listSessions",
        "summary": "Sessions, most recently active first.",
        "parameters": query_parameters::<ListSessionsParams>(),
        "responses": responses(refs.session_list.clone(), &refs.error, &refs.bad)
    }},
    "/v1/sessions/{id}": {"get": {
        "operationId": "getSession",
        "summary": "A page of a session's transcript, long parts clipped unless full=true.",
        "parameters": with_path_id("Session (or a unique prefix)", query_parameters::<SessionPageQuery>()),
        "responses": responses(refs.session_page.clone(), &refs.error, &refs.bad_or_missing)
    }},
    "/v1/messages/{id}": {"get": {
        "operationId": "getMessage",
        "summary": "One message whole, with previews of its neighbours.",
        "parameters": with_path_id("Message", query_parameters::<MessageQuery>()),
        "responses": responses(refs.message.clone(), &refs.error, &refs.bad_or_missing)
    }}
    })
}

/// The fleet: its status, spend, runs and Prometheus series.
fn fleet_paths(refs: &Refs) -> Value {
    json!({
    "/v1/status": {"get": {
        "operationId": "status",
        "summary": "Sessions and messages per client, each host's last sync.",
        "responses": responses(refs.status.clone(), &refs.error, &[])
    }},
    "/v1/usage": {"get": {
        "operationId": "usage",
        "summary": "Tokens and spend of the model calls the token may see, each call counted once, grouped by any of day, week, month, host, project, client, model, session, user (the person a host recorded); as `pond usage --json`.",
        "parameters": query_parameters::<crate::archive::UsageParams>(),
        "responses": responses(refs.usage.clone(), &refs.error, &refs.bad)
    }},
    "/v1/runs": {"get": {
        "operationId": "runs",
        "summary": "The fleet's runs over time: per day or hour (UTC), runs by outcome and the hosts that ran, within the token's host limit; every bucket from the first to the current one, empty ones included.",
        "parameters": query_parameters::<crate::archive::RunsParams>(),
        "responses": responses(refs.runs.clone(), &refs.error, &refs.bad)
    }},
    "/metrics": {"get": {
        "operationId": "metrics",
        "summary": "The fleet's state in the Prometheus text format, computed from the store on each scrape (read scope): per host its last run and success, consecutive failures, runs by outcome and sessions stored; per ephemeral group the same; the store's shape and last upkeep for tokens without limits. A host that stopped syncing keeps its series.",
        "responses": {
            "200": {"description": "the exposition", "content": {"text/plain": {"schema": {"type": "string"}}}},
            "401": {"description": "A token is needed and none (or an unknown one) was sent.", "content": json_content(refs.error.clone())},
            "403": {"description": "The token is not of the read scope.", "content": json_content(refs.error.clone())}
        }
    }}
    })
}

/// Writing: remote ingest and erasure.
fn writing_paths(refs: &Refs) -> Value {
    json!({
    "/v1/ingest": {"post": {
        "operationId": "ingest",
        "summary": "Store one session file of a host (ingest scope) and, unless sync=false, ingest that host's files as its own sync would.",
        "parameters": query_parameters::<IngestQuery>(),
        "requestBody": {"required": false, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": responses(refs.ingest_answer.clone(), &refs.error, &[("400", "The request is malformed."), ("409", "append_at: the server's copy is not the prefix the sender extended; send the whole file."), ("410", "The file holds a session erased from the archive (`pond erase`); it is not stored again."), ("413", "The file is larger than the server accepts."), ("415", "The body is not application/octet-stream.")])
    }},
    "/v1/erase": {"post": {
        "operationId": "erase",
        "summary": "Erase sessions for good (admin scope only, a token without limits): their rows go from every table at once, their bytes at the next upkeep or, with now, at once; no host stores them again.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": refs.erase_request.clone()}}},
        "responses": responses(refs.erase_report.clone(), &refs.error, &[("400", "Nothing selected, both ids and filters given, or an id that matches no session or several."), ("403", "The token is not an admin token without limits.")])
    }}
    })
}

/// The caller, its sessions' images and raw files, and live events.
fn caller_paths(refs: &Refs) -> Value {
    json!({
    "/v1/me": {"get": {
        "operationId": "me",
        "summary": "Who the request acts as: the token's name, scope and limits, and whether the server asks for a token at all.",
        "responses": responses(refs.caller.clone(), &refs.error, &[])
    }},
    "/v1/messages/{id}/images/{n}": {"get": {
        "operationId": "messageImage",
        "summary": "The n-th image (from 0) a message holds inline, decoded from the raw record it was read from; only PNG, JPEG, GIF and WebP are served.",
        "parameters": [path_id("Message"), {"name": "n", "in": "path", "required": true, "description": "Which of the message's images, from 0", "schema": {"type": "integer", "minimum": 0}}],
        "responses": bytes_responses(
            json!({"description": "the image", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}, "image/jpeg": {"schema": {"type": "string", "format": "binary"}}, "image/gif": {"schema": {"type": "string", "format": "binary"}}, "image/webp": {"schema": {"type": "string", "format": "binary"}}}}),
            &refs.error,
            "No such message or image, or one outside the token's limits."
        )
    }},
    "/v1/sessions/{id}/raw": {"get": {
        "operationId": "rawSessionFile",
        "summary": "One source file of a session, byte for byte as its client wrote it (secrets masked unless the server runs with --no-redact); the x-pond-source-files header says how many files the session has.",
        "parameters": with_path_id("Session (or a unique prefix)", query_parameters::<super::pages::RawQuery>()),
        "responses": bytes_responses(
            json!({"description": "the file", "headers": {"x-pond-source-files": {"schema": {"type": "integer"}, "description": "The session's source files."}}, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}),
            &refs.error,
            "No such session or file, or one outside the token's limits."
        )
    }},
    "/v1/events": {"get": {
        "operationId": "fleetEvents",
        "summary": "Server-sent events: a `fleet` event when the stream opens and whenever a sync anywhere changes the fleet's records (for a token with limits, only when what /v1/status shows it changed); the event carries no data of the fleet: read /v1/status again on each. A token may hold 8 streams open, the server 64 in all. The stream ends when the server stops.",
        "responses": {
            "200": {"description": "the event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "401": {"description": "No token, or an unknown or revoked one.", "content": json_content(refs.error.clone())},
            "403": {"description": "The token is not of the read scope.", "content": json_content(refs.error.clone())},
            "429": {"description": "Too many event streams open, for this token or in all.", "content": json_content(refs.error.clone())}
        }
    }}
    })
}

/// Share links: made, listed and revoked by tokens that may share; the
/// link's page itself needs no token (spec rule 56).
fn share_paths(refs: &Refs) -> Value {
    let html = |what: &str| json!({"description": what, "content": {"text/html": {"schema": {"type": "string"}}}});
    let may_not = [
        (
            "403",
            "The token may not make share links, or its scope or limits do not allow this.",
        ),
        ("404", "No such session, or one outside the token's limits."),
    ];
    json!({
    "/v1/sessions/{id}/shares": {
        "get": {
            "operationId": "listShares",
            "summary": "The session's share links, newest first, with their state (live, expired, revoked), views and last view; for a read token made with --may-share.",
            "parameters": [path_id("Session (or a unique prefix)")],
            "responses": responses(json!({"type": "array", "items": refs.share_line.clone()}), &refs.error, &may_not)
        },
        "post": {
            "operationId": "createShare",
            "summary": "A new link to the session (secrets masked), served at /s/{id} to whoever holds it until it expires (default 7 days) or is revoked; for a read token made with --may-share.",
            "parameters": [path_id("Session (or a unique prefix)")],
            "requestBody": {"required": true, "content": json_content(refs.new_share.clone())},
            "responses": {
                "201": {"description": "the share", "content": json_content(refs.share.clone())},
                "400": {"description": "The request is malformed.", "content": json_content(refs.error.clone())},
                "401": {"description": "No token, or an unknown or revoked one.", "content": json_content(refs.error.clone())},
                "403": {"description": may_not[0].1, "content": json_content(refs.error.clone())},
                "404": {"description": may_not[1].1, "content": json_content(refs.error.clone())}
            }
        }
    },
    "/v1/sessions/{id}/shares/preview": {"get": {
        "operationId": "previewShare",
        "summary": "How many secrets a link to the session would mask, with a few of them in context, masked.",
        "parameters": [path_id("Session (or a unique prefix)")],
        "responses": responses(refs.share_preview.clone(), &refs.error, &may_not)
    }},
    "/v1/shares/{id}/revoke": {"post": {
        "operationId": "revokeShare",
        "summary": "Ends a share link on every server of the archive.",
        "parameters": [path_id("Share")],
        "responses": responses(refs.share.clone(), &refs.error, &[("403", may_not[0].1), ("404", "No such share, or one of a session outside the token's limits.")])
    }},
    "/s/{id}": {"get": {
        "operationId": "sharePage",
        "summary": "A share link's page: the one session it shows, drawn by the server (no script), masked unless the share says otherwise.",
        "security": [],
        "parameters": [path_id("Share")],
        "responses": {"200": html("the session"), "404": html("No such share."), "410": html("The share expired, was revoked, or its session was erased.")}
    }},
    "/s/{id}/raw": {"get": {
        "operationId": "shareRawFile",
        "summary": "The shared session's source file, when the share allows it (pond share --raw).",
        "security": [],
        "parameters": [path_id("Share")],
        "responses": {
            "200": {"description": "the file", "headers": {"x-pond-source-files": {"schema": {"type": "integer"}, "description": "The session's source files."}}, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "404": html("No such share, or one without the files."),
            "410": html("The share ended.")
        }
    }},
    "/assets/share.css": {"get": {
        "operationId": "assetShareStyle",
        "summary": "A share page's style sheet, compiled into the binary.",
        "security": [],
        "responses": {"200": {"description": "style sheet", "content": {"text/css": {"schema": {"type": "string"}}}}}
    }}
    })
}

/// For the browser pages: signing in and out.
fn browser_paths(refs: &Refs) -> Value {
    json!({
    "/web/signin": {"post": {
        "operationId": "signIn",
        "summary": "For the browser pages: a known token opens a server-side session whose random id (never the token) becomes an HttpOnly, SameSite=Strict cookie (`__Host-` and Secure behind TLS) that the other routes accept like the token's bearer header until the session ends (8 hours unused, sign-out, or the token revoked). Requests that carry the cookie and are not GET must also carry the x-pond-csrf header.",
        "security": [],
        "requestBody": {"required": true, "content": json_content(refs.sign_in.clone())},
        "responses": {
            "200": {"description": "signed in; the cookie is set", "content": json_content(refs.caller.clone())},
            "400": {"description": "The request is malformed.", "content": json_content(refs.error.clone())},
            "401": {"description": "An unknown or revoked token.", "content": json_content(refs.error.clone())}
        }
    }},
    "/web/signout": {"post": {
        "operationId": "signOut",
        "summary": "For the browser pages: the cookie is cleared.",
        "security": [],
        "responses": {"204": {"description": "signed out"}}
    }}
    })
}

#[cfg(test)]
mod tests {
    /// docs/openapi.json is what the server serves; `make openapi` rewrites it.
    #[test]
    fn committed_document_matches_the_routes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
        let generated = serde_json::to_string_pretty(&super::document()).unwrap() + "\n";
        if std::env::var_os("POND_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is out of date: run `make openapi`"
        );
    }
}
