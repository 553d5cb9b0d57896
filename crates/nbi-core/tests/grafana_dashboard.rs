//! The provisioned Grafana dashboard and the compose stack are valid and
//! speak the data contract: measurement `network_traffic` with tags `host`
//! and `process_name` and fields `in`/`out`; verdicts as `nbi_verdict`.

use std::path::PathBuf;

use serde_json::Value;

fn docker() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docker")
}

fn dashboard() -> Value {
    let path = docker().join("grafana/dashboards/nbi.json");
    let text = std::fs::read_to_string(&path).expect("dashboard file");
    serde_json::from_str(&text).expect("dashboard is valid JSON")
}

/// Every InfluxQL query in the dashboard, with where it is.
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            out.push((
                format!("panel {}", p["title"]),
                t["query"].as_str().expect("query").to_string(),
            ));
        }
    }
    for a in d["annotations"]["list"].as_array().expect("annotations") {
        if let Some(q) = a["target"]["query"].as_str() {
            out.push((format!("annotation {}", a["name"]), q.to_string()));
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating") {
        out.push((
            format!("variable {}", v["name"]),
            v["query"].as_str().expect("query").to_string(),
        ));
    }
    out
}

/// The double-quoted identifiers of an InfluxQL query.
fn identifiers(q: &str) -> Vec<&str> {
    q.split('"').skip(1).step_by(2).collect()
}

const MEASUREMENTS: &[&str] = &["network_traffic", "nbi_verdict"];
const TAGS: &[&str] = &["host", "process_name"];
const FIELDS: &[&str] = &["in", "out", "anomaly", "error", "threshold", "summary"];

#[test]
fn every_query_names_only_the_contract_s_measurements_tags_and_fields() {
    let d = dashboard();
    let qs = queries(&d);
    assert!(qs.len() >= 7, "{qs:?}");
    for (where_, q) in &qs {
        let ids = identifiers(q);
        assert!(!ids.is_empty(), "{where_}: {q}");
        for id in ids {
            assert!(
                MEASUREMENTS.contains(&id) || TAGS.contains(&id) || FIELDS.contains(&id),
                "{where_}: unknown identifier {id:?} in {q}"
            );
        }
        let from = q.split(" FROM ").nth(1).and_then(|r| r.split('"').nth(1));
        assert!(
            from.is_some_and(|m| MEASUREMENTS.contains(&m)),
            "{where_}: FROM must name a contract measurement: {q}"
        );
        if !where_.starts_with("variable") {
            assert!(q.contains("$timeFilter"), "{where_}: no time filter: {q}");
            assert!(
                q.contains(r#""host" =~ /^$host$/"#),
                "{where_}: not filtered by host: {q}"
            );
        }
    }
    // Verdicts are drawn as annotations.
    assert!(qs
        .iter()
        .any(|(w, q)| w.starts_with("annotation") && q.contains("\"nbi_verdict\"")));
}

#[test]
fn bytes_in_are_red_and_bytes_out_yellow() {
    let d = dashboard();
    let panel = |title: &str| {
        d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["title"] == title)
            .unwrap_or_else(|| panic!("no panel {title}"))
            .clone()
    };
    let color = |p: &Value| p["fieldConfig"]["defaults"]["color"]["fixedColor"].clone();
    let inp = panel("Bytes in per app");
    let out = panel("Bytes out per app");
    assert_eq!(color(&inp), "red");
    assert_eq!(color(&out), "yellow");
    assert!(inp["targets"][0]["query"]
        .as_str()
        .unwrap()
        .contains(r#"sum("in")"#));
    assert!(out["targets"][0]["query"]
        .as_str()
        .unwrap()
        .contains(r#"sum("out")"#));
    assert_eq!(panel("Top apps today (in + out)")["timeFrom"], "now/d");
    assert!(panel("Total per hour")["targets"][0]["query"]
        .as_str()
        .unwrap()
        .contains("time(1h)"));
}

#[test]
fn provisioning_points_the_dashboard_at_the_provisioned_data_source() {
    let d = dashboard();
    let uid = d["panels"][0]["datasource"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let ds =
        std::fs::read_to_string(docker().join("grafana/provisioning/datasources/influxdb.yaml"))
            .unwrap();
    assert!(ds.contains(&format!("uid: {uid}")), "{ds}");
    assert!(
        ds.contains("version: InfluxQL") && ds.contains("database: nbi"),
        "{ds}"
    );
    assert!(
        ds.contains("httpHeaderValue1: Token $NBI_INFLUX_TOKEN"),
        "the token comes from the environment: {ds}"
    );
    let providers =
        std::fs::read_to_string(docker().join("grafana/provisioning/dashboards/nbi.yaml")).unwrap();
    assert!(
        providers.contains("path: /var/lib/grafana/dashboards"),
        "{providers}"
    );
}

#[test]
fn compose_binds_every_port_to_loopback_by_default() {
    let compose = std::fs::read_to_string(docker().join("compose.yaml")).unwrap();
    let ports: Vec<&str> = compose
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- \"") && l.matches(':').count() >= 2)
        .collect();
    assert_eq!(ports.len(), 3, "{ports:?}");
    for p in ports {
        assert!(p.starts_with("- \"${NBI_BIND:-127.0.0.1}:"), "{p}");
    }
    for service in ["kafka:", "influxdb:", "grafana:"] {
        assert!(
            compose.contains(&format!("\n  {service}\n")),
            "no service {service}"
        );
    }
    assert!(
        compose.contains("KAFKA_PROCESS_ROLES: broker,controller"),
        "Kafka in KRaft mode"
    );
}
