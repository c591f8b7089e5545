//! The event worker: takes provider events off the queue, re-reads the object from the
//! provider (a webhook body is never trusted) and applies what it read to the order.

use backroom_core::ports::{
    Applied, ApplyError, Change, EventClaim, EventSource, Inbox, NewAlert, OrderStore, PaymentDetails, PrintfulUpdate,
    QueueMessage, Severity,
};
use backroom_core::{Cause, Fact, Money, Order, OrderId, OrderStatus};
use backroom_core::{PrintfulEventKind, StripeEventKind};
use backroom_stripe::webhook::{Envelope, parse_envelope};
use backroom_stripe::{CheckoutSession, PaymentStatus, SessionStatus};

use backroom_aws::emf::Metric;
use tracing::Instrument as _;

use crate::fulfillment::Advanced;
pub use crate::process::{ProcessError, count_transition};
use crate::queue::LocalQueue;

/// The time one message may take at most: Stripe's and Printful's timeouts and Printful's
/// rate-limit back-off included. A batch starts no message with less than this left.
pub const MESSAGE_TIME: std::time::Duration = std::time::Duration::from_secs(30);

pub use crate::services::Worker;

/// One message of a batch; `None` when it could not be read as one of ours.
#[derive(Clone, Debug)]
pub struct BatchItem {
    pub message_id: String,
    pub message: Option<QueueMessage>,
}

/// What processing a message came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied(Applied),
    /// Processed with nothing to change on an order (an alert, a payment still pending…).
    Done(String),
}

impl Worker {
    /// Processes a batch and returns the ids of the messages that failed (SQS partial batch
    /// response): only those come back.
    pub async fn process_batch(&self, items: Vec<BatchItem>) -> Vec<String> {
        Box::pin(self.process_batch_until(items, None)).await
    }

    /// As `process_batch`, within the invocation's time: no message is started once less than
    /// `MESSAGE_TIME` is left before `deadline`; those not started are failed, untouched, and
    /// come back after their visibility timeout. A slow provider then costs a retry, never a
    /// timed-out invocation whose whole batch (healthy messages too) counts a failed receive on
    /// its way to the dead-letter queue.
    pub async fn process_batch_until(
        &self,
        items: Vec<BatchItem>,
        deadline: Option<std::time::Instant>,
    ) -> Vec<String> {
        let mut failed = vec![];
        let total = items.len();
        let mut not_started = 0usize;
        for item in items {
            if deadline.is_some_and(|d| d.saturating_duration_since(std::time::Instant::now()) < MESSAGE_TIME) {
                not_started += 1;
                failed.push(item.message_id);
                continue;
            }
            let span = tracing::info_span!("message", message_id = %item.message_id);
            let result = async {
                match &item.message {
                    // Boxed: the processing future is large, and a batch holds one per message.
                    Some(m) => Box::pin(self.process(m)).await,
                    None => Err(ProcessError::Poison("the message lacks backroom's attributes".into())),
                }
            }
            .instrument(span.clone())
            .await;
            span.in_scope(|| match result {
                Ok(outcome) => tracing::info!(?outcome, "processed"),
                Err(e) => {
                    tracing::error!(error = %e, "processing failed");
                    failed.push(item.message_id);
                }
            });
        }
        if not_started > 0 {
            tracing::warn!(
                not_started,
                "the invocation's time ran low: messages left for their next delivery"
            );
        }
        backroom_aws::emf::emit(&[
            (Metric::EventsProcessed, (total - failed.len()) as f64),
            (Metric::ProcessingFailures, (failed.len() - not_started) as f64),
        ]);
        failed
    }

    /// One batch from the in-process queue through the batch handler, as Lambda runs it with
    /// SQS: the messages that succeeded are deleted, the failed ones come back after the
    /// visibility timeout. `None` when nothing was visible; else the ids that failed.
    pub async fn run_local_batch(&self, queue: &LocalQueue) -> Option<Vec<String>> {
        let received = queue.receive(10);
        if received.is_empty() {
            return None;
        }
        let items = received
            .iter()
            .map(|r| BatchItem {
                message_id: r.message_id.clone(),
                message: Some(r.message.clone()),
            })
            .collect();
        let failed = self.process_batch(items).await;
        for r in received.iter().filter(|r| !failed.contains(&r.message_id)) {
            queue.delete(&r.message_id, r.receipt);
        }
        Some(failed)
    }

