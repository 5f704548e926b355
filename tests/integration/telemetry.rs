//! OTLP export, checked by a receiver that decodes the real OTLP protobuf.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, metric, number_data_point,
};
use prost::Message;

use crate::harness::{Pond, assert_success, count, fixtures, item_where, output_within};

#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    /// Lower-cased HTTP header names seen.
    headers: BTreeSet<String>,
}

impl Received {
    /// Every metric of every export, whatever resource and scope it came in.
    fn all_metrics(&self) -> impl Iterator<Item = &Metric> + '_ {
        self.metrics
            .iter()
            .flat_map(|m| &m.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
    }
}

/// An OTLP/HTTP receiver on loopback: decodes `/v1/traces` and `/v1/metrics`.
fn http_receiver() -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let sink = sink.clone();
            std::thread::spawn(move || serve(conn, &sink));
        }
    });
    (endpoint, received)
}

fn serve(conn: std::net::TcpStream, sink: &Mutex<Received>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                sink.lock().unwrap().headers.insert(format!(
                    "{}={}",
                    k.trim().to_ascii_lowercase(),
                    v.trim()
                ));
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        {
            let mut r = sink.lock().unwrap();
            match path.as_str() {
                "/v1/traces" => r
                    .traces
                    .push(ExportTraceServiceRequest::decode(body.as_slice()).unwrap()),
                "/v1/metrics" => r
                    .metrics
                    .push(ExportMetricsServiceRequest::decode(body.as_slice()).unwrap()),
                other => panic!("unexpected OTLP path {other}"),
            }
        }
        conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
    }
}

fn text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

/// The values of one resource attribute across every exported trace.
fn resource_values(traces: &[ExportTraceServiceRequest], key: &str) -> BTreeSet<String> {
    traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .map(|rs| attrs(&rs.resource.as_ref().unwrap().attributes)[key].clone())
        .collect()
}

const SECRET: &str = "SUPERSECRET-credential-4711";

/// A sync of the codex fixture exporting to `endpoint`, with `env` added,
/// required to succeed: how each export check begins.
fn exporting_sync(pond: &Pond, endpoint: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = pond.sync_cmd("codex", &fixtures("codex"));
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert_success(&out);
    out
}

