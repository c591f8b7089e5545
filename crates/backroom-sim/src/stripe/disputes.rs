//! Disputes as Stripe keeps them: evidence staged with `POST /v1/disputes/{id}` and
//! `submit=false`, submitted with `submit=true` (Stripe's default) once, after which the dispute
//! is under review and its evidence can no longer change; `evidence_details.due_by` bounds both.
//! The bank's decision comes from the control route (`won` or `lost`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::params::Params;
use super::state::{Change, Outbox, State};

/// Evidence fields that hold text, as `UpdateDisputeEvidence` names them.
pub(crate) const TEXT_FIELDS: [&str; 18] = [
    "access_activity_log",
    "billing_address",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "uncategorized_text",
];

/// Evidence fields that hold the id of a file upload. The simulator has no Files API, so any
/// id given here is one it does not have.
pub(crate) const FILE_FIELDS: [&str; 9] = [
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
];

/// Stripe's limit for each text field ("Has a maximum character count of 20,000").
const MAX_FIELD_CHARS: usize = 20_000;

/// Stripe's limit for all the evidence fields together.
const MAX_TOTAL_CHARS: usize = 150_000;

/// Dispute statuses in which evidence may still be staged or submitted.
const AWAITING_RESPONSE: [&str; 2] = ["needs_response", "warning_needs_response"];

/// Statuses once evidence was submitted.
const UNDER_REVIEW: [&str; 2] = ["under_review", "warning_under_review"];

/// What `POST /v1/disputes/{id}` asks for, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DisputeUpdate {
    /// Evidence fields to set; an empty string unsets one (`None`).
    pub evidence: BTreeMap<String, Option<String>>,
    /// Stripe submits unless told `submit=false`.
    pub submit: bool,
    /// Metadata keys to set; an empty value unsets the key.
    pub metadata: BTreeMap<String, String>,
}

/// Reads the parameters of `POST /v1/disputes/{id}` as Stripe validates them.
pub(crate) fn read_update(p: &Params<'_>) -> Result<DisputeUpdate, ApiError> {
    p.only(&["evidence", "submit", "metadata", "expand"])?;
    let mut evidence = BTreeMap::new();
    if let Some(e) = p.object("evidence")? {
        if e.has("enhanced_evidence") {
            return Err(ApiError::invalid(
                "evidence[enhanced_evidence] is not supported by the backroom simulator.",
                &e.name("enhanced_evidence"),
            ));
        }
        let mut allowed: Vec<&str> = TEXT_FIELDS.to_vec();
        allowed.extend_from_slice(&FILE_FIELDS);
        e.only(&allowed)?;
        for field in TEXT_FIELDS {
            let Some(text) = e.str(field)? else { continue };
            if text.chars().count() > MAX_FIELD_CHARS {
                return Err(ApiError::invalid(
                    format!("{} has a maximum character count of {MAX_FIELD_CHARS}.", e.name(field)),
                    &e.name(field),
                ));
            }
            evidence.insert(field.to_string(), (!text.is_empty()).then(|| text.to_string()));
        }
        for field in FILE_FIELDS {
            let Some(file) = e.str(field)? else { continue };
            if file.is_empty() {
                evidence.insert(field.to_string(), None);
                continue;
            }
            return Err(ApiError::new(
                400,
                "resource_missing",
                format!("No such file upload: '{file}' (the backroom simulator has no Files API)"),
                Some(&e.name(field)),
            ));
        }
    }
    let total: usize = evidence.values().flatten().map(|t| t.chars().count()).sum();
    if total > MAX_TOTAL_CHARS {
        return Err(ApiError::invalid(
            format!("The combined character count of all evidence fields is limited to {MAX_TOTAL_CHARS}."),
            "evidence",
        ));
    }
    Ok(DisputeUpdate {
        evidence,
        submit: p.bool("submit")?.unwrap_or(true),
        metadata: p.string_map("metadata")?,
    })
}

/// A dispute as the API shows it at `now`: `evidence_details.past_due` is true once `due_by`
/// has passed while a response is still awaited.
pub(crate) fn view(dispute: &Value, now: i64) -> Value {
    let mut d = dispute.clone();
    let awaiting = AWAITING_RESPONSE.contains(&d["status"].as_str().unwrap_or_default());
    let due_by = d["evidence_details"]["due_by"].as_i64().unwrap_or(i64::MAX);
    d["evidence_details"]["past_due"] = json!(awaiting && now > due_by);
    d
}

