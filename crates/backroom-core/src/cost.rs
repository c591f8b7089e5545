//! The monthly AWS cost model: what the deployed stack (template.yaml) costs for a month's workload.
//!
//! Every price lives in [`PRICES`], one entry per billed line, with its unit, its free tier and the
//! page it comes from (us-east-1 list prices, checked Nov 2026). The benchmark feeds measured
//! durations into [`Workload`]; the weekly digest and docs/deploy.md use [`Workload::typical`].
//!
//! This is an estimate of a bill in US dollars, not money the shop takes, so it is kept in `f64`
//! and rounded only for display; the shop's own money stays in integer minor units.

use serde::Serialize;

/// One billed line: its price per unit, its permanent monthly free tier and its source.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Price {
    pub line: &'static str,
    pub unit: &'static str,
    /// US dollars per `unit`.
    pub usd_per_unit: f64,
    /// Units per month that are free for every account, always (12-month trials are not counted).
    pub free_units: f64,
    pub source: &'static str,
}

/// Index into [`PRICES`], so a line can never name a price that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    LambdaRequests,
    LambdaCompute,
    CloudFrontRequests,
    CloudFrontDataOut,
    CloudFrontToOrigin,
    Sqs,
    Scheduler,
    EventBridgeEvents,
    Sns,
    Alarms,
    Metrics,
    Logs,
    DsqlDpu,
    DsqlStorage,
}

pub const PRICES: [Price; 14] = [
    Price {
        line: "Lambda requests",
        unit: "request",
        usd_per_unit: 0.20 / 1e6,
        free_units: 1e6,
        source: "https://aws.amazon.com/lambda/pricing/",
    },
    Price {
        line: "Lambda compute, arm64",
        unit: "GB-second",
        usd_per_unit: 0.000_013_333_4,
        free_units: 400_000.0,
        source: "https://aws.amazon.com/lambda/pricing/",
    },
    Price {
        line: "CloudFront requests",
        unit: "HTTPS request",
        // $0.0100 per 10,000 HTTPS requests in the United States and Europe (PriceClass_100).
        usd_per_unit: 1.00 / 1e6,
        free_units: 10e6,
        source: "https://aws.amazon.com/cloudfront/pricing/",
    },
    Price {
        line: "CloudFront data out",
        unit: "GB to the internet",
        usd_per_unit: 0.085,
        free_units: 1_000.0,
        source: "https://aws.amazon.com/cloudfront/pricing/",
    },
    Price {
        line: "CloudFront data to origin",
        unit: "GB to the functions",
        // Regional data transfer out to origin; the always-free tier covers only data out to
        // the internet.
        usd_per_unit: 0.020,
        free_units: 0.0,
        source: "https://aws.amazon.com/cloudfront/pricing/",
    },
    Price {
        line: "SQS",
        unit: "request",
        usd_per_unit: 0.40 / 1e6,
        free_units: 1e6,
        source: "https://aws.amazon.com/sqs/pricing/",
    },
    Price {
        line: "EventBridge Scheduler",
        unit: "invocation",
        usd_per_unit: 1.00 / 1e6,
        free_units: 14e6,
        source: "https://aws.amazon.com/eventbridge/pricing/",
    },
    Price {
        line: "EventBridge custom events",
        unit: "event",
        usd_per_unit: 1.00 / 1e6,
        free_units: 0.0,
        source: "https://aws.amazon.com/eventbridge/pricing/",
    },
    Price {
        line: "SNS e-mail",
        unit: "notification",
        usd_per_unit: 2.00 / 1e5,
        free_units: 1_000.0,
        source: "https://aws.amazon.com/sns/pricing/",
    },
    Price {
        line: "CloudWatch alarms",
        unit: "alarm-month",
        usd_per_unit: 0.10,
        free_units: 10.0,
        source: "https://aws.amazon.com/cloudwatch/pricing/",
    },
    Price {
        line: "CloudWatch custom metrics",
        unit: "metric-month",
        usd_per_unit: 0.30,
        free_units: 10.0,
        source: "https://aws.amazon.com/cloudwatch/pricing/",
    },
    Price {
        line: "CloudWatch Logs",
        unit: "GB ingested",
        usd_per_unit: 0.50,
        free_units: 5.0,
        source: "https://aws.amazon.com/cloudwatch/pricing/",
    },
    Price {
        line: "Aurora DSQL compute",
        unit: "DPU",
        usd_per_unit: 8.00 / 1e6,
        free_units: 100_000.0,
        source: "https://aws.amazon.com/rds/aurora/dsql/pricing/",
    },
    Price {
        line: "Aurora DSQL storage",
        unit: "GB-month",
        usd_per_unit: 0.33,
        free_units: 1.0,
        source: "https://aws.amazon.com/rds/aurora/dsql/pricing/",
    },
];

