//! `backroom orders list|show|release|accept-amount|forget`.

use anyhow::{Context, bail};
use backroom_app::worker::Worker;
use backroom_core::earnings::signed;
use backroom_core::ports::{OrderFilter, OrderStore};
use backroom_core::{Money, Order, OrderId, OrderStatus, TimelineEntry};
use backroom_db::Store;
use clap::Subcommand;
use serde::Serialize;

#[derive(Subcommand)]
pub enum OrdersCommand {
    /// List orders, newest first.
    List {
        /// Only orders in this status (for example paid, submitted, needs_attention).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Let paid orders go to Printful while fulfillment is paused.
    Release {
        /// The order to release.
        id: Option<String>,
        /// Release every paid order that waits.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Let an order held for an amount mismatch go on, after reviewing the payment at Stripe:
    /// the acceptance goes on the order's timeline, and the order is sent to Printful.
    AcceptAmount {
        /// The order id (with or without dashes).
        id: String,
    },
    /// Erase the buyer's data from an order (email, name, address, wherever stored), keeping
    /// amounts, items and the timeline. For an order that has shipped or ended.
    Forget {
        /// The order id (with or without dashes).
        id: String,
    },
    /// Show one order with its lines and timeline.
    Show {
        /// The order id (with or without dashes).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, worker: Option<&Worker>, cmd: OrdersCommand) -> anyhow::Result<()> {
    match cmd {
        OrdersCommand::Forget { id } => {
            let id = OrderId::parse(&id).map_err(|e| anyhow::anyhow!("{id:?}: {e}"))?;
            if backroom_app::forget::forget(store, id, &backroom_core::Cause::Cli).await? {
                println!(
                    "order {id}: the buyer's email, name and address are forgotten; amounts, items and the timeline are kept"
                );
            } else {
                println!("order {id}: the buyer's data was already forgotten");
            }
        }
        OrdersCommand::AcceptAmount { id } => {
            let worker = worker.context("accepting an amount needs the providers")?;
            let id = OrderId::parse(&id).map_err(|e| anyhow::anyhow!("{id:?}: {e}"))?;
            match backroom_app::amounts::accept_amount(worker, id, &backroom_core::Cause::Cli).await? {
                backroom_app::amounts::Accepted::Already => println!("order {id}: its amount was already accepted"),
                backroom_app::amounts::Accepted::Now(advanced) => {
                    println!("order {id}: amount accepted; {advanced:?}")
                }
            }
        }
        OrdersCommand::Release { id, all } => {
            let worker = worker.context("releasing needs the providers")?;
            let ids: Vec<OrderId> = match (id, all) {
                (Some(id), false) => vec![OrderId::parse(&id).map_err(|e| anyhow::anyhow!("{id:?}: {e}"))?],
                (None, true) => store
                    .orders(&OrderFilter {
                        status: Some(OrderStatus::Paid),
                        limit: Some(1000),
                    })
                    .await?
                    .into_iter()
                    .filter(|o| o.fulfillment_released_at.is_none())
                    .map(|o| o.id)
                    .collect(),
                _ => bail!("name an order id, or use --all"),
            };
            if ids.is_empty() {
                println!("no paid orders wait to be released");
            }
            for id in ids {
                let Some(order) = store.order(id).await? else {
                    bail!("no order {id}")
                };
                if order.status() != OrderStatus::Paid {
                    bail!(
                        "order {id} is {}, not paid: there is nothing to release",
                        order.status()
                    );
                }
                store.release_fulfillment(id).await?;
                let advanced = worker
                    .advance(id)
                    .await
                    .map_err(|e| anyhow::anyhow!("order {id} was released but not sent: {e}"))?;
                println!("order #{} ({id}) released: {advanced:?}", order.number);
            }
        }
        OrdersCommand::List { status, limit, json } => {
            let status = match status {
                None => None,
                Some(s) => Some(OrderStatus::parse(&s).with_context(|| {
                    let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                    format!("unknown status {s:?}; use one of {}", names.join(", "))
                })?),
            };
            let orders = store
                .orders(&OrderFilter {
                    status,
                    limit: Some(limit),
                })
                .await?;
            if json {
                let views: Vec<OrderView> = orders.iter().map(|o| OrderView::of(o, None)).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "orders": views }))?
                );
            } else {
                print_table(&orders);
            }
        }
        OrdersCommand::Show { id, json } => {
            let id = OrderId::parse(&id).map_err(|e| anyhow::anyhow!("{id:?}: {e}"))?;
            let Some(order) = store.order(id).await? else {
                bail!("no order {id}");
            };
            let timeline = store.timeline(id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&OrderView::of(&order, Some(&timeline)))?
                );
            } else {
                print_order(&order, &timeline);
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct OrderView<'a> {
    order_id: OrderId,
    number: i64,
    status: OrderStatus,
    total: TotalView,
    email: Option<&'a str>,
    items: Vec<ItemView<'a>>,
    stripe_session_id: Option<&'a str>,
    printful_order_id: Option<i64>,
    /// What Stripe charged, part by part (minor units), once paid.
    charged: Option<backroom_core::order::Charged>,
    /// Paid (after tax), Stripe's fee, Printful's bill and the margin, in signed minor units.
    earned: Option<backroom_core::earnings::Earned>,
    /// Attempts at the work the order owes Printful, when some failed.
    work: &'a backroom_core::owed::WorkLog,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<&'a [TimelineEntry]>,
}