#[test]
fn rule18_one_sync_exports_its_spans_and_metrics_over_otlp_http() {
    let (endpoint, received) = http_receiver();
    let pond = Pond::new();
    let out = exporting_sync(
        &pond,
        &endpoint,
        &[
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-pond-tenant=team-a"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = received.lock().unwrap();

    // Traces: one root span for the run, with the stages beneath it.
    let spans: Vec<_> = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| {
            rs.scope_spans
                .iter()
                .flat_map(|ss| &ss.spans)
                .map(move |s| (rs, s))
        })
        .collect();
    let names: BTreeSet<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    for name in [
        "pond.sync",
        "sync.adapter",
        "discover",
        "commit",
        "store.write",
        "fleet.record",
    ] {
        assert!(names.contains(name), "span {name} missing from {names:?}");
    }
    let (resource, root) = spans.iter().find(|(_, s)| s.name == "pond.sync").unwrap();
    assert!(root.parent_span_id.is_empty(), "pond.sync is a root span");
    assert!(
        spans.iter().all(|(_, s)| s.trace_id == root.trace_id),
        "one trace per run"
    );
    let root_attrs = attrs(&root.attributes);
    assert_eq!(root_attrs["outcome"], "ok");
    assert_eq!(root_attrs["host"], "test-host");
    assert_eq!(
        root_attrs["records_inserted"],
        report["records_inserted"].to_string()
    );
    let res = attrs(&resource.resource.as_ref().unwrap().attributes);
    assert_eq!(res["service.name"], "pond");
    assert_eq!(res["host.name"], "test-host");
    assert_eq!(res["pond.store"], pond.store_url);
    assert!(res.contains_key("service.version"));

    // Metrics, with the run's numbers.
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for m in r.all_metrics() {
        let value: f64 = match &m.data {
            Some(metric::Data::Sum(s)) => s.data_points.iter().map(point).sum(),
            Some(metric::Data::Gauge(g)) => g.data_points.iter().map(point).sum(),
            Some(metric::Data::Histogram(h)) => h.data_points.iter().map(|p| p.count as f64).sum(),
            _ => 0.0,
        };
        sums.insert(m.name.clone(), value);
    }
    assert_eq!(sums.get("pond.sync.runs"), Some(&1.0), "{sums:?}");
    assert_eq!(
        sums.get("pond.sync.duration"),
        Some(&1.0),
        "one duration sample"
    );
    assert_eq!(
        sums.get("pond.sync.records"),
        Some(&(count(&report, "records_inserted") as f64))
    );
    assert_eq!(
        sums.get("pond.sync.messages"),
        Some(&(count(&report, "messages_inserted") as f64))
    );
    assert_eq!(
        sums.get("pond.sync.bytes_read"),
        Some(&(count(&report, "bytes_read") as f64))
    );
    for name in [
        "pond.sync.sessions",
        "pond.sync.commit_retries",
        "pond.sync.unparsed_records",
        "pond.sync.last_success",
    ] {
        assert!(
            sums.contains_key(name),
            "metric {name} missing from {sums:?}"
        );
    }

    assert!(
        r.headers.contains("x-pond-tenant=team-a"),
        "OTEL_EXPORTER_OTLP_HEADERS reach the collector"
    );
    assert!(
        sums.contains_key("pond.sync.commit_conflicts"),
        "commit conflicts missing from {sums:?}"
    );

    // Each process is its own instance, and its counters are deltas: the
    // collector adds the runs of a host into one total (decisions.md).
    let instance = res["service.instance.id"].clone();
    assert_eq!(instance.len(), 32, "instance id {instance:?}");
    for rm in r.metrics.iter().flat_map(|m| &m.resource_metrics) {
        let attributes = attrs(&rm.resource.as_ref().expect("resource").attributes);
        assert_eq!(
            attributes["service.instance.id"], instance,
            "spans and metrics name the same instance"
        );
    }
    let delta = AggregationTemporality::Delta as i32;
    for m in r.all_metrics() {
        match &m.data {
            Some(metric::Data::Sum(s)) => {
                assert_eq!(
                    s.aggregation_temporality, delta,
                    "{} is not a delta",
                    m.name
                );
                assert!(s.is_monotonic, "{} is a counter", m.name);
            }
            Some(metric::Data::Histogram(h)) => {
                assert_eq!(
                    h.aggregation_temporality, delta,
                    "{} is not a delta",
                    m.name
                );
            }
            _ => {}
        }
    }
    drop(spans);
    drop(r);

    // The next run of the same host is another instance.
    received.lock().unwrap().traces.clear();
    exporting_sync(&pond, &endpoint, &[]);
    let r = received.lock().unwrap();
    let second = resource_values(&r.traces, "service.instance.id");
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(!second.contains(instance.as_str()), "a new id per process");

    // Nothing exported carries a credential.
    let everything = format!("{:?}{:?}", r.traces, r.metrics);
    assert!(!everything.contains(SECRET));
}

fn point(p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        Some(number_data_point::Value::AsDouble(d)) => d,
        None => 0.0,
    }
}

#[test]
fn rule17_collector_down_costs_a_warning_not_the_sync() {
    let pond = Pond::new();
    let out = output_within(
        pond.sync_cmd("codex", &fixtures("codex"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        Duration::from_secs(60),
    );
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "ok");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("telemetry not delivered"), "{stderr}");
}

#[test]
fn rule17_telemetry_is_off_without_an_endpoint_and_when_disabled() {
    let (endpoint, received) = http_receiver();
    let pond = Pond::new();
    pond.codex_sync_cmd()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_SDK_DISABLED", "true")
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r = received.lock().unwrap();
    assert!(r.traces.is_empty() && r.metrics.is_empty());
}