fn price(line: Line) -> &'static Price {
    &PRICES[line as usize]
}

/// What a month asks of the account. Durations are billed seconds per invocation.
///
/// The free tiers are the account's, shared by every stack in it. `stacks` counts the deployed
/// backroom stacks (a test and a live one, as docs/deploy.md suggests, is 2): each one has its own
/// schedules, queue pollers, alarms and per-stack metrics, and the orders arrive at one of them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Workload {
    pub orders: u64,
    /// backroom stacks in the account; the background lines below are per stack.
    pub stacks: u64,
    /// Memory of every function, MB (the template's global).
    pub memory_mb: u32,
    /// Catch-up runs a month (two jobs every 10 minutes) and the billed seconds of each.
    pub catchup_runs: u64,
    pub catchup_seconds: f64,
    /// Reconciler runs a month (daily, plus deploys) and the billed seconds of each.
    pub reconcile_runs: u64,
    pub reconcile_seconds: f64,
    /// Idle SQS receives a month from one stack's event source mapping's long polling.
    pub idle_sqs_receives: u64,
    /// Per order: requests through the front door, the CloudFront distribution (catalog views,
    /// checkouts and their CORS preflights, order page, webhooks). Each one also invokes a
    /// function through its URL.
    pub http_requests_per_order: u64,
    /// Per order: the other function invocations (worker runs, one per queued event).
    pub worker_invocations_per_order: u64,
    /// Average answer through the front door, KB out to the internet.
    pub kb_out_per_request: f64,
    /// Average request from the front door to a function (headers and body), KB.
    pub kb_to_origin_per_request: f64,
    /// Billed seconds of an average invocation on the order path.
    pub order_invocation_seconds: f64,
    pub sqs_requests_per_order: u64,
    /// Whether order events go to the event bus (template.yaml's `OrderEvents`, on by itself
    /// with the Order Paid example); off, they are logged and cost nothing.
    pub order_events: bool,
    /// Order events per order when they are on.
    pub events_per_order: u64,
    pub dpu_per_order: f64,
    pub dpu_per_catchup: f64,
    /// Alarms of one stack (template.yaml: 9, 10 with the Order Paid example).
    pub alarms: u64,
    /// Custom metrics a stack publishes in a month without orders, and with them. Metrics carry
    /// the stack as a dimension, so each stack's are its own.
    pub metrics_idle: u64,
    pub metrics_busy: u64,
    pub log_kb_per_invocation: f64,
    pub stored_kb_per_order: f64,
}

impl Workload {
    /// The assumptions of docs/deploy.md ("Monthly cost") for `orders` orders a month: durations
    /// include cold starts and TLS handshakes at 128 MB.
    pub fn typical(orders: u64) -> Self {
        Self::typical_stacks(orders, 1)
    }

    /// [`Workload::typical`] with `stacks` backroom stacks in the account; the orders go to one.
    pub fn typical_stacks(orders: u64, stacks: u64) -> Self {
        Workload {
            orders,
            stacks,
            memory_mb: 128,
            catchup_runs: 2 * 6 * 24 * 30,
            catchup_seconds: 1.0,
            reconcile_runs: 30,
            reconcile_seconds: 30.0,
            idle_sqs_receives: 648_000,
            http_requests_per_order: 35,
            worker_invocations_per_order: 5,
            // Mostly catalog pages (a few KB of JSON) and short JSON answers.
            kb_out_per_request: 8.0,
            kb_to_origin_per_request: 1.5,
            order_invocation_seconds: 1.0,
            sqs_requests_per_order: 10,
            order_events: false,
            events_per_order: 5,
            dpu_per_order: 3.0,
            dpu_per_catchup: 0.05,
            alarms: 9,
            metrics_idle: 3,
            metrics_busy: 10,
            log_kb_per_invocation: 2.5,
            stored_kb_per_order: 10.0,
        }
    }
}