    /// Processes one message. The future is boxed as a trait object: it nests the providers'
    /// clients and the store's, and every caller (the batch, the catch-up jobs) would otherwise
    /// carry, and the compiler check, the whole type.
    pub fn process<'a>(
        &'a self,
        m: &'a QueueMessage,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Outcome, ProcessError>> + Send + 'a>> {
        Box::pin(async move {
            match m.source {
                EventSource::Stripe => Box::pin(self.process_stripe(m)).await,
                EventSource::Printful => Box::pin(self.process_printful(m)).await,
            }
        })
    }

    async fn process_stripe(&self, m: &QueueMessage) -> Result<Outcome, ProcessError> {
        let envelope = parse_envelope(m.body.as_bytes()).map_err(|e| ProcessError::Poison(e.to_string()))?;
        let claim = EventClaim {
            source: EventSource::Stripe,
            event_id: envelope.id.clone(),
            event_type: envelope.event_type.clone(),
        };
        if self.store.is_processed(EventSource::Stripe, &envelope.id).await? {
            return Ok(Outcome::Applied(Applied::AlreadyProcessed));
        }
        let Some(kind) = StripeEventKind::parse(&envelope.event_type) else {
            self.store.claim(&claim).await?;
            return Ok(Outcome::Done(format!("ignored event type {}", envelope.event_type)));
        };
        match kind {
            StripeEventKind::SessionCompleted
            | StripeEventKind::AsyncPaymentSucceeded
            | StripeEventKind::AsyncPaymentFailed
            | StripeEventKind::SessionExpired => Box::pin(self.checkout_session_event(&envelope, &claim)).await,
            StripeEventKind::ChargeRefunded => Box::pin(self.charge_refunded(&envelope, &claim)).await,
            StripeEventKind::DisputeCreated => Box::pin(self.dispute_created(&envelope, &claim)).await,
        }
    }

    /// Applies what the session says now, whatever the event's type: a late `expired` for a
    /// session that was paid still ends as paid.
    async fn checkout_session_event(&self, envelope: &Envelope, claim: &EventClaim) -> Result<Outcome, ProcessError> {
        let session = self.stripe.checkout_session(&envelope.object_id).await?;
        Box::pin(self.apply_session(
            &session,
            &envelope.event_type,
            &Cause::StripeEvent(envelope.id.clone()),
            Some(claim),
        ))
        .await
    }

    /// Brings the session's order up to date with the session (the worker after an event, and
    /// the catch-up job when events are too old to list), then does the work it owes, with the
    /// order the change returned (read once).
    pub async fn apply_session(
        &self,
        session: &CheckoutSession,
        event_type: &str,
        cause: &Cause,
        claim: Option<&EventClaim>,
    ) -> Result<Outcome, ProcessError> {
        let (applied, order) = Box::pin(self.record_session(session, event_type, cause, claim)).await?;
        if let Some(order) = order {
            Box::pin(self.advance_known(order)).await?;
        } else if let Some(order_id) = session.order_id
            && !matches!(applied, Outcome::Applied(Applied::AlreadyProcessed))
        {
            Box::pin(self.advance(order_id)).await?;
        }
        Ok(applied)
    }