#[derive(Serialize)]
struct TotalView {
    amount: i64,
    currency: &'static str,
}

#[derive(Serialize)]
struct ItemView<'a> {
    sku: &'a str,
    name: &'a str,
    size: &'a str,
    quantity: u32,
    unit_price: i64,
}

impl<'a> OrderView<'a> {
    fn of(o: &'a Order, timeline: Option<&'a [TimelineEntry]>) -> OrderView<'a> {
        OrderView {
            order_id: o.id,
            number: o.number,
            status: o.status(),
            total: TotalView {
                amount: o.total.amount.get(),
                currency: o.total.currency.code(),
            },
            email: o.email.as_ref().map(|e| e.as_str()),
            charged: o.charged,
            earned: o.earned(),
            work: &o.work,
            items: o
                .items
                .iter()
                .map(|i| ItemView {
                    sku: i.sku.as_str(),
                    name: &i.name,
                    size: &i.size,
                    quantity: i.quantity,
                    unit_price: i.unit_price.get(),
                })
                .collect(),
            stripe_session_id: o.stripe_session_id.as_deref(),
            printful_order_id: o.printful_order_id,
            created_at: o.created_at,
            updated_at: o.updated_at,
            timeline,
        }
    }
}

fn print_table(orders: &[Order]) {
    if orders.is_empty() {
        println!("no orders");
        return;
    }
    println!(
        "{:>6}  {:<36}  {:<17}  {:>14}  {:>6}  PLACED",
        "NUMBER", "ORDER", "STATUS", "TOTAL", "PIECES"
    );
    for o in orders {
        let pieces: u32 = o.items.iter().map(|i| i.quantity).sum();
        println!(
            "{:>6}  {:<36}  {:<17}  {:>14}  {:>6}  {}",
            o.number,
            o.id.to_string(),
            o.status().as_str(),
            o.total.to_string(),
            pieces,
            o.created_at.format("%Y-%m-%d %H:%M")
        );
    }
}

fn print_order(o: &Order, timeline: &[TimelineEntry]) {
    println!("order #{} ({})", o.number, o.id);
    println!("status:   {}", o.status());
    println!("total:    {}", o.total);
    if let Some(email) = &o.email {
        println!("email:    {email}");
    }
    if let Some(s) = &o.stripe_session_id {
        println!("stripe:   {s}");
    }
    if let Some(p) = o.printful_order_id {
        println!("printful: {p}");
    }
    println!("placed:   {}", o.created_at.format("%Y-%m-%d %H:%M:%S UTC"));
    let currency = o.total.currency;
    if let Some(c) = o.charged {
        let m = |c| Money::new(c, currency);
        println!(
            "charged:  {} = items {} - discount {} + shipping {} + tax {}",
            m(c.total),
            m(c.subtotal),
            m(c.discount),
            m(c.shipping),
            m(c.tax)
        );
    }
    if let Some(e) = o.earned() {
        let show = |v: Option<i64>| v.map_or("not known yet".to_string(), |v| signed(v, currency));
        println!("earned:   paid after tax {}", signed(e.revenue, currency));
        println!("          Stripe fee     {}", show(e.stripe_fee));
        println!("          Printful cost  {}", show(e.printful_cost));
        println!("          margin         {}", show(e.margin));
        for loss in &e.losses {
            println!("          at a loss: {loss}");
        }
    }
    println!("items:");
    for i in &o.items {
        let price = Money::new(i.unit_price, o.total.currency);
        println!("  {} x {} {} ({}) at {}", i.quantity, i.name, i.size, i.sku, price);
    }
    println!("timeline:");
    for e in timeline {
        let change = if e.from == e.to {
            e.to.to_string()
        } else {
            format!("{} -> {}", e.from, e.to)
        };
        println!(
            "  {}  {:<32}  {}  ({})",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            change,
            e.detail,
            e.cause
        );
    }
}