/// One line of the estimate.
#[derive(Debug, Clone, Serialize)]
pub struct CostLine {
    pub line: &'static str,
    pub unit: &'static str,
    pub quantity: f64,
    /// After the permanent free tier.
    pub usd: f64,
    /// At list price, with no free tier.
    pub list_usd: f64,
    pub source: &'static str,
}

/// The month's estimate, line by line.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub orders: u64,
    pub lines: Vec<CostLine>,
    pub total_usd: f64,
    pub total_list_usd: f64,
}

/// Prices a month's workload against [`PRICES`].
pub fn estimate(w: &Workload) -> Estimate {
    let orders = w.orders as f64;
    let stacks = w.stacks.max(1) as f64;
    let gb = f64::from(w.memory_mb) / 1024.0;
    // Every stack runs its own schedules, pollers and alarms; the orders go to one of them.
    let catchup_runs = stacks * w.catchup_runs as f64;
    let reconcile_runs = stacks * w.reconcile_runs as f64;
    // Every request through the front door invokes a function through its URL.
    let front_door = orders * w.http_requests_per_order as f64;
    let order_invocations = front_door + orders * w.worker_invocations_per_order as f64;
    let invocations = catchup_runs + reconcile_runs + order_invocations;
    let gb_seconds = gb
        * (catchup_runs * w.catchup_seconds
            + reconcile_runs * w.reconcile_seconds
            + order_invocations * w.order_invocation_seconds);
    let events = if w.order_events {
        orders * w.events_per_order as f64
    } else {
        0.0
    };
    let metrics = if w.orders == 0 {
        stacks * w.metrics_idle as f64
    } else {
        w.metrics_busy as f64 + (stacks - 1.0) * w.metrics_idle as f64
    };
    let quantities = [
        (Line::LambdaRequests, invocations),
        (Line::LambdaCompute, gb_seconds),
        (Line::CloudFrontRequests, front_door),
        (Line::CloudFrontDataOut, front_door * w.kb_out_per_request / 1e6),
        (Line::CloudFrontToOrigin, front_door * w.kb_to_origin_per_request / 1e6),
        (
            Line::Sqs,
            stacks * w.idle_sqs_receives as f64 + orders * w.sqs_requests_per_order as f64,
        ),
        (Line::Scheduler, catchup_runs + reconcile_runs),
        (Line::EventBridgeEvents, events),
        (Line::Sns, 0.0),
        (Line::Alarms, stacks * w.alarms as f64),
        (Line::Metrics, metrics),
        (Line::Logs, invocations * w.log_kb_per_invocation / 1e6),
        (
            Line::DsqlDpu,
            orders * w.dpu_per_order + catchup_runs * w.dpu_per_catchup,
        ),
        (Line::DsqlStorage, orders * w.stored_kb_per_order / 1e6),
    ];
    let lines: Vec<CostLine> = quantities
        .iter()
        .map(|&(line, quantity)| {
            let p = price(line);
            CostLine {
                line: p.line,
                unit: p.unit,
                quantity,
                usd: (quantity - p.free_units).max(0.0) * p.usd_per_unit,
                list_usd: quantity * p.usd_per_unit,
                source: p.source,
            }
        })
        .collect();
    Estimate {
        orders: w.orders,
        total_usd: lines.iter().map(|l| l.usd).sum(),
        total_list_usd: lines.iter().map(|l| l.list_usd).sum(),
        lines,
    }
}

/// Lambda serves at most this many requests a second per unit of concurrency, however short
/// each one is (its synchronous invocation rate limit is ten times the concurrency).
pub const LAMBDA_REQUESTS_PER_SECOND_PER_CONCURRENCY: f64 = 10.0;

/// A month of someone flooding the public routes, priced: what the front door lets through.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Flood {
    /// Requests that reach a function in the month.
    pub requests: f64,
    pub lambda_usd: f64,
    pub cloudfront_usd: f64,
    pub total_usd: f64,
}