    /// Applies what the session says to its order, without doing the work it makes owed; the
    /// order as the change left it, when it was read.
    async fn record_session(
        &self,
        session: &CheckoutSession,
        event_type: &str,
        cause: &Cause,
        claim: Option<&EventClaim>,
    ) -> Result<(Outcome, Option<Order>), ProcessError> {
        let Some(order_id) = session.order_id else {
            return Ok((self.foreign_session(session, claim).await?, None));
        };
        let (fact, details) = match (session.status, session.payment_status) {
            (SessionStatus::Complete, PaymentStatus::Paid | PaymentStatus::NoPaymentRequired) => {
                // Stripe's items subtotal is compared with ours, when its parts (subtotal, less
                // discount, plus shipping and tax) add up to what it charged.
                let checked = session.charged.map(|c| c.amount_to_check()).or(session.amount_total);
                let (Some(amount), Some(currency)) = (checked, session.currency) else {
                    return Err(ProcessError::Poison(format!(
                        "paid session {} has no amount",
                        session.id
                    )));
                };
                // The payment's details (and Stripe's fee) are written with the transition.
                let mut details = payment_details(session);
                details.stripe_fee = self.payment_fee(session).await;
                (Fact::PaymentSucceeded { amount, currency }, Some(details))
            }
            (SessionStatus::Complete, PaymentStatus::Unpaid)
                if event_type == StripeEventKind::AsyncPaymentFailed.as_str() =>
            {
                (Fact::PaymentFailed, None)
            }
            (SessionStatus::Complete, PaymentStatus::Unpaid) | (SessionStatus::Open, _) => {
                if let Some(claim) = claim {
                    self.store.claim(claim).await?;
                }
                return Ok((
                    Outcome::Done(format!("order {order_id}: the payment is not settled yet")),
                    None,
                ));
            }
            (SessionStatus::Expired, _) => (Fact::SessionExpired, None),
        };
        let (applied, order) = Box::pin(self.change(order_id, &fact, cause, claim, details.as_ref())).await?;
        if let Outcome::Applied(Applied::Transitioned(t)) = &applied
            && t.to == OrderStatus::NeedsAttention
            && t.state.amount_mismatch
        {
            self.alerts
                .raise(NewAlert {
                    severity: Severity::Ops,
                    kind: "amount_mismatch".into(),
                    order_id: Some(order_id),
                    dedupe_key: format!("amount_mismatch:{order_id}"),
                    message: format!(
                        "Order {order_id} was {}. It will not be sent to print. Check the payment in the Stripe dashboard \
                         (session {}); then either refund it, or let it go to print with \
                         `backroom orders accept-amount {order_id}`.",
                        t.detail, session.id
                    ),
                })
                .await?;
        }
        Ok((applied, order))
    }

    /// Stripe's fee for the session's payment, when Stripe has booked it. Only for the owner's
    /// accounts: a failure to read it is logged and never holds the order back.
    async fn payment_fee(&self, session: &CheckoutSession) -> Option<Money> {
        let pi = session.payment_intent.as_deref()?;
        match self.stripe.payment_fee(pi).await {
            Ok(fee) => fee.map(|f| Money::new(f.amount, f.currency)),
            Err(e) => {
                tracing::warn!(session = %session.id, error = %e, "could not read Stripe's fee for the payment");
                None
            }
        }
    }

    async fn apply(
        &self,
        order_id: OrderId,
        fact: &Fact,
        cause: &Cause,
        claim: Option<&EventClaim>,
    ) -> Result<Outcome, ProcessError> {
        Ok(Box::pin(self.change(order_id, fact, cause, claim, None)).await?.0)
    }

    /// Applies a fact (with the payment's details, if any) in one transaction, publishes the
    /// order event it made, and returns the order as the change left it.
    async fn change(
        &self,
        order_id: OrderId,
        fact: &Fact,
        cause: &Cause,
        claim: Option<&EventClaim>,
        details: Option<&PaymentDetails>,
    ) -> Result<(Outcome, Option<Order>), ProcessError> {
        let change = Change {
            id: order_id,
            fact,
            cause,
            claim,
            details,
            printful: None,
        };
        match self.store.apply_change(change).await {
            Ok(changed) => {
                count_transition(&changed.applied);
                // Boxed: publishing holds the AWS SDK's large futures.
                Box::pin(self.outbox.after_change(&changed)).await;
                Ok((Outcome::Applied(changed.applied), changed.order))
            }
            Err(ApplyError::Store(e)) => Err(e.into()),
            Err(ApplyError::NotFound(id)) => {
                self.alerts
                    .raise(NewAlert {
                        severity: Severity::Security,
                        kind: "unknown_order".into(),
                        order_id: Some(id),
                        dedupe_key: format!("unknown_order:{id}"),
                        message: format!(
                            "A Stripe payment ({cause}) names order {id}, which backroom does not have. If you did not make \
                             this payment through your shop, someone may be using your Stripe key: roll it in the Stripe \
                             dashboard."
                        ),
                    })
                    .await?;
                if let Some(claim) = claim {
                    self.store.claim(claim).await?;
                }
                Ok((Outcome::Done(format!("order {id} is unknown")), None))
            }
        }
    }

