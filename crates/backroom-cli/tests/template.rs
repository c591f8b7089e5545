//! Checks on `template.yaml` that cfn-lint cannot make, because they are about this project:
//! every function has its crate and every crate its function, every queue redrives to a
//! dead-letter queue, every alarm tells someone, no secret is written in the template, every
//! function logs to its own log group with a retention, the worker reports partial batch
//! failures, the public routes are the documented ones (one CloudFront distribution routing each
//! path to its function's URL; no API Gateway), the public functions' concurrency is reserved
//! only when asked for, each role holds only what its function needs, order events go to one
//! archived bus only the publishers may put to and only when they are on, and the example
//! integration exists only when configured. The last test runs cfn-lint itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

/// The crates whose functions never touch the database.
const WEBHOOK_CRATES: [&str; 2] = ["stripe-webhook", "printful-webhook"];
/// The crates whose functions raise alerts on SNS.
const ALERTING_CRATES: [&str; 4] = ["event-worker", "stripe-catchup", "printful-catchup", "reconciler"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

fn template() -> Value {
    let path = workspace().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The resources of a type, by logical id.
fn resources<'a>(t: &'a Value, kind: &str) -> BTreeMap<String, &'a Value> {
    t["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(id, r)| (id.as_str().expect("logical ids are strings").to_string(), r))
        .collect()
}

/// An intrinsic function in either form: the short tag (`!Ref X`) or the long key (`Ref: X`).
fn intrinsic(v: &Value) -> Option<(&str, &Value)> {
    match v {
        Value::Tagged(t) => {
            let name = t.tag.to_string();
            Some((short_name(name.trim_start_matches('!')), &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k.starts_with("Fn::")).then(|| (short_name(k.trim_start_matches("Fn::")), inner))
        }
        _ => None,
    }
}

fn short_name(name: &str) -> &'static str {
    match name {
        "Ref" => "Ref",
        "GetAtt" => "GetAtt",
        "Sub" => "Sub",
        "If" => "If",
        "Join" => "Join",
        _ => "other",
    }
}

/// The logical id that `!Ref X` or `!GetAtt X.Attr` points at.
fn target(v: &Value) -> Option<String> {
    match intrinsic(v)? {
        ("Ref", inner) => inner.as_str().map(str::to_string),
        ("GetAtt", Value::String(s)) => s.split('.').next().map(str::to_string),
        ("GetAtt", Value::Sequence(parts)) => parts.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

/// Each function's crate directory name (`lambdas/<name>`), by logical id.
fn functions(t: &Value) -> BTreeMap<String, (String, &Value)> {
    resources(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| {
            let uri = f["Properties"]["CodeUri"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} has no CodeUri string"));
            let name = uri.trim_end_matches('/');
            let name = name
                .strip_prefix("target/lambda/")
                .or_else(|| name.strip_prefix("lambdas/"))
                .unwrap_or(name)
                .to_string();
            (id, (name, f))
        })
        .collect()
}

/// A function property, or the Globals one when the function does not set it.
fn property<'a>(t: &'a Value, f: &'a Value, key: &str) -> Option<&'a Value> {
    f["Properties"].get(key).or_else(|| t["Globals"]["Function"].get(key))
}

#[test]
fn every_function_has_a_crate_and_every_crate_a_function() {
    let t = template();
    let mut problems = vec![];
    let mut declared = BTreeSet::new();
    for (id, (name, _)) in functions(&t) {
        // cargo-lambda builds the binary named after the crate into target/lambda/<crate>/bootstrap
        // (every_function_ships_the_one_release_build_of_this_commit checks the CodeUri).
        let manifest = workspace().join("lambdas").join(&name).join("Cargo.toml");
        match std::fs::read_to_string(&manifest) {
            Ok(text) if text.contains(&format!("name = \"{name}\"")) => {}
            Ok(_) => problems.push(format!(
                "{id}: {} does not name its package {name:?}",
                manifest.display()
            )),
            Err(_) => problems.push(format!(
                "{id}: lambdas/{name} has no Cargo.toml (the crate does not exist)"
            )),
        }
        declared.insert(name);
    }
    let lambdas = std::fs::read_dir(workspace().join("lambdas")).expect("lambdas/ exists");
    for entry in lambdas {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if path.join("Cargo.toml").is_file() && !declared.contains(&name) {
            problems.push(format!(
                "lambdas/{name} is a crate that no AWS::Serverless::Function deploys"
            ));
        }
    }
    for (key, want) in [("Runtime", "provided.al2023"), ("Handler", "bootstrap")] {
        if t["Globals"]["Function"][key].as_str() != Some(want) {
            problems.push(format!("Globals.Function.{key} is not {want}"));
        }
    }
    if t["Globals"]["Function"]["Architectures"] != Value::Sequence(vec![Value::from("arm64")]) {
        problems.push("Globals.Function.Architectures is not [arm64]".into());
    }
    assert!(
        problems.is_empty(),
        "functions and crates disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn queues_that_are_not_dead_letter_queues_redrive_after_five_receives() {
    let t = template();
    let queues = resources(&t, "AWS::SQS::Queue");
    let mut dead_letter: BTreeSet<String> = queues
        .values()
        .filter_map(|q| target(&q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
        .collect();
    // EventBridge rule targets' dead-letter queues are dead-letter queues too.
    dead_letter.extend(
        resources(&t, "AWS::Events::Rule")
            .values()
            .flat_map(|r| r["Properties"]["Targets"].as_sequence().into_iter().flatten())
            .filter_map(|target_| target(&target_["DeadLetterConfig"]["Arn"])),
    );
    // So are the queues that keep the records of failed asynchronous runs.
    dead_letter.extend(functions(&t).values().filter_map(|(_, f)| {
        target(&f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"])
    }));
    assert!(!dead_letter.is_empty(), "no queue has a dead-letter queue");
    for (id, q) in &queues {
        let props = &q["Properties"];
        if dead_letter.contains(id) {
            assert_eq!(
                props["MessageRetentionPeriod"].as_u64(),
                Some(14 * 24 * 3600),
                "{id}: a DLQ keeps 14 days"
            );
            continue;
        }
        let redrive = &props["RedrivePolicy"];
        assert_eq!(
            redrive["maxReceiveCount"].as_u64(),
            Some(5),
            "{id}: RedrivePolicy.maxReceiveCount must be 5"
        );
        let dlq = target(&redrive["deadLetterTargetArn"]);
        assert!(
            dlq.as_ref().is_some_and(|d| queues.contains_key(d)),
            "{id}: the dead-letter target {dlq:?} is not a queue of this template"
        );
    }
    // Lambda's guidance: the visibility timeout is at least 6x the consuming function's timeout.
    for (id, (_, f)) in functions(&t) {
        let timeout = property(&t, f, "Timeout").and_then(Value::as_u64).expect("a timeout");
        for event in f["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
        {
            if event["Type"].as_str() != Some("SQS") {
                continue;
            }
            let queue = target(&event["Properties"]["Queue"]).expect("the SQS event names a queue of this template");
            let visibility = queues[&queue]["Properties"]["VisibilityTimeout"].as_u64().unwrap_or(30);
            assert!(
                visibility >= 6 * timeout,
                "{queue}: VisibilityTimeout {visibility} s is less than 6x {id}'s timeout of {timeout} s"
            );
        }
    }
}

#[test]
fn alarms_have_actions_and_stay_within_ten() {
    let t = template();
    let alarms = resources(&t, "AWS::CloudWatch::Alarm");
    let topics = resources(&t, "AWS::SNS::Topic");
    assert!(!alarms.is_empty(), "no alarm at all");
    assert!(
        alarms.len() <= 10,
        "{} alarms: at most 10 stay in CloudWatch's free tier",
        alarms.len()
    );
    for (id, alarm) in &alarms {
        let actions = alarm["Properties"]["AlarmActions"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        assert!(!actions.is_empty(), "{id} has no AlarmActions: nobody would hear it");
        for action in &actions {
            let topic = target(action);
            assert!(
                topic.as_ref().is_some_and(|tp| topics.contains_key(tp)),
                "{id}: action {action:?} is not one of this template's SNS topics"
            );
        }
        // Metric math would count several alarm metrics; each alarm watches exactly one.
        assert!(alarm["Properties"].get("Metrics").is_none(), "{id} uses metric math");
    }
}

/// Where a string looks like a secret: a Stripe key or webhook secret, or a long random token.
fn secret_in(s: &str) -> Option<String> {
    for prefix in ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"] {
        if s.contains(prefix) {
            return Some(format!("contains {prefix}"));
        }
    }
    let runs = |allowed: fn(char) -> bool| -> Vec<String> {
        s.split(|c: char| !allowed(c))
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    if let Some(run) = runs(|c| c.is_ascii_hexdigit()).into_iter().find(|r| r.len() >= 32) {
        return Some(format!("holds a {}-character hex token", run.len()));
    }
    let base64 = |c: char| c.is_ascii_alphanumeric() || "+/=_-".contains(c);
    let random = |r: &String| {
        r.len() >= 40 && r.chars().any(|c| c.is_ascii_digit()) && r.chars().any(|c| c.is_ascii_alphabetic())
    };
    runs(base64)
        .into_iter()
        .find(random)
        .map(|run| format!("holds a {}-character token", run.len()))
}

fn strings<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, format!("{path}[{i}]"), out);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m {
                let key = k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}"));
                strings(item, format!("{path}.{key}"), out);
            }
        }
        Value::Tagged(tagged) => strings(&tagged.value, format!("{path}{}", tagged.tag), out),
        _ => {}
    }
}

#[test]
fn the_secret_detector_finds_secrets_and_passes_names() {
    for secret in [
        "sk_live_51Habc",
        "whsec_abc",
        "token 0123456789abcdef0123456789abcdef",
        "c2VjcmV0LXZhbHVlLXRoYXQtaXMtbG9uZy1lbm91Z2g9PQ",
    ] {
        assert!(secret_in(secret).is_some(), "{secret:?} was not taken for a secret");
    }
    for harmless in [
        "/backroom/stripe/webhook-secrets",
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${StripeSecretKeyParam}",
        "/aws/lambda/${AWS::StackName}-printful-catchup",
        "https://${FrontDoor.DomainName}/webhooks/printful/<PRINTFUL_WEBHOOK_TOKEN>",
    ] {
        assert_eq!(secret_in(harmless), None, "{harmless:?} was taken for a secret");
    }
}

#[test]
fn no_secret_is_written_in_the_template() {
    let t = template();
    let mut all = vec![];
    strings(&t, String::new(), &mut all);
    let found: Vec<String> = all
        .iter()
        .filter_map(|(path, s)| secret_in(s).map(|why| format!("{path}: {why}")))
        .collect();
    assert!(
        found.is_empty(),
        "secret-looking values in template.yaml:\n  {}",
        found.join("\n  ")
    );

    // Parameters that concern secrets hold SSM parameter NAMES, never values.
    let parameters = t["Parameters"].as_mapping().expect("Parameters");
    for (name, p) in parameters {
        let name = name.as_str().unwrap_or_default();
        assert!(
            !(p.get("NoEcho").is_some() && p.get("Default").is_some()),
            "{name}: a NoEcho parameter with a default is a secret in the template"
        );
        let secretish = ["Secret", "Token", "Key"].iter().any(|w| name.contains(w));
        if !secretish {
            continue;
        }
        assert!(
            name.ends_with("Param"),
            "{name} looks like a secret: pass the SSM parameter name as {name}Param"
        );
        let default = p["Default"].as_str().unwrap_or_default();
        assert!(
            default.is_empty() || default.starts_with('/'),
            "{name}: default {default:?} is not an SSM parameter name"
        );
    }

    // Environment variables about secrets carry the parameter name (`*_PARAM`), from a parameter.
    for (id, (_, f)) in functions(&t) {
        let Some(vars) = f["Properties"]["Environment"]["Variables"].as_mapping() else {
            continue;
        };
        for (var, value) in vars {
            let var = var.as_str().unwrap_or_default();
            if !["SECRET", "TOKEN", "KEY"].iter().any(|w| var.contains(w)) {
                continue;
            }
            assert!(
                var.ends_with("_PARAM"),
                "{id}: {var} would hold a secret in plain configuration"
            );
            let from_parameter = match intrinsic(value) {
                Some(("Ref", _)) => true,
                Some(("If", Value::Sequence(branches))) => branches.iter().skip(1).all(|b| intrinsic(b).is_some()),
                _ => false,
            };
            assert!(from_parameter, "{id}: {var} is not taken from a template parameter");
        }
    }
}

#[test]
fn every_function_logs_json_to_its_own_log_group_with_a_retention() {
    let t = template();
    let groups = resources(&t, "AWS::Logs::LogGroup");
    let mut used = BTreeSet::new();
    for (id, (_, f)) in functions(&t) {
        let group = target(&f["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup does not point at a log group of this template"));
        let retention = groups
            .get(&group)
            .and_then(|g| g["Properties"]["RetentionInDays"].as_u64());
        assert_eq!(retention, Some(14), "{id}: log group {group} must keep logs 14 days");
        assert!(
            used.insert(group.clone()),
            "{id}: log group {group} is shared with another function"
        );
        let format = f["Properties"]["LoggingConfig"]
            .get("LogFormat")
            .or_else(|| t["Globals"]["Function"]["LoggingConfig"].get("LogFormat"));
        assert_eq!(format.and_then(Value::as_str), Some("JSON"), "{id}: logs are not JSON");
    }
}

#[test]
fn the_worker_reports_partial_failures_with_at_most_two_batches() {
    let t = template();
    let all = functions(&t);
    let (id, (_, worker)) = all
        .iter()
        .find(|(_, (name, _))| name == "event-worker")
        .expect("an event-worker function");
    let sqs: Vec<&Value> = worker["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|e| e["Type"].as_str() == Some("SQS"))
        .collect();
    assert_eq!(sqs.len(), 1, "{id} has one SQS event source");
    let props = &sqs[0]["Properties"];
    let types = props["FunctionResponseTypes"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    assert!(
        types.contains(&Value::from("ReportBatchItemFailures")),
        "{id} must report partial batch failures"
    );
    assert_eq!(
        props["ScalingConfig"]["MaximumConcurrency"].as_u64(),
        Some(2),
        "{id}: MaximumConcurrency"
    );
    assert_eq!(props["BatchSize"].as_u64(), Some(10), "{id}: BatchSize");
}

/// `!If [Condition, then, else]` as its three parts.
fn if_parts(v: &Value) -> Option<(&str, &Value, &Value)> {
    match intrinsic(v)? {
        ("If", Value::Sequence(parts)) if parts.len() == 3 => Some((parts[0].as_str()?, &parts[1], &parts[2])),
        _ => None,
    }
}

fn is_no_value(v: &Value) -> bool {
    target(v).as_deref() == Some("AWS::NoValue")
}

/// The three public functions: crate name and logical id.
const PUBLIC_FUNCTIONS: [(&str, &str); 3] = [
    ("checkout-api", "CheckoutApiFunction"),
    ("stripe-webhook", "StripeWebhookFunction"),
    ("printful-webhook", "PrintfulWebhookFunction"),
];

/// The distribution's behaviours: (path pattern, or "*" for the default, origin id).
fn behaviours(config: &Value) -> Vec<(String, String, &Value)> {
    let mut out = vec![(
        "*".to_string(),
        config["DefaultCacheBehavior"]["TargetOriginId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        &config["DefaultCacheBehavior"],
    )];
    for b in config["CacheBehaviors"].as_sequence().into_iter().flatten() {
        out.push((
            b["PathPattern"].as_str().unwrap_or_default().to_string(),
            b["TargetOriginId"].as_str().unwrap_or_default().to_string(),
            b,
        ));
    }
    out
}

/// CloudFront's path pattern match (`*` any run of characters, `?` one), case-sensitive.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

#[test]
fn public_routes_are_the_documented_ones() {
    let t = template();
    // No API Gateway: its requests have no permanent free tier.
    for kind in [
        "AWS::Serverless::HttpApi",
        "AWS::Serverless::Api",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGateway::RestApi",
    ] {
        assert!(resources(&t, kind).is_empty(), "{kind} in the template");
    }
    let all = functions(&t);
    for (name, f) in all.values() {
        for event in f["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
        {
            let kind = event["Type"].as_str().unwrap_or_default();
            assert!(kind != "HttpApi" && kind != "Api", "{name} has an API Gateway event");
        }
        // Only the public functions have a URL, each public (the distribution must reach it and
        // Stripe and Printful cannot sign for an origin access control), and none answers CORS
        // itself: checkout-api's own CORS layer does, and two would double the headers.
        let url = &f["Properties"]["FunctionUrlConfig"];
        let public = PUBLIC_FUNCTIONS.iter().any(|(n, _)| n == name);
        assert_eq!(!url.is_null(), public, "{name}: FunctionUrlConfig");
        if public {
            assert_eq!(url["AuthType"].as_str(), Some("NONE"), "{name}: AuthType");
            assert!(url.get("Cors").is_none(), "{name}: the function URL answers CORS too");
        }
    }

    let distributions = resources(&t, "AWS::CloudFront::Distribution");
    assert_eq!(
        distributions.keys().collect::<Vec<_>>(),
        ["FrontDoor"],
        "one distribution"
    );
    let config = &distributions["FrontDoor"]["Properties"]["DistributionConfig"];
    // Each origin is the URL of one public function.
    let mut origins = BTreeMap::new();
    for origin in config["Origins"].as_sequence().expect("Origins") {
        let id = origin["Id"].as_str().unwrap().to_string();
        // `!Select [2, !Split ["/", !GetAtt <Function>Url.FunctionUrl]]`: the URL's host.
        let domain = format!("{:?}", origin["DomainName"]);
        let url_of: Vec<String> = PUBLIC_FUNCTIONS
            .iter()
            .filter(|(_, logical)| domain.contains(&format!("\"{logical}Url.FunctionUrl\"")))
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(
            url_of.len(),
            1,
            "origin {id} is not one function's URL: {:?}",
            origin["DomainName"]
        );
        assert_eq!(
            origin["CustomOriginConfig"]["OriginProtocolPolicy"].as_str(),
            Some("https-only"),
            "{id}"
        );
        origins.insert(id, url_of[0].clone());
    }
    assert_eq!(origins.len(), 3, "{origins:?}");

    let behaviours = behaviours(config);
    for (pattern, origin, b) in &behaviours {
        assert!(origins.contains_key(origin), "{pattern}: unknown origin {origin}");
        // Nothing cached, every method, the query string and every header but Host forwarded.
        assert_eq!(
            b["CachePolicyId"].as_str(),
            Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
            "{pattern}: Managed-CachingDisabled"
        );
        assert_eq!(
            b["OriginRequestPolicyId"].as_str(),
            Some("b689b0a8-53d0-40ab-baf2-68738e2966ac"),
            "{pattern}: Managed-AllViewerExceptHostHeader (a function URL answers only to its own Host)"
        );
        assert_eq!(
            b["AllowedMethods"].as_sequence().map(|m| m.len()),
            Some(7),
            "{pattern}: every method (POST for checkout and webhooks, OPTIONS for CORS)"
        );
        assert_eq!(b["ViewerProtocolPolicy"].as_str(), Some("https-only"), "{pattern}");
    }
    // Each documented route reaches its function: the first behaviour whose pattern matches, in
    // order, else the default.
    let route = |path: &str| -> String {
        let origin = behaviours[1..]
            .iter()
            .find(|(pattern, _, _)| pattern_matches(pattern, path))
            .map_or(&behaviours[0].1, |(_, origin, _)| origin);
        origins[origin].clone()
    };
    for (path, function) in [
        ("/catalog", "checkout-api"),
        ("/checkout", "checkout-api"),
        ("/orders/0194f1c2-7a3b-7c4d-8e5f-6a7b8c9d0e1f", "checkout-api"),
        ("/health", "checkout-api"),
        ("/webhooks/stripe", "stripe-webhook"),
        (
            "/webhooks/printful/0123456789abcdef0123456789abcdef",
            "printful-webhook",
        ),
        // Nothing else reaches a webhook function.
        ("/webhooks/printful", "checkout-api"),
        ("/webhooks/stripe/other", "checkout-api"),
    ] {
        assert_eq!(route(path), function, "{path}");
    }
}

#[test]
fn the_base_url_everything_uses_is_the_distribution() {
    // The reconciler checks `{WEBHOOK_BASE_URL}/webhooks/stripe` and
    // `{WEBHOOK_BASE_URL}/webhooks/printful/<token>`, `backroom setup webhooks` registers them
    // from ApiUrl, and the storefront calls {ApiUrl}catalog: all the distribution's domain.
    let t = template();
    let base = "https://${FrontDoor.DomainName}";
    let reconciler = &t["Resources"]["ReconcilerFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(sub_string(&reconciler["WEBHOOK_BASE_URL"]), Some(base));
    let outputs = &t["Outputs"];
    assert_eq!(
        sub_string(&outputs["ApiUrl"]["Value"]),
        Some(format!("{base}/").as_str())
    );
    assert_eq!(
        sub_string(&outputs["StripeWebhookUrl"]["Value"]),
        Some(format!("{base}/webhooks/stripe").as_str())
    );
    assert_eq!(
        sub_string(&outputs["PrintfulWebhookUrl"]["Value"]),
        Some(format!("{base}/webhooks/printful/<PRINTFUL_WEBHOOK_TOKEN>").as_str())
    );
}

#[test]
fn public_concurrency_is_reserved_only_when_asked_for() {
    // A reservation must leave the account 100 unreserved executions, and a new account may
    // have 10 in all: a reservation in the template would fail the first deploy there.
    let t = template();
    let parameter = &t["Parameters"]["PublicConcurrencyLimit"];
    assert_eq!(parameter["Default"].as_u64(), Some(0), "no reservation by default");
    assert_eq!(parameter["MinValue"].as_u64(), Some(0));
    let all = functions(&t);
    for (id, (name, f)) in &all {
        let reserved = f["Properties"].get("ReservedConcurrentExecutions");
        if PUBLIC_FUNCTIONS.iter().any(|(n, _)| n == name) {
            let (condition, then, otherwise) = if_parts(reserved.unwrap_or(&Value::Null))
                .unwrap_or_else(|| panic!("{id}: reserved only by a condition"));
            assert_eq!(condition, "HasPublicConcurrencyLimit", "{id}");
            assert_eq!(target(then).as_deref(), Some("PublicConcurrencyLimit"), "{id}");
            assert!(is_no_value(otherwise), "{id}: no reservation without the parameter");
        } else {
            assert!(reserved.is_none(), "{id} reserves concurrency");
        }
    }
    assert!(
        format!("{:?}", t["Conditions"]["HasPublicConcurrencyLimit"]).contains("PublicConcurrencyLimit"),
        "the condition tests the parameter"
    );
}

/// Every (action, resource target) a role's inline policies allow.
fn grants(role: &Value) -> Vec<(String, Value)> {
    let mut out = vec![];
    for policy in role["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            let actions = match &statement["Action"] {
                Value::Sequence(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                a => vec![a.as_str().unwrap_or_default().to_string()],
            };
            let resources = match &statement["Resource"] {
                Value::Sequence(r) => r.clone(),
                r => vec![r.clone()],
            };
            for action in &actions {
                for resource in &resources {
                    out.push((action.clone(), resource.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn each_role_holds_only_what_its_function_needs() {
    let t = template();
    let roles = resources(&t, "AWS::IAM::Role");
    for (id, (name, f)) in functions(&t) {
        let role_id = target(&f["Properties"]["Role"]).unwrap_or_else(|| panic!("{id} has no role of this template"));
        let granted = grants(roles[&role_id]);
        for (action, resource) in &granted {
            assert!(!action.contains('*'), "{role_id}: wildcard action {action}");
            assert_ne!(resource.as_str(), Some("*"), "{role_id}: {action} on every resource");
            assert_ne!(
                action, "dsql:DbConnectAdmin",
                "{role_id}: only the deploy connects as admin"
            );
        }
        let has = |wanted: &str| granted.iter().any(|(a, _)| a == wanted);
        let webhook = WEBHOOK_CRATES.contains(&name.as_str());
        assert_eq!(
            has("dsql:DbConnect"),
            !webhook,
            "{role_id}: dsql:DbConnect is for the database functions"
        );
        let sends_to = |queue: &str| {
            granted
                .iter()
                .any(|(a, r)| a == "sqs:SendMessage" && target(r).as_deref() == Some(queue))
        };
        assert_eq!(
            sends_to("EventsQueue"),
            webhook,
            "{role_id}: sqs:SendMessage to the events queue is for the webhook functions"
        );
        // Otherwise only to the queue of failed runs, for the functions that have it as their
        // OnFailure destination.
        let failed_runs =
            target(&f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]);
        for (action, resource) in &granted {
            if action == "sqs:SendMessage" && target(resource).as_deref() != Some("EventsQueue") {
                assert_eq!(
                    target(resource),
                    failed_runs,
                    "{role_id}: sqs:SendMessage only to its own OnFailure destination"
                );
            }
        }
        assert_eq!(
            has("sns:Publish"),
            ALERTING_CRATES.contains(&name.as_str()),
            "{role_id}: sns:Publish"
        );
        assert!(has("ssm:GetParameter"), "{role_id}: reads its secrets from SSM");
        // SSM reads are of this function's own parameters only: each one it is told about.
        let told: BTreeSet<String> = f["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str().is_some_and(|k| k.ends_with("_PARAM")))
            .filter_map(|(_, v)| {
                let mut s = vec![];
                strings(v, String::new(), &mut s);
                s.into_iter().map(|(_, s)| s.to_string()).find(|s| s.ends_with("Param"))
            })
            .collect();
        let readable: BTreeSet<String> = granted
            .iter()
            .filter(|(a, _)| a == "ssm:GetParameter")
            .flat_map(|(_, r)| {
                let mut s = vec![];
                strings(r, String::new(), &mut s);
                s.into_iter().filter_map(|(_, s)| {
                    s.split("parameter${")
                        .nth(1)
                        .map(|p| p.trim_end_matches('}').to_string())
                })
            })
            .collect();
        assert_eq!(
            readable, told,
            "{role_id}: SSM parameters readable vs the ones {id} is given"
        );
    }
}

/// The crates whose functions move orders, and so publish order events.
const PUBLISHING_CRATES: [&str; 4] = ["event-worker", "stripe-catchup", "printful-catchup", "reconciler"];

#[test]
fn order_events_go_to_one_archived_bus_that_only_the_publishers_may_put_to() {
    let t = template();
    let buses = resources(&t, "AWS::Events::EventBus");
    assert_eq!(buses.keys().collect::<Vec<_>>(), ["EventBus"], "one event bus");
    let bus = buses["EventBus"];
    assert_eq!(
        target(&bus["Properties"]["Name"]).as_deref(),
        Some("AWS::StackName"),
        "the bus is named after the stack"
    );
    assert!(bus.get("Condition").is_none(), "the bus always exists");

    let archives = resources(&t, "AWS::Events::Archive");
    assert_eq!(archives.len(), 1, "one archive");
    let archive = archives.values().next().unwrap();
    assert_eq!(
        target(&archive["Properties"]["SourceArn"]).as_deref(),
        Some("EventBus"),
        "the archive keeps the bus's events"
    );
    assert!(
        archive["Properties"].get("RetentionDays").is_some(),
        "an archive without a retention keeps events (and costs) forever"
    );

    let roles = resources(&t, "AWS::IAM::Role");
    for (id, (name, f)) in functions(&t) {
        let role_id = target(&f["Properties"]["Role"]).expect("a role");
        let puts: Vec<Value> = grants(roles[&role_id])
            .into_iter()
            .filter(|(a, _)| a.starts_with("events:"))
            .map(|(a, r)| {
                assert_eq!(a, "events:PutEvents", "{role_id}: {a}");
                r
            })
            .collect();
        let publishes = PUBLISHING_CRATES.contains(&name.as_str());
        assert_eq!(!puts.is_empty(), publishes, "{role_id}: events:PutEvents");
        for resource in &puts {
            assert_eq!(
                target(resource).as_deref(),
                Some("EventBus"),
                "{role_id}: events:PutEvents on {resource:?}, not on the bus only"
            );
        }
        let vars = &f["Properties"]["Environment"]["Variables"];
        // The bus when order events are on; else none, and the log takes them.
        let bus = vars.get("EVENT_BUS_NAME").and_then(if_parts);
        assert_eq!(bus.is_some(), publishes, "{id}: EVENT_BUS_NAME");
        if let Some((condition, then, otherwise)) = bus {
            assert_eq!(condition, "OrderEventsOn", "{id}: EVENT_BUS_NAME");
            assert_eq!(target(then).as_deref(), Some("EventBus"), "{id}: EVENT_BUS_NAME");
            assert!(is_no_value(otherwise), "{id}: EVENT_BUS_NAME without order events");
            let (condition, then, otherwise) = vars
                .get("ORDER_EVENTS_OFF")
                .and_then(if_parts)
                .unwrap_or_else(|| panic!("{id}: ORDER_EVENTS_OFF"));
            assert_eq!(condition, "OrderEventsOn", "{id}: ORDER_EVENTS_OFF");
            assert!(is_no_value(then), "{id}: ORDER_EVENTS_OFF with order events on");
            assert_eq!(otherwise.as_str(), Some("true"), "{id}: ORDER_EVENTS_OFF");
        } else {
            assert!(vars.get("ORDER_EVENTS_OFF").is_none(), "{id}: ORDER_EVENTS_OFF");
        }
    }
}

#[test]
fn order_events_are_off_unless_asked_for_or_the_example_needs_them() {
    // EventBridge custom events have no free tier: a shop with no integration sends none.
    let t = template();
    let parameter = &t["Parameters"]["OrderEvents"];
    assert_eq!(parameter["Default"].as_str(), Some("off"));
    let condition = &t["Conditions"]["OrderEventsOn"];
    let (kind, parts) = match condition {
        Value::Tagged(tagged) => (tagged.tag.to_string(), &tagged.value),
        _ => panic!("OrderEventsOn is not !Or: {condition:?}"),
    };
    assert_eq!(kind, "!Or", "{condition:?}");
    let text = format!("{parts:?}");
    assert!(
        text.contains("OrderEvents") && text.contains("\"on\""),
        "asked for: {text}"
    );
    assert!(
        text.contains("HasOrderPaidWebhook"),
        "on with the example integration: {text}"
    );
    // Off, the buyer's e-mail address never goes into the log either.
    for (id, (_, f)) in functions(&t) {
        let vars = &f["Properties"]["Environment"]["Variables"];
        if let Some(email) = vars.get("EVENTS_INCLUDE_EMAIL") {
            let (condition, then, otherwise) = if_parts(email).unwrap_or_else(|| panic!("{id}: EVENTS_INCLUDE_EMAIL"));
            assert_eq!(condition, "OrderEventsOn", "{id}");
            assert_eq!(target(then).as_deref(), Some("OrderEventsIncludeEmail"), "{id}");
            assert_eq!(otherwise.as_str(), Some("false"), "{id}");
        }
    }
}

#[test]
fn the_order_paid_example_exists_only_with_its_url_and_has_a_watched_dead_letter_queue() {
    let t = template();
    let condition = t["Conditions"]["HasOrderPaidWebhook"].clone();
    assert!(!condition.is_null(), "the HasOrderPaidWebhook condition");
    let mut text = vec![];
    strings(&condition, String::new(), &mut text);
    assert!(
        text.iter().any(|(_, s)| *s == "OrderPaidWebhookUrl"),
        "the condition tests OrderPaidWebhookUrl: {condition:?}"
    );
    assert_eq!(t["Parameters"]["OrderPaidWebhookUrl"]["Default"].as_str(), Some(""));

    let all = t["Resources"].as_mapping().unwrap();
    let example: Vec<&str> = all
        .iter()
        .filter(|(_, r)| r["Condition"].as_str() == Some("HasOrderPaidWebhook"))
        .filter_map(|(id, _)| id.as_str())
        .collect();
    for kind in [
        "AWS::Events::Connection",
        "AWS::Events::ApiDestination",
        "AWS::Events::Rule",
        "AWS::SQS::Queue",
        "AWS::CloudWatch::Alarm",
    ] {
        let of_kind: Vec<&str> = example
            .iter()
            .copied()
            .filter(|id| all[*id]["Type"].as_str() == Some(kind))
            .collect();
        assert_eq!(of_kind.len(), 1, "one conditional {kind}: {example:?}");
    }

    // The API key comes from Secrets Manager, by name: never a value in the template.
    let connection = resources(&t, "AWS::Events::Connection");
    let key =
        &connection.values().next().unwrap()["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyValue"];
    let mut key_text = vec![];
    strings(key, String::new(), &mut key_text);
    assert!(
        key_text
            .iter()
            .any(|(_, s)| s.starts_with("{{resolve:secretsmanager:${OrderPaidWebhookApiKeyParam}")),
        "the API key is a Secrets Manager reference: {key:?}"
    );

    let (rule_id, rule) = resources(&t, "AWS::Events::Rule")
        .into_iter()
        .find(|(id, _)| example.contains(&id.as_str()))
        .expect("the example's rule");
    assert_eq!(target(&rule["Properties"]["EventBusName"]).as_deref(), Some("EventBus"));
    assert_eq!(
        rule["Properties"]["EventPattern"]["detail-type"][0].as_str(),
        Some("Order Paid")
    );
    let targets = rule["Properties"]["Targets"].as_sequence().unwrap();
    assert_eq!(targets.len(), 1);
    let dlq = target(&targets[0]["DeadLetterConfig"]["Arn"]).expect("the rule target has a dead-letter queue");
    assert!(example.contains(&dlq.as_str()), "{dlq} is the example's own queue");
    assert_eq!(target(&targets[0]["Arn"]).as_deref(), Some("OrderPaidApiDestination"));

    // The example's alarm watches that queue and tells the ops topic.
    let alarm = resources(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .find(|(id, _)| example.contains(&id.as_str()))
        .map(|(_, a)| a)
        .unwrap();
    let dimensions = alarm["Properties"]["Dimensions"].as_sequence().unwrap();
    assert_eq!(target(&dimensions[0]["Value"]).as_deref(), Some(dlq.as_str()));
    assert_eq!(
        target(&alarm["Properties"]["AlarmActions"][0]).as_deref(),
        Some("OpsTopic")
    );
    // And the queue takes messages from that rule only.
    let policy = resources(&t, "AWS::SQS::QueuePolicy")
        .into_iter()
        .find(|(id, _)| example.contains(&id.as_str()))
        .map(|(_, p)| p)
        .expect("a queue policy for the example's dead-letter queue");
    let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"].as_str(), Some("events.amazonaws.com"));
    assert_eq!(
        target(&statement["Condition"]["ArnEquals"]["aws:SourceArn"]).as_deref(),
        Some(rule_id.as_str())
    );
}

/// cfn-lint, the pinned one that scripts/setup installs into .venv, or `CFN_LINT`.
fn cfn_lint() -> PathBuf {
    match std::env::var_os("CFN_LINT") {
        Some(path) => PathBuf::from(path),
        None => workspace().join(".venv/bin/cfn-lint"),
    }
}

#[test]
fn cfn_lint_reports_nothing() {
    let lint = cfn_lint();
    assert!(
        lint.is_file(),
        "cfn-lint is not installed at {}: run ./scripts/test (it installs the pinned tools), or set CFN_LINT",
        lint.display()
    );
    let out = Command::new(&lint)
        .arg("--")
        .arg("template.yaml")
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", lint.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "cfn-lint found problems in template.yaml ({}):\n{report}",
        out.status
    );
}

/// The value of `!Sub "..."` (or `Fn::Sub`) as its template string.
fn sub_string(v: &Value) -> Option<&str> {
    match intrinsic(v)? {
        ("Sub", Value::String(s)) => Some(s),
        ("Sub", Value::Sequence(parts)) => parts.first()?.as_str(),
        _ => None,
    }
}

/// `!Ref AWS::StackName`, or `!Sub "${AWS::StackName}"`.
fn is_stack_name(v: &Value) -> bool {
    matches!(intrinsic(v), Some(("Ref", Value::String(s))) if s == "AWS::StackName")
        || sub_string(v) == Some("${AWS::StackName}")
}

#[test]
fn every_alarm_watches_only_this_stack() {
    // A test stack and a live stack in one account must never fire each other's alarms: every
    // alarm names the resource of this stack it watches, and backroom's own metrics carry the
    // stack's name as a dimension.
    let t = template();
    let functions: BTreeSet<String> = functions(&t).into_keys().collect();
    let queues = resources(&t, "AWS::SQS::Queue");
    let mut problems = vec![];
    for (id, alarm) in resources(&t, "AWS::CloudWatch::Alarm") {
        let props = &alarm["Properties"];
        let dimensions: Vec<(&str, &Value)> = props["Dimensions"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|d| (d["Name"].as_str().unwrap_or_default(), &d["Value"]))
            .collect();
        let scoped = match props["Namespace"].as_str().unwrap_or_default() {
            n if n == backroom_aws::emf::NAMESPACE => {
                matches!(dimensions.as_slice(), [(name, v)] if *name == backroom_aws::emf::STACK_DIMENSION && is_stack_name(v))
            }
            "AWS/Lambda" => matches!(dimensions.as_slice(),
                [("FunctionName", v)] if target(v).is_some_and(|f| functions.contains(&f))),
            "AWS/SQS" => matches!(dimensions.as_slice(),
                [("QueueName", v)] if target(v).is_some_and(|q| queues.contains_key(&q))),
            other => {
                problems.push(format!("{id}: unexpected namespace {other:?}"));
                continue;
            }
        };
        if !scoped {
            problems.push(format!(
                "{id}: its dimensions {dimensions:?} do not limit it to this stack"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_function_tells_its_metrics_which_stack_they_belong_to() {
    let t = template();
    let value = &t["Globals"]["Function"]["Environment"]["Variables"][backroom_aws::emf::STACK_ENV];
    assert!(
        is_stack_name(value),
        "Globals.Function.Environment.Variables.{} must be the stack's name, is {value:?}",
        backroom_aws::emf::STACK_ENV
    );
}

/// The crate names infra/deploy.sh builds, from its `functions=(...)` line.
fn deploy_sh_functions() -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace().join("infra/deploy.sh")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("functions=("))
        .expect("infra/deploy.sh has a functions=(...) line");
    line.trim_start_matches("functions=(")
        .trim_end_matches(')')
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_function_ships_the_one_release_build_of_this_commit() {
    // `sam build` with rust-cargolambda built each function alone and cached by the function's
    // own folder: a fix in a shared crate could ship the old binary. deploy.sh builds the seven
    // in one cargo invocation into target/lambda/<crate>/bootstrap and SAM uploads exactly that.
    let t = template();
    let mut problems = vec![];
    let crates: BTreeSet<String> = std::fs::read_dir(workspace().join("lambdas"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for (id, f) in resources(&t, "AWS::Serverless::Function") {
        let uri = f["Properties"]["CodeUri"].as_str().unwrap_or_default();
        let name = uri
            .strip_prefix("target/lambda/")
            .map(|n| n.trim_end_matches('/'))
            .unwrap_or_default();
        if !crates.contains(name) {
            problems.push(format!(
                "{id}: CodeUri {uri:?} is not target/lambda/<crate>/ of a crate under lambdas/"
            ));
        }
        if f.get("Metadata").is_some_and(|m| m.get("BuildMethod").is_some()) {
            problems.push(format!("{id}: a BuildMethod makes `sam build` build it on its own"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        deploy_sh_functions(),
        crates,
        "infra/deploy.sh builds every function crate, and only those"
    );
}

#[test]
fn the_deploy_refuses_artifacts_older_than_the_last_commit() {
    let out = Command::new("bash")
        .arg(workspace().join("infra/test-deploy.sh"))
        .output()
        .expect("running infra/test-deploy.sh");
    assert!(
        out.status.success(),
        "infra/test-deploy.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scheduled_functions_report_failures_to_a_watched_queue_of_this_stack() {
    // A failed catch-up or reconcile run (crash, timeout, no database grant) lands in the
    // stack's failed-runs queue, which an alarm watches: one alarm for the three, and never a
    // function of another stack.
    let t = template();
    let queues = resources(&t, "AWS::SQS::Queue");
    let alarms = resources(&t, "AWS::CloudWatch::Alarm");
    for (id, (_, f)) in functions(&t) {
        let scheduled = f["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .any(|(_, e)| e["Type"].as_str() == Some("ScheduleV2"));
        if !scheduled {
            continue;
        }
        let destination = &f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        assert_eq!(
            destination["Type"].as_str(),
            Some("SQS"),
            "{id}: failures go to a queue"
        );
        let queue = target(&destination["Destination"]).unwrap_or_else(|| panic!("{id}: OnFailure names a queue"));
        assert!(
            queues.contains_key(&queue),
            "{id}: {queue} is not a queue of this template"
        );
        assert!(
            alarms.values().any(|a| a["Properties"]["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|d| target(&d["Value"]).as_deref() == Some(queue.as_str()))),
            "{id}: no alarm watches {queue}"
        );
        let roles = resources(&t, "AWS::IAM::Role");
        let role = target(&f["Properties"]["Role"]).unwrap();
        assert!(
            grants(roles[&role])
                .iter()
                .any(|(a, r)| a == "sqs:SendMessage" && target(r).as_deref() == Some(queue.as_str())),
            "{role}: Lambda sends the failure record with the function's role"
        );
    }
    // The reconcile after a deploy is started by infra/deploy.sh once the database grants are in
    // place, never by a stack event that comes before them.
    for (id, rule) in resources(&t, "AWS::Events::Rule") {
        let pattern = &rule["Properties"]["EventPattern"]["source"];
        assert!(
            !pattern
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|s| s.as_str() == Some("aws.cloudformation")),
            "{id}: a stack-status rule runs before the bootstrap"
        );
    }
}

/// The dashboard's body as JSON, with each `${...}` of its `!Sub` replaced by its name.
fn dashboard_body(t: &Value) -> serde_json::Value {
    let dashboards = resources(t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard (three per account are free)");
    let dashboard = dashboards.values().next().unwrap();
    assert!(
        is_stack_name(&dashboard["Properties"]["DashboardName"]),
        "the dashboard is named after the stack"
    );
    let body = sub_string(&dashboard["Properties"]["DashboardBody"]).expect("DashboardBody is a !Sub string");
    let mut plain = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        plain.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        plain.push_str(&format!("<{}>", &rest[start + 2..end]));
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    serde_json::from_str(&plain).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{plain}"))
}

#[test]
fn the_dashboard_shows_what_the_owner_watches_for_this_stack_only() {
    let t = template();
    let body = dashboard_body(&t);
    // Every metric line: [namespace, name, dimension, value, ...] or ["...", name, ...] repeats.
    let mut lines: Vec<Vec<String>> = vec![];
    for widget in body["widgets"].as_array().expect("widgets") {
        let mut previous: Vec<String> = vec![];
        for metric in widget["properties"]["metrics"].as_array().into_iter().flatten() {
            let mut line: Vec<String> = metric
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            for (i, part) in line.iter_mut().enumerate() {
                if part == "." {
                    *part = previous.get(i).cloned().unwrap_or_default();
                }
            }
            previous = line.clone();
            lines.push(line);
        }
    }
    assert!(
        lines.len() <= 50,
        "{} metrics: a free dashboard holds at most 50",
        lines.len()
    );
    let has = |namespace: &str, name: &str, dimension: &str, value: &str| {
        lines
            .iter()
            .any(|l| l.len() >= 4 && l[0] == namespace && l[1] == name && l[2] == dimension && l[3] == value)
    };
    let mut missing = vec![];
    let stack = "<AWS::StackName>";
    for metric in [
        "OrdersPaid",
        "OrdersSubmitted",
        "OrdersShipped",
        "ProcessingFailures",
        "EventsRecovered",
        "SecurityAlerts",
    ] {
        if !has(
            backroom_aws::emf::NAMESPACE,
            metric,
            backroom_aws::emf::STACK_DIMENSION,
            stack,
        ) {
            missing.push(format!("{metric} of this stack"));
        }
    }
    if !has(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "<EventsDeadLetterQueue.QueueName>",
    ) {
        missing.push("the dead-letter queue's depth".into());
    }
    for (_, id) in PUBLIC_FUNCTIONS {
        for metric in ["Url4xxCount", "Url5xxCount"] {
            if !has("AWS/Lambda", metric, "FunctionName", &format!("<{id}>")) {
                missing.push(format!("{metric} of {id}'s URL"));
            }
        }
    }
    for id in functions(&t).into_keys() {
        for metric in ["Errors", "Duration"] {
            if !has("AWS/Lambda", metric, "FunctionName", &format!("<{id}>")) {
                missing.push(format!("{metric} of {id}"));
            }
        }
    }
    // Nothing of another stack: every metric line names a dimension of this one.
    for l in &lines {
        if l.len() < 4 || !(l[3].starts_with('<') && l[3].ends_with('>')) {
            missing.push(format!("{l:?} is not limited to this stack"));
        }
    }
    assert!(missing.is_empty(), "the dashboard lacks:\n{}", missing.join("\n"));
}
