//! Logs on stderr, and traces and metrics over OTLP for watching a fleet.
//!
//! Telemetry is configured the standard way (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL` = `http/protobuf` (default) or `grpc`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_SDK_DISABLED`) and is off when no endpoint is set. pond is mostly a
//! short-lived CLI, so [`Telemetry::shutdown`] flushes before exit, bounded in
//! time: a collector that is down costs a warning and at most a few seconds,
//! never the sync.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, InstrumentBuilder, Meter};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::sync::report::{Outcome, SyncReport};

/// How long exporting may delay exit.
const FLUSH_BUDGET: Duration = Duration::from_secs(3);

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where and how to export, resolved from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSettings {
    pub endpoint: String,
    pub grpc: bool,
}

impl ExportSettings {
    /// `None` when telemetry is off: no endpoint, or turned off by
    /// `OTEL_SDK_DISABLED=true` / `enabled = false`. Variables win over the file.
    pub fn resolve(file: &crate::config::TelemetryConfig) -> Option<ExportSettings> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        // Rule 17: export is off unless an endpoint is set, and when disabled.
        let disabled = match var("OTEL_SDK_DISABLED") {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => file.enabled == Some(false),
        };
        if disabled {
            return None;
        }
        let endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| file.endpoint.clone())?;
        let protocol = var("OTEL_EXPORTER_OTLP_PROTOCOL").or_else(|| file.protocol.clone());
        let grpc = protocol.is_some_and(|p| p.eq_ignore_ascii_case("grpc"));
        Some(ExportSettings { endpoint, grpc })
    }
}

/// The exporters, kept to flush them at exit.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// Installs logging, and OTLP export when configured. `verbosity`: -1 quiet,
/// 0 warnings, 1 info, 2+ debug; `POND_LOG` or `RUST_LOG` override it.
pub fn init(
    verbosity: i8,
    format: LogFormat,
    file: &crate::config::TelemetryConfig,
    resource: &[KeyValue],
) -> Telemetry {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        // Dependencies' warnings (credential providers, HTTP retries) are
        // detail behind an error pond explains itself; -v shows them.
        0 => "pond=warn,error",
        1 => "pond=info,warn",
        // rmcp logs every message it sends at info: agents' answers, not
        // diagnostics.
        _ => "pond=debug,rmcp=warn,info",
    };
    let filter = || {
        EnvFilter::try_from_env("POND_LOG")
            .or_else(|_| EnvFilter::try_from_default_env())
            .unwrap_or_else(|_| EnvFilter::new(default))
    };
    // Colour only for a person at a terminal: log files and collectors get
    // plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };

    let mut telemetry = Telemetry {
        tracer: None,
        meter: None,
    };
    let mut export_problem = None;
    let otel_layer = match ExportSettings::resolve(file) {
        None => None,
        Some(settings) => match build_providers(&settings, file, resource) {
            Ok((tracer, meter)) => {
                let layer = tracing_opentelemetry::layer()
                    .with_tracer(tracer.tracer("pond"))
                    // The exporter's own HTTP stack must not trace itself.
                    .with_filter(EnvFilter::new("pond=debug,lance=warn,lancedb=warn,off"));
                opentelemetry::global::set_meter_provider(meter.clone());
                telemetry.tracer = Some(tracer);
                telemetry.meter = Some(meter);
                Some(layer)
            }
            Err(e) => {
                export_problem = Some(e);
                None
            }
        },
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter()))
        .with(otel_layer)
        .try_init();
    if let Some(e) = export_problem {
        tracing::warn!("telemetry disabled: {e}");
    }
    telemetry
}

/// The resource attribute that tells one process from the next run of the
/// same host.
pub const INSTANCE_ID: &str = "service.instance.id";

/// Counters and histograms are exported as deltas: each short-lived `pond
/// sync` reports what it did, and the collector's `deltatocumulative`
/// processor adds the deltas of every run into one total per host
/// (deploy/otel/collector.yaml). Cumulative counters from a process that
/// lives for one run would restart at zero each time and read 1, 1, 1 in
/// Prometheus (docs/decisions.md).
const COUNTER_TEMPORALITY: opentelemetry_sdk::metrics::Temporality =
    opentelemetry_sdk::metrics::Temporality::Delta;

/// A fresh id per process, unless `OTEL_RESOURCE_ATTRIBUTES` names one.
fn instance_id() -> Option<String> {
    let given = std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
    let named = given
        .split(',')
        .any(|kv| kv.trim_start().starts_with(&format!("{INSTANCE_ID}=")));
    (!named).then(|| format!("{:032x}", fastrand::u128(..)))
}