    /// A session no order of ours made: somebody else is using the Stripe key.
    async fn foreign_session(
        &self,
        session: &CheckoutSession,
        claim: Option<&EventClaim>,
    ) -> Result<Outcome, ProcessError> {
        self.alerts
            .raise(NewAlert {
                severity: Severity::Security,
                kind: "unknown_stripe_session".into(),
                order_id: None,
                dedupe_key: format!("unknown_stripe_session:{}", session.id),
                message: format!(
                    "Stripe checkout session {} was not made by backroom (it carries no order id). If you did not create it \
                     yourself, someone may be using your Stripe secret key: roll the key in the Stripe dashboard now.",
                    session.id
                ),
            })
            .await?;
        if let Some(claim) = claim {
            self.store.claim(claim).await?;
        }
        Ok(Outcome::Done(format!("session {} is not ours", session.id)))
    }

    async fn charge_refunded(&self, envelope: &Envelope, claim: &EventClaim) -> Result<Outcome, ProcessError> {
        let charge = self.stripe.charge(&envelope.object_id).await?;
        let cause = Cause::StripeEvent(envelope.id.clone());
        let order = match &charge.payment_intent {
            Some(pi) => Box::pin(self.order_paid_by(pi, &cause)).await?,
            None => None,
        };
        let Some(order) = order else {
            self.alerts
                .raise(NewAlert {
                    severity: Severity::Security,
                    kind: "unknown_charge".into(),
                    order_id: None,
                    dedupe_key: format!("unknown_charge:{}", charge.id),
                    message: format!(
                        "Stripe refunded charge {}, which belongs to no order of backroom. If you do not know this charge, \
                         someone may be using your Stripe key: roll it in the Stripe dashboard.",
                        charge.id
                    ),
                })
                .await?;
            self.store.claim(claim).await?;
            return Ok(Outcome::Done(format!("charge {} is not ours", charge.id)));
        };
        if charge.currency != order.currency() {
            return Err(ProcessError::Poison(format!(
                "charge {} is in {} but order {} is in {}",
                charge.id,
                charge.currency,
                order.id,
                order.currency()
            )));
        }
        let applied = Box::pin(self.apply(
            order.id,
            &Fact::Refunded {
                amount_refunded: charge.amount_refunded,
            },
            &cause,
            Some(claim),
        ))
        .await?;
        Box::pin(self.advance(order.id)).await?;
        Ok(applied)
    }

    /// Does the work the order's committed state owes Printful (submit, or cancel after a
    /// refund), right after the commit. A failure is recorded on the order, not returned: the
    /// scheduled jobs find the order from its state and try again.
    pub async fn advance(&self, id: OrderId) -> Result<Advanced, ProcessError> {
        let advanced = Box::pin(self.settle(id, None, chrono::Utc::now())).await?;
        tracing::info!(order_id = %id, ?advanced, "advanced");
        Ok(advanced)
    }

    /// [`Worker::advance`] with the order as the change that just committed left it: no read.
    pub async fn advance_known(&self, order: Order) -> Result<Advanced, ProcessError> {
        let id = order.id;
        let advanced = Box::pin(self.settle_order(order, None, chrono::Utc::now())).await?;
        tracing::info!(order_id = %id, ?advanced, "advanced");
        Ok(advanced)
    }

    /// The order a payment intent paid for, found whatever order the facts arrive in: by the
    /// payment intent stored with the payment, or, when the payment has not been applied here
    /// yet (its event late, lost or being retried), through the Checkout Session that took it,
    /// which names the order. The session is then applied first, so the payment is known
    /// before what follows it. `None` when no session of ours took the payment.
    async fn order_paid_by(
        &self,
        payment_intent: &str,
        cause: &Cause,
    ) -> Result<Option<backroom_core::Order>, ProcessError> {
        if let Some(order) = self.store.order_by_payment_intent(payment_intent).await? {
            return Ok(Some(order));
        }
        let Some(session) = self.stripe.session_by_payment_intent(payment_intent).await? else {
            return Ok(None);
        };
        let Some(order_id) = session.order_id else {
            return Ok(None);
        };
        // Only recorded: what the payment makes owed is decided after the fact that brought it.
        Box::pin(self.record_session(&session, StripeEventKind::SessionCompleted.as_str(), cause, None)).await?;
        Ok(self.store.order(order_id).await?)
    }