impl State {
    /// `POST /v1/disputes/{id}`: stages evidence, and submits it unless `submit` is false.
    /// Refused once the dispute is under review (evidence is submitted once), closed, or past
    /// its `due_by`. Anything that changed makes a `charge.dispute.updated` event.
    pub(crate) fn update_dispute(
        &mut self,
        id: &str,
        update: &DisputeUpdate,
        change: &Change,
    ) -> Result<(Value, Outbox), ApiError> {
        let dispute = self
            .disputes
            .iter_mut()
            .find(|d| d["id"] == id)
            .ok_or_else(|| ApiError::no_such("dispute", id, "dispute"))?;
        let status = dispute["status"].as_str().unwrap_or_default().to_string();
        if UNDER_REVIEW.contains(&status.as_str()) {
            return Err(ApiError::state(format!(
                "This dispute is {status}: its evidence was submitted and can no longer be changed or submitted again."
            )));
        }
        if !AWAITING_RESPONSE.contains(&status.as_str()) {
            return Err(ApiError::state(format!("This dispute is already closed ({status}).")));
        }
        let due_by = dispute["evidence_details"]["due_by"].as_i64().unwrap_or(i64::MAX);
        if change.now > due_by {
            return Err(ApiError::state(format!(
                "The evidence for this dispute was due by {due_by}; it can no longer be changed or submitted."
            )));
        }
        let before = json!({
            "evidence": dispute["evidence"],
            "evidence_details": dispute["evidence_details"],
            "metadata": dispute["metadata"],
            "status": dispute["status"],
        });
        for (field, value) in &update.evidence {
            dispute["evidence"][field.as_str()] = json!(value);
        }
        let has_evidence = TEXT_FIELDS
            .iter()
            .chain(FILE_FIELDS.iter())
            .any(|f| !dispute["evidence"][*f].is_null());
        dispute["evidence_details"]["has_evidence"] = json!(has_evidence);
        if !update.metadata.is_empty() {
            let metadata = dispute["metadata"].as_object_mut().expect("disputes have metadata");
            for (key, value) in &update.metadata {
                if value.is_empty() {
                    metadata.remove(key);
                } else {
                    metadata.insert(key.clone(), json!(value));
                }
            }
        }
        if update.submit {
            let count = dispute["evidence_details"]["submission_count"].as_u64().unwrap_or(0);
            dispute["evidence_details"]["submission_count"] = json!(count + 1);
            let reviewed = if status == "warning_needs_response" {
                "warning_under_review"
            } else {
                "under_review"
            };
            dispute["status"] = json!(reviewed);
        }
        let dispute = dispute.clone();
        let previous = changed_parts(&before, &dispute);
        let mut out = Outbox::new();
        if !previous.is_empty() {
            self.emit(
                change,
                "charge.dispute.updated",
                dispute.clone(),
                Some(Value::Object(previous)),
                &mut out,
            );
        }
        Ok((dispute, out))
    }

    /// The bank decides: `won` or `lost` (`warning_closed` for an inquiry), with
    /// `charge.dispute.closed`.
    pub(crate) fn resolve_dispute(
        &mut self,
        id: &str,
        won: bool,
        change: &Change,
    ) -> Result<(Value, Outbox), ApiError> {
        let dispute = self
            .disputes
            .iter_mut()
            .find(|d| d["id"] == id)
            .ok_or_else(|| ApiError::no_such("dispute", id, "dispute"))?;
        let status = dispute["status"].as_str().unwrap_or_default().to_string();
        if !AWAITING_RESPONSE.contains(&status.as_str()) && !UNDER_REVIEW.contains(&status.as_str()) {
            return Err(ApiError::state(format!("This dispute is already closed ({status}).")));
        }
        let closed = match (status.starts_with("warning_"), won) {
            (true, _) => "warning_closed",
            (false, true) => "won",
            (false, false) => "lost",
        };
        dispute["status"] = json!(closed);
        let dispute = dispute.clone();
        let mut out = Outbox::new();
        self.emit(
            change,
            "charge.dispute.closed",
            dispute.clone(),
            Some(json!({ "status": status })),
            &mut out,
        );
        Ok((dispute, out))
    }
}

/// `previous_attributes`: each top-level part of `before` that differs in `after`.
fn changed_parts(before: &Value, after: &Value) -> Map<String, Value> {
    let mut previous = Map::new();
    if let Some(parts) = before.as_object() {
        for (key, old) in parts {
            if after[key.as_str()] != *old {
                previous.insert(key.clone(), old.clone());
            }
        }
    }
    previous
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::params;

    fn update(form: &str) -> Result<DisputeUpdate, ApiError> {
        let parsed = params::parse(form.as_bytes()).unwrap();
        read_update(&Params::root(&parsed))
    }

    #[test]
    fn submit_defaults_to_true_as_on_stripe() {
        assert!(update("evidence[customer_name]=Ada").unwrap().submit);
        assert!(!update("evidence[customer_name]=Ada&submit=false").unwrap().submit);
    }

    #[test]
    fn an_empty_value_unsets_a_field_and_unknown_fields_are_refused() {
        let u = update("evidence[customer_name]=&evidence[shipping_carrier]=DHL").unwrap();
        assert_eq!(u.evidence["customer_name"], None);
        assert_eq!(u.evidence["shipping_carrier"].as_deref(), Some("DHL"));
        let err = update("evidence[shoe_size]=42").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("evidence[shoe_size]"));
        let err = update("evidence[receipt]=file_123").unwrap_err();
        assert_eq!(err.code, Some("resource_missing"));
    }

    #[test]
    fn long_evidence_is_refused() {
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        let err = update(&format!("evidence[uncategorized_text]={long}")).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("evidence[uncategorized_text]"));
    }
}
