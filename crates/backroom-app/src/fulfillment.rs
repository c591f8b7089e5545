//! `advance(order)`: whatever a paid order still needs at Printful. A paid order gets exactly
//! one Printful order (its `external_id` is our order id): it is created as a draft, or, after
//! a lost response or an OR-13, the existing one is adopted; then it is confirmed. A full
//! refund cancels a Printful order that is not yet in production, and alerts the owner when it
//! is. Every step reads before it writes, so running it twice, or after a crash, is harmless.

use backroom_core::machine::{Fulfillment as Stage, Payment, PrintfulStatus};
use backroom_core::ports::{
    Applied, ApplyError, Change, NewAlert, OrderStore, PrintfulUpdate, Severity, ShipmentRecord,
};
use backroom_core::{Cause, Fact, Money, Order, OrderId, owed};
use backroom_printful::{NewItem, NewOrder, Recipient, RetailCosts, Status};

use crate::process::{ProcessError, count_transition};
use crate::services::Worker;

/// What `advance` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advanced {
    /// Nothing to do in this state.
    Nothing,
    /// Fulfillment is paused and the order has not been released.
    Paused,
    /// The order is at Printful (created or adopted, and confirmed).
    Submitted { printful_order_id: i64 },
    /// Refunded before production: canceled at Printful.
    Canceled { printful_order_id: i64 },
    /// Something needs the owner; an alert says what.
    Alerted(String),
    /// The attempt failed; it is recorded on the order and retried by the scheduled jobs.
    Deferred(String),
}

impl Worker {
    /// Does what the order's state still owes Printful (`backroom_core::owed`), and records the
    /// outcome: a failure is stored on the order with its back-off (and told to the owner once
    /// it has lasted an hour) instead of being returned, because the scheduled jobs find the
    /// order again from its state and retry. Only a failure to record is an error. `known` is
    /// the Printful order when the caller has just read it (saves a call).
    ///
    /// The future is boxed as a trait object: it nests the Printful client's and the store's,
    /// and every caller would otherwise carry (and the compiler check) the whole type.
    pub fn settle<'a>(
        &'a self,
        id: OrderId,
        known: Option<&'a backroom_printful::Order>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Advanced, ProcessError>> + Send + 'a>> {
        // The span is attached inside the box: an instrumented future is larger, and these
        // nest deeply enough to overflow a test thread's stack in debug builds.
        Box::pin(tracing::Instrument::instrument(
            self.settle_inner(id, None, known, now),
            tracing::info_span!("settle", order_id = %id),
        ))
    }

    /// [`Worker::settle`] with the order already read (as a change just left it).
    pub fn settle_order<'a>(
        &'a self,
        order: Order,
        known: Option<&'a backroom_printful::Order>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Advanced, ProcessError>> + Send + 'a>> {
        let id = order.id;
        Box::pin(tracing::Instrument::instrument(
            self.settle_inner(id, Some(order), known, now),
            tracing::info_span!("settle", order_id = %id),
        ))
    }