fn build_providers(
    settings: &ExportSettings,
    file: &crate::config::TelemetryConfig,
    attributes: &[KeyValue],
) -> Result<(SdkTracerProvider, SdkMeterProvider), String> {
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .or_else(|| file.service_name.clone())
        .unwrap_or_else(|| "pond".to_string());
    // Rule 45: each process carries its own `service.instance.id`, and its
    // counters go out as deltas that the collector sums per host.
    let resource = Resource::builder()
        .with_service_name(service)
        .with_attributes(
            [KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))]
                .into_iter()
                .chain(instance_id().map(|id| KeyValue::new(INSTANCE_ID, id)))
                .chain(attributes.iter().cloned()),
        )
        .build();
    let timeout = FLUSH_BUDGET;
    // One quick retry: a short-lived CLI cannot wait out the recommended
    // backoff (up to 1.6 s per step) when the collector is down.
    let retry = || {
        RetryPolicy::recommended()
            .with_max_retries(1)
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(200))
    };
    let base = settings.endpoint.trim_end_matches('/');
    let (spans, metrics) = if settings.grpc {
        (
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(base)
                .with_timeout(timeout)
                .with_retry_policy(retry())
                .build(),
            opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_temporality(COUNTER_TEMPORALITY)
                .with_endpoint(base)
                .with_timeout(timeout)
                .with_retry_policy(retry())
                .build(),
        )
    } else {
        (
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{base}/v1/traces"))
                .with_timeout(timeout)
                .with_retry_policy(retry())
                .build(),
            opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_temporality(COUNTER_TEMPORALITY)
                .with_endpoint(format!("{base}/v1/metrics"))
                .with_timeout(timeout)
                .with_retry_policy(retry())
                .build(),
        )
    };
    let spans = spans.map_err(|e| format!("span exporter: {e}"))?;
    let metrics = metrics.map_err(|e| format!("metric exporter: {e}"))?;
    let tracer = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(spans)
        .build();
    let meter = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_periodic_exporter(metrics)
        .build();
    Ok((tracer, meter))
}

impl Telemetry {
    /// Flushes and stops the exporters, giving up after [`FLUSH_BUDGET`]
    /// (a collector that is down must not hold the command).
    pub fn shutdown(self) {
        if self.tracer.is_none() && self.meter.is_none() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut problems = Vec::new();
            if let Some(m) = self.meter
                && let Err(e) = m.shutdown_with_timeout(FLUSH_BUDGET)
            {
                problems.push(format!("metrics: {e}"));
            }
            if let Some(t) = self.tracer
                && let Err(e) = t.shutdown_with_timeout(FLUSH_BUDGET)
            {
                problems.push(format!("traces: {e}"));
            }
            let _ = tx.send(problems);
        });
        // Rule 17: a collector that is down or slow costs a warning within the
        // budget, never the command's outcome.
        match rx.recv_timeout(FLUSH_BUDGET * 2) {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => eprintln!(
                "pond: warning: telemetry not delivered ({})",
                problems.join("; ")
            ),
            Err(_) => eprintln!(
                "pond: warning: telemetry not delivered (collector did not answer in time)"
            ),
        }
    }
}

/// The metrics a sync run emits; names are what dashboards and alerts query.
pub mod names {
    pub const RUNS: &str = "pond.sync.runs";
    pub const DURATION: &str = "pond.sync.duration";
    pub const SESSIONS: &str = "pond.sync.sessions";
    pub const MESSAGES: &str = "pond.sync.messages";
    pub const RECORDS: &str = "pond.sync.records";
    pub const BYTES_READ: &str = "pond.sync.bytes_read";
    pub const COMMIT_RETRIES: &str = "pond.sync.commit_retries";
    pub const COMMIT_CONFLICTS: &str = "pond.sync.commit_conflicts";
    pub const UNPARSED: &str = "pond.sync.unparsed_records";
    pub const LOCK_SKIPS: &str = "pond.sync.lock_skips";
    pub const LOCK_WAITS: &str = "pond.sync.lock_waits";
    pub const LAST_SUCCESS: &str = "pond.sync.last_success";
    pub const UPKEEP_RUNS: &str = "pond.upkeep.runs";
    pub const UPKEEP_DURATION: &str = "pond.upkeep.duration";
    pub const UPKEEP_LAST_SUCCESS: &str = "pond.upkeep.last_success";
    pub const STORE_FRAGMENTS: &str = "pond.store.fragments";
    pub const STORE_VERSIONS: &str = "pond.store.versions";
    pub const STORE_BYTES: &str = "pond.store.size";
    pub const STORE_UNINDEXED: &str = "pond.store.unindexed_rows";
    pub const USAGE_TOKENS: &str = "pond.usage.tokens";
    pub const USAGE_CALLS: &str = "pond.usage.calls";
    pub const USAGE_COST: &str = "pond.usage.cost_usd";
}