    async fn dispute_created(&self, envelope: &Envelope, claim: &EventClaim) -> Result<Outcome, ProcessError> {
        let dispute = self.stripe.dispute(&envelope.object_id).await?;
        let cause = Cause::StripeEvent(envelope.id.clone());
        let order = match &dispute.payment_intent {
            Some(pi) => Box::pin(self.order_paid_by(pi, &cause)).await?,
            None => None,
        };
        let amount = backroom_core::Money::new(dispute.amount, dispute.currency);
        let message = match &order {
            // Drafts the evidence at Stripe when the order shipped; never submits it.
            Some(order) => Box::pin(crate::disputes::answer(self, &dispute, order)).await?,
            None => format!(
                "A dispute for {amount} (reason: {}) was opened on charge {}, which belongs to no order of backroom. Look at it in \
                 the Stripe dashboard.",
                dispute.reason, dispute.charge
            ),
        };
        self.alerts
            .raise(NewAlert {
                severity: Severity::Ops,
                kind: "dispute".into(),
                order_id: order.as_ref().map(|o| o.id),
                dedupe_key: format!("dispute:{}", dispute.id),
                message,
            })
            .await?;
        self.store.claim(claim).await?;
        if let Some(order) = &order {
            // The dispute may have brought the payment in: do what that owes.
            Box::pin(self.advance(order.id)).await?;
        }
        Ok(Outcome::Done(format!("dispute {} reported", dispute.id)))
    }
}

fn payment_details(session: &CheckoutSession) -> PaymentDetails {
    PaymentDetails {
        payment_intent_id: session.payment_intent.clone(),
        email: session
            .customer_email
            .as_deref()
            .and_then(|e| backroom_core::Email::parse(e).ok()),
        shipping: session.shipping.clone(),
        charged: session.charged,
        stripe_fee: None,
    }
}

impl Worker {
    /// A Printful webhook is only a hint: the order is read again from Printful by its
    /// external id, and what Printful says now is applied.
    async fn process_printful(&self, m: &QueueMessage) -> Result<Outcome, ProcessError> {
        let event = backroom_printful::webhook::parse_event(m.body.as_bytes())
            .map_err(|e| ProcessError::Poison(e.to_string()))?;
        let claim = EventClaim {
            source: EventSource::Printful,
            event_id: m.event_id.clone(),
            event_type: event.event_type.clone(),
        };
        let Some(kind) = PrintfulEventKind::parse(&event.event_type) else {
            return Ok(Outcome::Done(format!("ignored event type {}", event.event_type)));
        };
        if self.store.is_processed(EventSource::Printful, &m.event_id).await? {
            return Ok(Outcome::Applied(Applied::AlreadyProcessed));
        }
        let printful = &self.printful;
        let pf = match (&event.external_id, event.order_id) {
            (Some(ext), _) if !ext.is_empty() => printful.order_by_external_id(ext).await?,
            (_, Some(id)) => printful.order(id).await?,
            _ => None,
        };
        let Some(pf) = pf else {
            self.store.claim(&claim).await?;
            return Ok(Outcome::Done(format!("Printful has no order for event {}", m.event_id)));
        };
        let ours = pf.external_id.as_deref().and_then(|e| OrderId::parse(e).ok());
        let cause = Cause::PrintfulEvent(m.event_id.clone());
        let (Some(id), backroom_printful::Status::Known(status)) = (ours, pf.status.clone()) else {
            return Box::pin(self.printful_event_the_slow_way(m, &claim, kind, &event, &pf, ours)).await;
        };
        // Everything the event says, written in one transaction, and only to an order backroom
        // sent to Printful. The event is claimed last, once what it set off (an alert, a
        // returned parcel, owed work) is done: a failure on the way processes it again, and the
        // state machine refuses what was already applied.
        let update = PrintfulUpdate {
            order_id: pf.id,
            costs: pf.costs,
            shipments: pf.shipments.iter().map(crate::fulfillment::shipment_record).collect(),
        };
        let at = chrono::DateTime::from_timestamp(pf.updated.max(pf.created), 0).unwrap_or_else(chrono::Utc::now);
        let change = Change {
            id,
            fact: &Fact::Printful { status, at },
            cause: &cause,
            claim: None,
            details: None,
            printful: Some(&update),
        };
        let changed = match self.store.apply_change(change).await {
            Ok(changed) => changed,
            Err(ApplyError::Store(e)) => return Err(e.into()),
            // Ours only when backroom sent the order there: a Printful order naming an order
            // that was never paid, or that backroom never submitted, was made with a stolen token.
            Err(ApplyError::NotFound(_)) => return self.not_our_printful_order(&pf, &claim).await,
        };
        count_transition(&changed.applied);
        Box::pin(self.outbox.after_change(&changed)).await;
        let Some(order) = changed.order else {
            self.store.claim(&claim).await?;
            return Ok(Outcome::Applied(changed.applied));
        };
        if let Applied::Transitioned(t) = &changed.applied {
            self.alert_on_printful_trouble(&order, t.to, event.reason.as_deref(), pf.id)
                .await?;
        }
        if kind == PrintfulEventKind::PackageReturned {
            Box::pin(crate::delivery::package_returned(
                self,
                &order,
                event.shipment_id,
                event.reason.as_deref(),
            ))
            .await?;
        }
        Box::pin(self.settle_order(order, Some(&pf), chrono::Utc::now())).await?;
        self.store.claim(&claim).await?;
        Ok(Outcome::Applied(changed.applied))
    }