    async fn settle_inner(
        &self,
        id: OrderId,
        read: Option<Order>,
        known: Option<&backroom_printful::Order>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Advanced, ProcessError> {
        let read = match read {
            Some(order) => Some(order),
            None => self.store.order(id).await?,
        };
        let Some(mut order) = read else {
            return Ok(Advanced::Nothing);
        };
        let mut known = known.cloned();
        let mut advanced = Advanced::Nothing;
        // A step can make more work owed (a refund committed while the create ran): follow on,
        // a bounded number of times.
        for _ in 0..3 {
            let before = owed::owed(&order, self.paused, now);
            match Box::pin(self.advance_order(&order, known.as_ref())).await {
                Ok(done) => advanced = done,
                Err(e) => return self.work_failed(&order, before, &e.to_string(), now).await,
            }
            if matches!(advanced, Advanced::Nothing | Advanced::Paused) {
                // Nothing was done, so the state is as read: no second read.
                if order.work.attempts > 0 && before.is_none() {
                    self.store.clear_work_failures(id).await?;
                }
                break;
            }
            let Some(next) = self.store.order(id).await? else {
                break;
            };
            let after = owed::owed(&next, self.paused, now);
            if next.work.attempts > 0 && after.is_none() {
                self.store.clear_work_failures(id).await?;
            }
            if after.is_none() || (after == before && next.state == order.state) {
                break;
            }
            order = next;
            known = None;
        }
        Ok(advanced)
    }

    async fn work_failed(
        &self,
        order: &Order,
        work: Option<owed::Work>,
        error: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Advanced, ProcessError> {
        let log = owed::after_failure(&order.work, error, now);
        self.store.record_work_failure(order.id, &log).await?;
        let what = work.map_or("its Printful work", |w| match w {
            owed::Work::Submit => "sending it to Printful",
            owed::Work::Cancel => "cancelling it at Printful after the refund",
        });
        tracing::warn!(order_id = %order.id, attempts = log.attempts, error, "owed work failed; the catch-up retries it");
        if owed::is_news(&log, now) {
            let since = log.failing_since.unwrap_or(now);
            self.alerts
                .raise(NewAlert {
                    severity: Severity::Ops,
                    kind: "work_failing".into(),
                    order_id: Some(order.id),
                    dedupe_key: format!("work_failing:{}", order.id),
                    message: format!(
                        "Order #{} ({}): {what} has failed {} times since {} UTC. The last error: {error}. backroom keeps \
                         trying; if Printful is down, wait; if the error names the order (an address, a variant), fix it \
                         and run `backroom reconcile --fix`.",
                        order.number,
                        order.id,
                        log.attempts,
                        since.format("%Y-%m-%d %H:%M")
                    ),
                })
                .await?;
        }
        Ok(Advanced::Deferred(error.to_string()))
    }

    /// Does what the order's state still needs at Printful and returns the first error (where
    /// [`Worker::settle`] records it on the order instead).
    pub async fn advance_or_fail(
        &self,
        id: OrderId,
        known: Option<&backroom_printful::Order>,
    ) -> Result<Advanced, ProcessError> {
        let Some(order) = self.store.order(id).await? else {
            return Ok(Advanced::Nothing);
        };
        Box::pin(self.advance_order(&order, known)).await
    }

    async fn advance_order(
        &self,
        order: &Order,
        known: Option<&backroom_printful::Order>,
    ) -> Result<Advanced, ProcessError> {
        let id = order.id;
        let state = order.state;
        if state.payment == Payment::Refunded {
            return Box::pin(self.cancel_after_refund(order, known)).await;
        }
        let needs_submit = state.payment == Payment::Paid
            && state.amount_ok()
            && (state.fulfillment == Stage::None
                || known.is_some_and(|pf| pf.status == Status::Known(PrintfulStatus::Draft)));
        if !needs_submit {
            return Ok(Advanced::Nothing);
        }
        if self.paused && order.fulfillment_released_at.is_none() {
            tracing::info!(order_id = %id, "fulfillment is paused; the order waits to be released");
            return Ok(Advanced::Paused);
        }
        Box::pin(self.submit(order, known)).await
    }

    async fn submit(&self, order: &Order, known: Option<&backroom_printful::Order>) -> Result<Advanced, ProcessError> {
        let external_id = order.id.external_id();
        // No lookup before the create: a create of an external id Printful already has fails
        // with OR-13, and that (like a lost answer) is when the existing order is looked up.
        let pf = match known.cloned() {
            Some(pf) => pf,
            None => {
                let request = match self.new_printful_order(order) {
                    Ok(r) => r,
                    Err(problem) => return self.alert_unsubmittable(order, &problem).await,
                };
                // Written before the create: whatever becomes of its answer, a Printful order
                // with this external id is then known to be ours.
                self.store.mark_submit_started(order.id).await?;
                match self.printful.create_order(&request).await {
                    Ok(pf) => pf,
                    Err(e) if e.is_external_id_in_use() || e.is_retryable() => {
                        // The create may have committed with its answer lost, or a concurrent
                        // worker made it: adopt the order that exists.
                        tracing::warn!(order_id = %order.id, error = %e, "create did not answer cleanly; looking the order up");
                        match self.printful.order_by_external_id(&external_id).await? {
                            Some(pf) => pf,
                            None => return Err(e.into()),
                        }
                    }
                    Err(e) => return self.alert_unsubmittable(order, &e.to_string()).await,
                }
            }
        };
        // Printful's id is recorded with the order's new state below; until then the external
        // id (and `submit_started_at`) is how the order is found again.
        let pf = if pf.status == Status::Known(PrintfulStatus::Draft) {
            match self.printful.confirm_order(pf.id).await {
                Ok(confirmed) => confirmed,
                Err(e) => {
                    // A concurrent confirm may have won; only a draft still needs one.
                    let now = self
                        .printful
                        .order(pf.id)
                        .await?
                        .ok_or_else(|| ProcessError::Retry(anyhow::anyhow!(e.to_string())))?;
                    if now.status == Status::Known(PrintfulStatus::Draft) {
                        return Err(e.into());
                    }
                    now
                }
            }
        } else {
            pf
        };
        Box::pin(self.apply_printful(order.id, &pf, &Cause::Fulfillment)).await?;
        Ok(Advanced::Submitted {
            printful_order_id: pf.id,
        })
    }

    /// Records what Printful says about the order (its status, parcels, bill and id) in one
    /// transaction, and publishes the order event it made.
    pub async fn apply_printful(
        &self,
        id: OrderId,
        pf: &backroom_printful::Order,
        cause: &Cause,
    ) -> Result<Option<Applied>, ProcessError> {
        let Status::Known(status) = pf.status.clone() else {
            for s in &pf.shipments {
                self.store.record_shipment(id, &shipment_record(s)).await?;
            }
            if pf.costs.is_some() {
                self.store.record_earnings(id, None, pf.costs).await?;
            }
            tracing::warn!(order_id = %id, status = ?pf.status, "Printful reports a status backroom does not know");
            return Ok(None);
        };
        let at = chrono::DateTime::from_timestamp(pf.updated.max(pf.created), 0).unwrap_or_else(chrono::Utc::now);
        let update = PrintfulUpdate {
            order_id: pf.id,
            costs: pf.costs,
            shipments: pf.shipments.iter().map(shipment_record).collect(),
        };
        let change = Change {
            id,
            fact: &Fact::Printful { status, at },
            cause,
            claim: None,
            details: None,
            printful: Some(&update),
        };
        match self.store.apply_change(change).await {
            Ok(changed) => {
                count_transition(&changed.applied);
                Box::pin(self.outbox.after_change(&changed)).await;
                Ok(Some(changed.applied))
            }
            Err(ApplyError::Store(e)) => Err(e.into()),
            // Gone, or never sent to Printful by backroom: nothing of ours to record.
            Err(ApplyError::NotFound(_)) => Ok(None),
        }
    }

    async fn cancel_after_refund(
        &self,
        order: &Order,
        known: Option<&backroom_printful::Order>,
    ) -> Result<Advanced, ProcessError> {
        if order.state.fulfillment == Stage::Canceled {
            return Ok(Advanced::Nothing);
        }
        if order.state.fulfillment == Stage::None && known.is_none() && !order.submitted_by_us() {
            // Never sent to Printful, and no create under way: nothing to cancel.
            return Ok(Advanced::Nothing);
        }
        let pf = match known {
            Some(pf) => Some(pf.clone()),
            None => self.printful.order_by_external_id(&order.id.external_id()).await?,
        };
        let Some(pf) = pf else {
            return Ok(Advanced::Nothing);
        };
        let cancellable = matches!(
            pf.status,
            Status::Known(
                PrintfulStatus::Draft | PrintfulStatus::Pending | PrintfulStatus::Failed | PrintfulStatus::Onhold
            )
        );
        if pf.status == Status::Known(PrintfulStatus::Canceled) {
            self.apply_printful(order.id, &pf, &Cause::Fulfillment).await?;
            return Ok(Advanced::Canceled {
                printful_order_id: pf.id,
            });
        }
        if cancellable {
            let canceled = self.printful.cancel_order(pf.id).await?;
            Box::pin(self.apply_printful(order.id, &canceled, &Cause::Fulfillment)).await?;
            return Ok(Advanced::Canceled {
                printful_order_id: pf.id,
            });
        }
        let message = format!(
            "Order #{} ({}) was refunded in full, but Printful already has it in production (Printful order {}, status {:?}). \
             It will still be made and shipped: ask Printful support to stop it, or let it ship.",
            order.number, order.id, pf.id, pf.status
        );
        self.alerts
            .raise(NewAlert {
                severity: Severity::Ops,
                kind: "refunded_in_production".into(),
                order_id: Some(order.id),
                dedupe_key: format!("refunded_in_production:{}", order.id),
                message: message.clone(),
            })
            .await?;
        Ok(Advanced::Alerted(message))
    }

    async fn alert_unsubmittable(&self, order: &Order, problem: &str) -> Result<Advanced, ProcessError> {
        let message = format!(
            "Paid order #{} ({}) could not be sent to Printful: {problem}. Fix it (for example the address or the Printful \
             variant ids in catalog.toml), then run `backroom reconcile --fix` or wait for the next reconcile.",
            order.number, order.id
        );
        self.alerts
            .raise(NewAlert {
                severity: Severity::Ops,
                kind: "submission_refused".into(),
                order_id: Some(order.id),
                dedupe_key: format!("submission_refused:{}", order.id),
                message: message.clone(),
            })
            .await?;
        Ok(Advanced::Alerted(message))
    }

    /// The Printful draft for an order: recipient from the collected shipping address, items by
    /// sync variant with our retail prices.
    fn new_printful_order(&self, order: &Order) -> Result<NewOrder, String> {
        let shipping = order
            .shipping
            .clone()
            .ok_or("the payment carries no shipping address")?;
        let currency = order.total.currency;
        Ok(NewOrder {
            external_id: order.id.external_id(),
            recipient: Recipient {
                name: shipping.name,
                address1: shipping.line1,
                address2: shipping.line2.filter(|l| !l.is_empty()),
                city: shipping.city,
                state_code: shipping.state.filter(|s| !s.is_empty()),
                country_code: shipping.country,
                zip: shipping.postal_code,
                email: order.email.as_ref().map(|e| e.as_str().to_string()),
                phone: None,
            },
            items: order
                .items
                .iter()
                .enumerate()
                .map(|(i, item)| NewItem {
                    sync_variant_id: item.printful_sync_variant_id,
                    quantity: item.quantity,
                    retail_price: decimal(Money::new(item.unit_price, currency)),
                    name: if item.size.is_empty() {
                        item.name.clone()
                    } else {
                        format!("{} ({})", item.name, item.size)
                    },
                    external_id: format!("{}-{i}", order.id.external_id()),
                })
                .collect(),
            currency: currency.code().to_string(),
            retail_costs: order.charged.map(|c| RetailCosts {
                subtotal: decimal(Money::new(c.subtotal, currency)),
                discount: decimal(Money::new(c.discount, currency)),
                shipping: decimal(Money::new(c.shipping, currency)),
                tax: decimal(Money::new(c.tax, currency)),
                total: decimal(Money::new(c.total, currency)),
            }),
        })
    }
}

/// "28.00" for 2800 EUR cents: Printful takes retail prices as decimal strings.
fn decimal(m: Money) -> String {
    let shown = m.to_string();
    shown.split(' ').next().unwrap_or_default().to_string()
}

/// The security alert for a Printful order backroom did not make.
pub fn unknown_printful_order_alert(printful_id: i64, external_id: Option<&str>) -> NewAlert {
    NewAlert {
        severity: Severity::Security,
        kind: "unknown_printful_order".into(),
        order_id: None,
        dedupe_key: format!("unknown_printful_order:{printful_id}"),
        message: format!(
            "Printful order {printful_id} (external id {external_id:?}) was not made by backroom. If you did not place it \
             yourself in the Printful dashboard, someone may be using your Printful token: delete the token at \
             developers.printful.com/tokens, make a new one, and cancel the order at Printful."
        ),
    }
}

pub fn shipment_record(s: &backroom_printful::Shipment) -> ShipmentRecord {
    ShipmentRecord {
        provider_shipment_id: s.id,
        carrier: s.carrier.clone(),
        service: s.service.clone(),
        tracking_number: s.tracking_number.clone(),
        tracking_url: s.tracking_url.clone(),
        shipped_at: s.shipped_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        reshipment: s.reshipment,
    }
}

#[cfg(test)]
mod tests {
    use backroom_core::{Cents, Currency};

    use super::*;

    #[test]
    fn retail_prices_are_decimal_strings() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(decimal(Money::new(Cents::new(2800).unwrap(), eur)), "28.00");
        assert_eq!(decimal(Money::new(Cents::new(5).unwrap(), eur)), "0.05");
    }
}