/// The abuse ceiling: a 30-day month of requests at the concurrency bound (`concurrency`
/// executions kept busy, each request billed `billed_seconds` at `memory_mb`), at list price
/// with no free tier (a flood uses the free tiers up within hours). Each request goes through
/// CloudFront (its request price, 1 KB to the function, 1 KB of answer) and invokes a function.
/// Only what reaches Lambda is bounded: requests beyond the bound are refused by Lambda
/// (throttled, not billed by Lambda) but still billed by CloudFront per request.
pub fn flood(concurrency: u64, memory_mb: u32, billed_seconds: f64) -> Flood {
    let per_second = concurrency as f64 * (1.0 / billed_seconds).min(LAMBDA_REQUESTS_PER_SECOND_PER_CONCURRENCY);
    let requests = per_second * 30.0 * 24.0 * 3600.0;
    let list = |line: Line, quantity: f64| quantity * price(line).usd_per_unit;
    let gb = f64::from(memory_mb) / 1024.0;
    let lambda_usd = list(Line::LambdaRequests, requests) + list(Line::LambdaCompute, requests * billed_seconds * gb);
    let cloudfront_usd = list(Line::CloudFrontRequests, requests)
        + list(Line::CloudFrontDataOut, requests / 1e6)
        + list(Line::CloudFrontToOrigin, requests / 1e6);
    Flood {
        requests,
        lambda_usd,
        cloudfront_usd,
        total_usd: lambda_usd + cloudfront_usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_names_its_own_price() {
        let lines = [
            (Line::LambdaRequests, "Lambda requests"),
            (Line::LambdaCompute, "Lambda compute, arm64"),
            (Line::CloudFrontRequests, "CloudFront requests"),
            (Line::CloudFrontDataOut, "CloudFront data out"),
            (Line::CloudFrontToOrigin, "CloudFront data to origin"),
            (Line::Sqs, "SQS"),
            (Line::Scheduler, "EventBridge Scheduler"),
            (Line::EventBridgeEvents, "EventBridge custom events"),
            (Line::Sns, "SNS e-mail"),
            (Line::Alarms, "CloudWatch alarms"),
            (Line::Metrics, "CloudWatch custom metrics"),
            (Line::Logs, "CloudWatch Logs"),
            (Line::DsqlDpu, "Aurora DSQL compute"),
            (Line::DsqlStorage, "Aurora DSQL storage"),
        ];
        assert_eq!(lines.len(), PRICES.len());
        for (line, name) in lines {
            assert_eq!(price(line).line, name);
        }
        assert!(
            PRICES
                .iter()
                .all(|p| p.source.starts_with("https://") && p.usd_per_unit > 0.0)
        );
    }

    fn line<'a>(e: &'a Estimate, name: &str) -> &'a CostLine {
        e.lines.iter().find(|l| l.line == name).unwrap()
    }

    fn paid(e: &Estimate) -> Vec<&'static str> {
        e.lines.iter().filter(|l| l.usd > 0.0).map(|l| l.line).collect()
    }

    /// The total as the docs and the digest show it: whole cents.
    fn cents(e: &Estimate) -> f64 {
        (e.total_usd * 100.0).round() / 100.0
    }

    #[test]
    fn an_idle_month_is_free() {
        let idle = estimate(&Workload::typical(0));
        assert_eq!(idle.total_usd, 0.0, "{idle:#?}");
        assert!((2.0..2.3).contains(&idle.total_list_usd), "{}", idle.total_list_usd);
    }

    #[test]
    fn a_thousand_orders_cost_nothing_and_ten_thousand_less_than_a_dollar() {
        let busy = estimate(&Workload::typical(1_000));
        // Every request goes through CloudFront (10M free) to a function URL (free): the only
        // line without a free tier is the requests' bytes to the functions, a tenth of a cent.
        assert_eq!(cents(&busy), 0.0, "{busy:#?}");
        assert_eq!(paid(&busy), ["CloudFront data to origin"]);
        assert!(busy.total_usd < 0.002, "{}", busy.total_usd);
        assert_eq!(line(&busy, "CloudFront requests").quantity, 35_000.0);
        assert_eq!(line(&busy, "Lambda requests").quantity, 8_670.0 + 40_000.0);
        // Order events are off: nothing on the bus.
        assert_eq!(line(&busy, "EventBridge custom events").quantity, 0.0);

        let ten = estimate(&Workload::typical(10_000));
        assert!(ten.total_usd <= 1.0, "{ten:#?}");
        assert_eq!(cents(&ten), 0.01, "{}", ten.total_usd);
        assert_eq!(paid(&ten), ["CloudFront data to origin"]);
    }

    #[test]
    fn order_events_cost_a_dollar_a_million_only_when_on() {
        let on = Workload {
            order_events: true,
            ..Workload::typical(1_000)
        };
        let e = estimate(&on);
        assert_eq!(line(&e, "EventBridge custom events").quantity, 5_000.0);
        assert!((line(&e, "EventBridge custom events").usd - 0.005).abs() < 1e-9);
    }

    #[test]
    fn the_front_door_requests_are_lambda_requests_too() {
        let more = Workload {
            http_requests_per_order: 50,
            ..Workload::typical(1_000)
        };
        let e = estimate(&more);
        assert_eq!(line(&e, "CloudFront requests").quantity, 50_000.0);
        assert_eq!(line(&e, "Lambda requests").quantity, 8_670.0 + 55_000.0);
    }

    #[test]
    fn the_first_free_tier_to_run_out_is_lambda_requests_at_about_25k_orders() {
        let at = |orders| estimate(&Workload::typical(orders));
        let paid = |e: &Estimate, name: &str| line(e, name).usd > 0.0;
        // 40 invocations an order (35 through the front door, 5 worker runs) and 8,670
        // background runs: 1M requests at about 24,800 orders.
        assert!(!paid(&at(24_000), "Lambda requests"));
        assert!(paid(&at(26_000), "Lambda requests"));
        // Then DSQL compute (3 DPU an order, 100k free) at about 33,200 and SQS (648,000 idle
        // polls and 10 requests an order) at about 35,000.
        assert!(!paid(&at(33_000), "Aurora DSQL compute"));
        assert!(paid(&at(34_000), "Aurora DSQL compute"));
        assert!(!paid(&at(30_000), "SQS"));
        assert!(paid(&at(40_000), "SQS"));
        // CloudFront's 10M requests last until about 285,000 orders.
        assert!(!paid(&at(280_000), "CloudFront requests"));
        assert!(paid(&at(290_000), "CloudFront requests"));
        // Cost grows with orders and never falls.
        let totals: Vec<f64> = [0, 10, 1_000, 10_000, 100_000].map(|n| at(n).total_usd).to_vec();
        assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    }

    #[test]
    fn a_second_stack_in_the_account_is_not_free_at_rest() {
        // A test and a live stack share the account's free tiers: 18 alarms where 10 are free,
        // and two queues' idle long polling (1.3M receives where 1M are free).
        let two = estimate(&Workload::typical_stacks(0, 2));
        assert_eq!(paid(&two), ["SQS", "CloudWatch alarms"], "{two:#?}");
        assert_eq!(line(&two, "CloudWatch alarms").quantity, 18.0);
        assert!((line(&two, "CloudWatch alarms").usd - 0.80).abs() < 1e-9);
        assert_eq!(line(&two, "SQS").quantity, 1_296_000.0);
        assert!((0.90..0.95).contains(&two.total_usd), "{}", two.total_usd);
        // Still far inside the Lambda, Scheduler and metric free tiers.
        assert_eq!(line(&two, "CloudWatch custom metrics").quantity, 6.0);
        assert_eq!(line(&two, "Lambda requests").usd, 0.0);
        // One stack is free at rest, and a second one costs the same with or without orders
        // at the other.
        assert_eq!(estimate(&Workload::typical_stacks(0, 1)).total_usd, 0.0);
        let busy_one = estimate(&Workload::typical_stacks(1_000, 1)).total_usd;
        let busy_two = estimate(&Workload::typical_stacks(1_000, 2)).total_usd;
        assert!(busy_two > busy_one);
    }

    #[test]
    fn a_flood_at_the_concurrency_bound_costs_about_34_dollars_a_month_per_execution() {
        // A few ms per request at 128 MB: Lambda's rate limit (10 a second per execution), not
        // the duration, is the bound; 25.9M requests a month per execution.
        let one = flood(1, 128, 0.005);
        assert!((one.requests - 25_920_000.0).abs() < 1.0, "{}", one.requests);
        assert!((34.0..34.1).contains(&one.total_usd), "{one:?}");
        // CloudFront's per-request price is most of it.
        assert!(one.cloudfront_usd > 5.0 * one.lambda_usd, "{one:?}");
        // A new account's 10 executions, and the default quota of 1,000.
        assert!((340.0..341.0).contains(&flood(10, 128, 0.005).total_usd));
        assert!((34_000.0..34_100.0).contains(&flood(1_000, 128, 0.005).total_usd));
        // A slow request (a cold start, 200 ms) is bounded by its duration instead.
        assert!(flood(1, 128, 0.2).requests < one.requests);
    }
}
