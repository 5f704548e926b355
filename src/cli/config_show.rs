//! `pond config show`: what is in effect and where each value came from.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, output};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub source: Source,
}

impl Setting {
    pub fn new(key: &str, value: String, source: Source) -> Setting {
        Setting {
            key: key.to_string(),
            value,
            source,
        }
    }
}

/// Hides values whose key names a secret.
pub fn mask(key: &str, value: &str) -> String {
    let k = key.to_ascii_lowercase();
    let secret = ["secret", "token", "password", "sas", "key"]
        .iter()
        .any(|s| k.contains(s) && !k.ends_with("key_id"));
    if secret {
        "***".to_string()
    } else {
        value.to_string()
    }
}

pub fn telemetry_settings(file: &crate::config::TelemetryConfig) -> Vec<Setting> {
    let pick = |var: &str, from_file: &Option<String>, default: &str| match std::env::var(var) {
        Ok(v) if !v.is_empty() => (v, Source::Env),
        _ => match from_file {
            Some(v) => (v.clone(), Source::File),
            None => (default.to_string(), Source::Default),
        },
    };
    let (endpoint, endpoint_src) = pick(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        &file.endpoint,
        "(unset: telemetry off)",
    );
    let (protocol, protocol_src) = pick(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        &file.protocol,
        "http/protobuf",
    );
    let (service, service_src) = pick("OTEL_SERVICE_NAME", &file.service_name, "pond");
    let enabled = crate::telemetry::ExportSettings::resolve(file).is_some();
    vec![
        Setting::new("telemetry.endpoint", endpoint, endpoint_src),
        Setting::new("telemetry.protocol", protocol, protocol_src),
        Setting::new("telemetry.service_name", service, service_src),
        Setting::new(
            "telemetry.enabled",
            enabled.to_string(),
            if std::env::var_os("OTEL_SDK_DISABLED").is_some() {
                Source::Env
            } else if file.enabled.is_some() {
                Source::File
            } else {
                Source::Default
            },
        ),
    ]
}

pub fn run(ctx: &Context, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        output::print_json(&ctx.provenance)?;
    } else {
        for s in &ctx.provenance {
            println!("{:<28} {:<50} ({:?})", s.key, s.value, s.source);
        }
    }
    Ok(ExitCode::SUCCESS)
}