/// The Prometheus names the collector's exporter gives an OTLP metric:
/// dots to underscores, the unit as a suffix, `_total` on monotonic sums,
/// `_bucket`/`_sum`/`_count` on histograms.
fn prometheus_names(m: &opentelemetry_proto::tonic::metrics::v1::Metric) -> Vec<String> {
    let mut base = m.name.replace('.', "_");
    match m.unit.as_str() {
        "s" => base.push_str("_seconds"),
        "By" => base.push_str("_bytes"),
        _ => {}
    }
    match &m.data {
        Some(metric::Data::Sum(s)) if s.is_monotonic => vec![format!("{base}_total")],
        Some(metric::Data::Histogram(_)) => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|x| format!("{base}{x}"))
            .collect(),
        _ => vec![base],
    }
}

fn deploy(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(path),
    )
    .unwrap()
}

/// Every `pond_*` series name in a query.
fn series_in(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.starts_with("pond_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn rule19_dashboard_alerts_and_collector_config_parse_and_query_only_emitted_metrics() {
    use yaml_rust2::YamlLoader;

    // What pond emits, seen through a real receiver (a failed-free run plus a
    // skipped one, so every instrument has a sample).
    let (endpoint, received) = http_receiver();
    let pond = Pond::new();
    let out = pond
        .codex_sync_cmd()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Upkeep's instruments: the store's shape and the last upkeep's time.
    let out = pond
        .cmd(&["maintain", "--retain", "1s"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .output()
        .unwrap();
    assert_success(&out);
    let mut emitted: BTreeSet<String> = received
        .lock()
        .unwrap()
        .all_metrics()
        .flat_map(prometheus_names)
        .collect();
    // And what `pond serve` exports at /metrics from the store (the series
    // the alerts and the dashboard read), with an ephemeral group in it.
    crate::prometheus::store_with_every_series(&pond);
    emitted.extend(crate::prometheus::exposition_names(&pond));

    let collector =
        YamlLoader::load_from_str(&deploy("otel/collector.yaml")).expect("collector config parses");
    assert!(!collector[0]["receivers"]["otlp"].is_badvalue());
    assert!(!collector[0]["exporters"]["prometheus"].is_badvalue());
    // Deltas from each process become one total per host: the instance id
    // is dropped from metrics before deltatocumulative adds the runs up.
    let pipeline: Vec<&str> = collector[0]["service"]["pipelines"]["metrics"]["processors"]
        .as_vec()
        .expect("metrics processors")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(
        pipeline,
        ["resource/one-series-per-host", "deltatocumulative", "batch"]
    );
    assert_eq!(
        collector[0]["processors"]["resource/one-series-per-host"]["attributes"][0]["key"].as_str(),
        Some("service.instance.id")
    );
    for other in [
        "prometheus/prometheus.yaml",
        "docker/compose.yaml",
        "docker/tempo.yaml",
        "docker/grafana-provisioning/datasources/datasources.yaml",
        "docker/grafana-provisioning/dashboards/pond.yaml",
        "ci/github-actions.yaml",
    ] {
        let docs =
            YamlLoader::load_from_str(&deploy(other)).unwrap_or_else(|e| panic!("{other}: {e}"));
        assert!(!docs.is_empty(), "{other} is empty");
    }

    let mut queries = Vec::new();
    let alerts =
        YamlLoader::load_from_str(&deploy("prometheus/alerts.yaml")).expect("alert rules parse");
    for rule in alerts[0]["groups"][0]["rules"].as_vec().expect("rules") {
        queries.push(rule["expr"].as_str().expect("expr").to_string());
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&deploy("grafana/pond-fleet.json")).expect("dashboard parses");
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queries.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    let queried: BTreeSet<String> = queries.iter().flat_map(|q| series_in(q)).collect();
    assert!(queried.len() >= 7, "{queried:?}");
    let unknown: Vec<&String> = queried.difference(&emitted).collect();
    assert!(
        unknown.is_empty(),
        "queried but never emitted: {unknown:?} (emitted: {emitted:?})"
    );
}

#[test]
fn config_show_names_each_source_and_masks_secrets() {
    let (endpoint, received) = http_receiver();
    let pond = Pond::new();
    let config = pond.write_config(&format!(
        "[store]\nurl = \"{}\"\n[store.options]\naws_secret_access_key = \"TOPSECRET-99\"\naws_region = \"eu-west-1\"\n[telemetry]\nendpoint = \"{endpoint}\"\nservice_name = \"pond-ci\"\n",
        pond.store.display()
    ));
    let show = pond
        .cmd(&["config", "show", "--json"])
        .env("POND_CONFIG", &config)
        .env_remove("POND_STORE")
        .output()
        .unwrap();
    assert_success(&show);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(!text.contains("TOPSECRET-99"), "{text}");
    let settings: serde_json::Value = serde_json::from_str(&text).unwrap();
    let get = |key: &str| item_where(&settings, "key", key).clone();
    assert_eq!(get("store")["source"], "file");
    assert_eq!(
        get("host")["source"],
        "env",
        "POND_HOST is set by the harness"
    );
    assert_eq!(get("store.options.aws_secret_access_key")["value"], "***");
    assert_eq!(get("store.options.aws_region")["value"], "eu-west-1");
    assert_eq!(get("telemetry.endpoint")["source"], "file");
    assert_eq!(get("telemetry.service_name")["value"], "pond-ci");

    // The file's [telemetry] alone turns export on.
    let out = pond
        .codex_sync_cmd()
        .env("POND_CONFIG", &config)
        .env_remove("POND_STORE")
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = received.lock().unwrap();
    let services = resource_values(&r.traces, "service.name");
    assert_eq!(services, BTreeSet::from(["pond-ci".to_string()]));
}

const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// An OTLP/gRPC receiver: HTTP/2, gRPC framing, the real protobuf messages.
fn grpc_receiver() -> (String, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let sink = sink.clone();
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(socket).await else {
                        return;
                    };
                    while let Some(Ok((request, respond))) = conn.accept().await {
                        tokio::spawn(grpc_call(request, respond, sink.clone()));
                    }
                });
            }
        });
    });
    (endpoint, received)
}