/// An instrument as pond declares it: its name (from [`names`]), its unit
/// where it has one, and its description.
type Declared = (&'static str, Option<&'static str>, &'static str);

/// A builder with a [`Declared`] row's description and unit, so every
/// instrument's declaration is one row of a table.
fn declared<'m, T>(
    builder: InstrumentBuilder<'m, T>,
    unit: Option<&'static str>,
    description: &'static str,
) -> InstrumentBuilder<'m, T> {
    let builder = builder.with_description(description);
    match unit {
        Some(unit) => builder.with_unit(unit),
        None => builder,
    }
}

/// One counter per row, in the rows' order.
fn u64_counters<const N: usize>(m: &Meter, rows: [Declared; N]) -> [Counter<u64>; N] {
    rows.map(|(name, unit, description)| declared(m.u64_counter(name), unit, description).build())
}

/// One gauge per row, in the rows' order.
fn u64_gauges<const N: usize>(m: &Meter, rows: [Declared; N]) -> [Gauge<u64>; N] {
    rows.map(|(name, unit, description)| declared(m.u64_gauge(name), unit, description).build())
}

/// The counters of a sync's events: runs by outcome, skips for another
/// sync's host lock, and waits for it.
const SYNC_EVENTS: [Declared; 3] = [
    (names::RUNS, None, "Sync runs, by outcome"),
    (
        names::LOCK_SKIPS,
        None,
        "Syncs skipped because another held this host's lock",
    ),
    (
        names::LOCK_WAITS,
        None,
        "Syncs that waited for another sync's host lock",
    ),
];

/// The counters a sync that ran adds its report's figures to, in the
/// order of [`sync_figures`].
const SYNC_COUNTS: [Declared; 7] = [
    (names::SESSIONS, None, "Sessions inserted"),
    (names::MESSAGES, None, "Messages inserted"),
    (names::RECORDS, None, "Raw records inserted"),
    (names::BYTES_READ, Some("By"), "Source bytes read"),
    (
        names::COMMIT_RETRIES,
        None,
        "Store writes retried after a conflict or transient failure",
    ),
    (
        names::COMMIT_CONFLICTS,
        None,
        "Commit conflicts with other writers, resolved by Lance's rebase",
    ),
    (
        names::UNPARSED,
        None,
        "Records kept as raw bytes only because they are not valid JSON",
    ),
];

/// The report's figures for [`SYNC_COUNTS`], in its order.
fn sync_figures(report: &SyncReport) -> [u64; 7] {
    [
        report.sessions_inserted,
        report.messages_inserted,
        report.records_inserted,
        report.bytes_read,
        report.commit_retries,
        report.commit_conflicts,
        report.unparsed_records,
    ]
}

struct SyncMetrics {
    runs: Counter<u64>,
    lock_skips: Counter<u64>,
    lock_waits: Counter<u64>,
    duration: Histogram<f64>,
    /// [`SYNC_COUNTS`]'s counters, in its order.
    counts: [Counter<u64>; 7],
    last_success: Gauge<f64>,
}

fn sync_metrics() -> SyncMetrics {
    let m = opentelemetry::global::meter("pond");
    let [runs, lock_skips, lock_waits] = u64_counters(&m, SYNC_EVENTS);
    SyncMetrics {
        runs,
        lock_skips,
        lock_waits,
        duration: m
            .f64_histogram(names::DURATION)
            .with_unit("s")
            .with_description("Wall time of a sync run")
            .build(),
        counts: u64_counters(&m, SYNC_COUNTS),
        last_success: m
            .f64_gauge(names::LAST_SUCCESS)
            .with_unit("s")
            .with_description("Unix time of this host's last successful sync")
            .build(),
    }
}

/// Records one sync run's metrics (a no-op when telemetry is off).
pub fn record_sync(report: &SyncReport) {
    // Rule 18: the `pond.sync.*` metrics carry exactly the report's values.
    let m = sync_metrics();
    let outcome = [KeyValue::new("outcome", report.outcome.as_str())];
    m.runs.add(1, &outcome);
    if report.outcome == Outcome::Skipped {
        m.lock_skips.add(1, &[]);
        return;
    }
    if report.waited_for_lock {
        m.lock_waits.add(1, &[]);
    }
    m.duration.record(report.duration_secs, &outcome);
    for (counter, n) in m.counts.iter().zip(sync_figures(report)) {
        counter.add(n, &[]);
    }
    if matches!(report.outcome, Outcome::Ok | Outcome::Partial) {
        m.last_success
            .record(report.finished_at.timestamp() as f64, &[]);
    }
}