    /// A Printful order that names no order of ours, or one backroom never sent: alerted as a
    /// sign of a stolen token, and the event marked processed.
    async fn not_our_printful_order(
        &self,
        pf: &backroom_printful::Order,
        claim: &EventClaim,
    ) -> Result<Outcome, ProcessError> {
        self.alerts
            .raise(crate::fulfillment::unknown_printful_order_alert(
                pf.id,
                pf.external_id.as_deref(),
            ))
            .await?;
        self.store.claim(claim).await?;
        Ok(Outcome::Done(format!("Printful order {} is not ours", pf.id)))
    }

    /// A Printful event whose order has a status backroom does not know: its parcels and bill
    /// are recorded, and the event claimed, statement by statement.
    async fn printful_event_the_slow_way(
        &self,
        m: &QueueMessage,
        claim: &EventClaim,
        kind: PrintfulEventKind,
        event: &backroom_printful::webhook::WebhookEvent,
        pf: &backroom_printful::Order,
        ours: Option<OrderId>,
    ) -> Result<Outcome, ProcessError> {
        let known = match ours {
            Some(id) => self.store.order(id).await?,
            None => None,
        };
        let Some(order) = known.filter(backroom_core::Order::submitted_by_us) else {
            return self.not_our_printful_order(pf, claim).await;
        };
        self.store.set_printful_order_id(order.id, pf.id).await?;
        let applied = Box::pin(self.apply_printful(order.id, pf, &Cause::PrintfulEvent(m.event_id.clone()))).await?;
        if kind == PrintfulEventKind::PackageReturned {
            Box::pin(crate::delivery::package_returned(
                self,
                &order,
                event.shipment_id,
                event.reason.as_deref(),
            ))
            .await?;
        }
        Box::pin(self.settle(order.id, Some(pf), chrono::Utc::now())).await?;
        self.store.claim(claim).await?;
        Ok(Outcome::Applied(applied.unwrap_or(Applied::Refused(
            backroom_core::Refusal::Duplicate {
                current: order.status(),
            },
        ))))
    }

    async fn alert_on_printful_trouble(
        &self,
        order: &backroom_core::Order,
        status: OrderStatus,
        reason: Option<&str>,
        printful_id: i64,
    ) -> Result<(), ProcessError> {
        let reason = reason.map(|r| format!(" Printful says: {r}.")).unwrap_or_default();
        let (kind, message) = match status {
            OrderStatus::OnHold => (
                "printful_on_hold",
                format!(
                    "Printful put order #{} ({}) on hold.{reason} Open Printful order {printful_id} in the Printful dashboard \
                     and resolve the hold; backroom follows when it moves on.",
                    order.number, order.id
                ),
            ),
            OrderStatus::Canceled => (
                "printful_canceled",
                format!(
                    "Printful canceled order #{} ({}).{reason} The buyer paid: refund them in the Stripe dashboard, or place \
                     the order again.",
                    order.number, order.id
                ),
            ),
            OrderStatus::NeedsAttention => (
                "printful_failed",
                format!(
                    "Printful could not fulfil order #{} ({}).{reason} Fix it in the Printful dashboard (order {printful_id}) \
                     and submit it again.",
                    order.number, order.id
                ),
            ),
            _ => return Ok(()),
        };
        self.alerts
            .raise(NewAlert {
                severity: Severity::Ops,
                kind: kind.into(),
                order_id: Some(order.id),
                dedupe_key: format!("{kind}:{}", order.id),
                message,
            })
            .await?;
        Ok(())
    }
}