async fn grpc_call(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<bytes::Bytes>,
    sink: Arc<Mutex<Received>>,
) {
    let path = request.uri().path().to_string();
    let mut body = request.into_body();
    let mut buf = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    // gRPC message framing: compressed flag (1 byte), length (4 bytes, big endian).
    assert_eq!(buf[0], 0, "uncompressed");
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    let message = &buf[5..5 + len];
    {
        let mut r = sink.lock().unwrap();
        match path.as_str() {
            TRACE_EXPORT => r
                .traces
                .push(ExportTraceServiceRequest::decode(message).unwrap()),
            METRICS_EXPORT => r
                .metrics
                .push(ExportMetricsServiceRequest::decode(message).unwrap()),
            other => panic!("unexpected gRPC method {other}"),
        }
    }
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let mut send = respond.send_response(response, false).unwrap();
    // An empty Export*ServiceResponse, then the gRPC status.
    send.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), false)
        .unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    send.send_trailers(trailers).unwrap();
}

#[test]
fn rule18_one_sync_exports_over_otlp_grpc_too() {
    let (endpoint, received) = grpc_receiver();
    let pond = Pond::new();
    let out = exporting_sync(&pond, &endpoint, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not delivered"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = received.lock().unwrap();
    let root = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .find(|s| s.name == "pond.sync")
        .expect("the root span arrives over gRPC");
    assert_eq!(
        attrs(&root.attributes)["records_inserted"],
        report["records_inserted"].to_string()
    );
    let metric_names: BTreeSet<&str> = r.all_metrics().map(|m| m.name.as_str()).collect();
    assert!(
        metric_names.contains("pond.sync.runs") && metric_names.contains("pond.sync.records"),
        "{metric_names:?}"
    );
}