/// The counters of the model calls a run stored: tokens by kind, and calls.
const USAGE_COUNTS: [Declared; 2] = [
    (
        names::USAGE_TOKENS,
        None,
        "Tokens of model calls stored, by client, model and kind",
    ),
    (
        names::USAGE_CALLS,
        None,
        "Model calls stored, by client, model and whether a price covers them",
    ),
];

/// Records the model calls a run stored first (rule 47: each once across
/// the fleet, by the host that stored it): tokens by kind, calls and cost
/// per client and model. Those two and the token kind are the only
/// attributes, so the series stay as few as the models in use; the host
/// is the resource's `host.name`. A call no price covers adds tokens but
/// no cost, under `priced="false"`.
pub fn record_usage(report: &SyncReport, prices: &crate::spend::PriceTable) {
    if report.usage_stored.is_empty() {
        return;
    }
    let m = opentelemetry::global::meter("pond");
    let [tokens, calls] = u64_counters(&m, USAGE_COUNTS);
    let cost = m
        .f64_counter(names::USAGE_COST)
        .with_description("Cost in US dollars of model calls stored, by client and model")
        .build();
    for s in &report.usage_stored {
        let model = s.model.clone().unwrap_or_else(|| "unknown".into());
        let base = [
            KeyValue::new("client", s.client.clone()),
            KeyValue::new("model", model.clone()),
        ];
        let t = &s.tokens;
        for (kind, n) in crate::spend::token_kinds(t) {
            let mut attrs = base.to_vec();
            attrs.push(KeyValue::new("kind", kind));
            tokens.add(n, &attrs);
        }
        // Rule 48: the client's own figure where it has one, as `pond usage`.
        let day = s.day.unwrap_or(chrono::NaiveDate::MAX);
        let dollars = s
            .client_cost_usd
            .or_else(|| prices.price(&model, day).map(|p| p.cost(t)));
        let mut attrs = base.to_vec();
        attrs.push(KeyValue::new("priced", dollars.is_some() || t.is_zero()));
        calls.add(s.calls, &attrs);
        if let Some(d) = dollars {
            cost.add(d, &base);
        }
    }
}

/// The store's shape after an upkeep, per table: fragments, versions, bytes
/// and rows not yet indexed, in that order.
const STORE_GAUGES: [Declared; 4] = [
    (
        names::STORE_FRAGMENTS,
        None,
        "Fragments per table after upkeep",
    ),
    (
        names::STORE_VERSIONS,
        None,
        "Versions kept per table after upkeep",
    ),
    (
        names::STORE_BYTES,
        Some("By"),
        "Bytes the current version of each table references",
    ),
    (
        names::STORE_UNINDEXED,
        None,
        "Rows not yet in every index of the table",
    ),
];

/// Records one upkeep run and the store's shape after it.
pub fn record_upkeep(report: &crate::upkeep::UpkeepReport) {
    let m = opentelemetry::global::meter("pond");
    let outcome = [KeyValue::new("outcome", report.outcome.clone())];
    m.u64_counter(names::UPKEEP_RUNS)
        .with_description("Store upkeep runs, by outcome (busy: another host held the lease)")
        .build()
        .add(1, &outcome);
    if report.outcome == "busy" || report.outcome == "dry-run" {
        return;
    }
    m.f64_histogram(names::UPKEEP_DURATION)
        .with_unit("s")
        .with_description("Wall time of a store upkeep run")
        .build()
        .record(report.duration_secs, &outcome);
    if report.outcome == "done" {
        record_upkeep_age(chrono::Utc::now());
    }
    let gauges = u64_gauges(&m, STORE_GAUGES);
    for t in &report.tables {
        let Some(h) = &t.after else { continue };
        let table = [KeyValue::new("table", h.table.clone())];
        let figures = [h.fragments, h.versions, h.bytes, h.unindexed_rows];
        for (gauge, n) in gauges.iter().zip(figures) {
            gauge.record(n, &table);
        }
    }
}

/// The time the store's last upkeep finished, as any host that read it
/// reports it: the overdue alert needs no particular host alive.
pub fn record_upkeep_age(finished_at: chrono::DateTime<chrono::Utc>) {
    opentelemetry::global::meter("pond")
        .f64_gauge(names::UPKEEP_LAST_SUCCESS)
        .with_unit("s")
        .with_description("Unix time the store's last upkeep finished")
        .build()
        .record(finished_at.timestamp() as f64, &[]);
}
