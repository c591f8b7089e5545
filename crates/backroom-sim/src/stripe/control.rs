//! What Stripe's hosted page and Stripe's own side would do: the pay page a buyer sees, and
//! control routes that pay, expire, refund or dispute a session, for `backroom dev`, scripts
//! and tests. They need no API key, as the hosted page needs none.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use backroom_core::{Cents, Currency, Money};
use serde_json::Value;

use super::error::ApiError;
use super::ids::new_id;
use super::objects::{self, Cause, CouponOff};
use super::params::{self, Params};
use super::state::{BuyerInput, Completion};
use super::{PromotionCodeSpec, ShippingRateSpec, StripeSim};

/// `GET /checkout/{id}`: the session's items, total and a Pay button.
pub(crate) async fn page(State(sim): State<StripeSim>, Path(id): Path<String>) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    let found = sim.with_state(|st| {
        st.session(&id).map(|s| {
            // Each option's rate name, for the page's choice of shipping.
            let names: Vec<String> = s.object["shipping_options"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| {
                    let rate = o["shipping_rate"].as_str().unwrap_or_default();
                    st.shipping_rate(rate)
                        .and_then(|r| r["display_name"].as_str())
                        .unwrap_or(rate)
                        .to_string()
                })
                .collect();
            (s.object.clone(), s.line_items.clone(), names)
        })
    });
    let Some((session, lines, names)) = found else {
        let body = format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Not found</title><p>No checkout session {}.</p>",
            escape(&id)
        );
        return (StatusCode::NOT_FOUND, Html(body)).into_response();
    };
    Html(render_page(&session, &lines, &names)).into_response()
}

/// `POST /checkout/{id}/pay[?deliver=false][&async=succeed|fail]`: the buyer pays. The page's
/// form may send the buyer's email and address; the answer is a 303 to `success_url`.
pub(crate) async fn pay(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    match pay_inner(&sim, &id, query.as_deref(), &body) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn pay_inner(sim: &StripeSim, id: &str, query: Option<&str>, body: &[u8]) -> Result<Response, ApiError> {
    let query = params::parse(query.unwrap_or("").as_bytes())?;
    let q = Params::root(&query);
    q.only(&["deliver", "async"])?;
    let form = params::parse(body)?;
    let f = Params::root(&form);
    f.only(&[
        "email",
        "name",
        "line1",
        "line2",
        "city",
        "state",
        "postal_code",
        "country",
        "async",
        "shipping_rate",
        "promotion_code",
    ])?;
    let deliver = q.bool("deliver")?.unwrap_or(true);
    let how = match f.str("async")?.or(q.str("async")?) {
        None | Some("") => Completion::Card,
        Some("succeed") => Completion::Delayed { succeeds: true },
        Some("fail") => Completion::Delayed { succeeds: false },
        Some(other) => {
            return Err(ApiError::invalid(
                format!("async must be succeed or fail, not {other:?}"),
                "async",
            ));
        }
    };
    let text = |key: &str| f.str(key).ok().flatten().map(str::to_string);
    let input = BuyerInput {
        email: text("email"),
        name: text("name"),
        line1: text("line1"),
        line2: text("line2"),
        city: text("city"),
        state: text("state"),
        postal_code: text("postal_code"),
        country: text("country"),
        shipping_rate: text("shipping_rate"),
        promotion_code: text("promotion_code"),
    };
    sim.complete(id, how, &input, deliver)?;
    let success_url = sim.session(id).and_then(|s| {
        s["success_url"]
            .as_str()
            .map(|u| u.replace("{CHECKOUT_SESSION_ID}", id))
    });
    Ok(match success_url {
        Some(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        None => Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Paid</title><p>Checkout session {} is paid.</p>",
            escape(id)
        ))
        .into_response(),
    })
}

/// `POST /checkout/{id}/expire[?deliver=false]`: the session expires unpaid.
pub(crate) async fn expire(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    let result = (|| {
        let deliver = read_deliver(query.as_deref(), &[])?.0;
        let change = sim.change(Cause::default(), deliver);
        let (session, out) = sim.mutate(|st| st.expire(&id, &change))?;
        sim.send(out);
        Ok::<_, ApiError>(session)
    })();
    json_or_error(result)
}

/// `POST /payments/{session_id}/refund[?amount=N][&deliver=false]`: a full refund, or a partial
/// one of `amount` minor units; answers with the charge.
pub(crate) async fn refund(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    let result = (|| {
        let (deliver, amount) = read_deliver(query.as_deref(), &["amount"])?;
        let change = sim.change(Cause::default(), deliver);
        let (charge, out) = sim.mutate(|st| st.refund(&id, amount, &change))?;
        sim.send(out);
        Ok::<_, ApiError>(charge)
    })();
    json_or_error(result)
}

/// `POST /payments/{session_id}/dispute[?deliver=false]`: answers with the dispute.
pub(crate) async fn dispute(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    let result = (|| {
        let deliver = read_deliver(query.as_deref(), &[])?.0;
        let change = sim.change(Cause::default(), deliver);
        let (dispute, out) = sim.mutate(|st| st.dispute_charge(&id, &change))?;
        sim.send(out);
        Ok::<_, ApiError>(dispute)
    })();
    json_or_error(result)
}

/// `POST /disputes/{dispute_id}/resolve?outcome=won|lost[&deliver=false]`: the bank decides;
/// answers with the dispute.
pub(crate) async fn resolve_dispute(
    State(sim): State<StripeSim>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    let result = (|| {
        let parsed = params::parse(query.as_deref().unwrap_or("").as_bytes())?;
        let q = Params::root(&parsed);
        q.only(&["outcome", "deliver"])?;
        let won = match q.required_str("outcome")? {
            "won" => true,
            "lost" => false,
            other => {
                return Err(ApiError::invalid(
                    format!("outcome must be won or lost, not {other:?}."),
                    "outcome",
                ));
            }
        };
        let change = sim.change(Cause::default(), q.bool("deliver")?.unwrap_or(true));
        let (dispute, out) = sim.mutate(|st| st.resolve_dispute(&id, won, &change))?;
        sim.send(out);
        Ok::<_, ApiError>(dispute)
    })();
    json_or_error(result)
}

/// `POST /control/shipping_rates`: a form with `POST /v1/shipping_rates`'s parameters
/// (`display_name`, `fixed_amount[amount]`, `fixed_amount[currency]`,
/// `delivery_estimate[minimum|maximum][unit|value]`, …) and optionally the `id` to give it;
/// answers with the shipping rate. An existing id is replaced.
pub(crate) async fn create_shipping_rate(State(sim): State<StripeSim>, body: Bytes) -> Response {
    let result = (|| {
        let form = params::parse(&body)?;
        let f = Params::root(&form);
        f.only(&[
            "id",
            "display_name",
            "type",
            "fixed_amount",
            "delivery_estimate",
            "tax_behavior",
            "tax_code",
            "metadata",
        ])?;
        let id = match f.str("id")? {
            Some(id) => checked_id(id, "id")?,
            None => new_id("shr_", 24),
        };
        let new = super::api::read_shipping_rate(&f)?;
        let rate = objects::shipping_rate(&id, sim.now(), &new);
        sim.mutate(|st| {
            st.put_shipping_rate(rate.clone());
            Ok::<_, ApiError>(rate)
        })
    })();
    json_or_error(result)
}

/// `POST /control/promotion_codes`: a form with `code` and either `percent_off` (0 < p ≤ 100,
/// up to two decimals) or `amount_off` and `currency`, optionally `id` (`promo_…`) and
/// `active=false`; answers with the promotion code, its coupon expanded. The same id or code
/// is replaced.
pub(crate) async fn create_promotion_code(State(sim): State<StripeSim>, body: Bytes) -> Response {
    let result = (|| {
        let form = params::parse(&body)?;
        let f = Params::root(&form);
        f.only(&["id", "code", "percent_off", "amount_off", "currency", "active"])?;
        let off = match (f.str("percent_off")?, f.int("amount_off")?) {
            (Some(p), None) => CouponOff::Percent(
                p.parse::<f64>()
                    .map_err(|_| ApiError::invalid(format!("Invalid decimal: {p}"), "percent_off"))?,
            ),
            (None, Some(amount)) => CouponOff::Amount {
                amount,
                currency: f.required_str("currency")?.to_string(),
            },
            _ => {
                return Err(ApiError::invalid(
                    "Give exactly one of percent_off or amount_off (with currency).",
                    "percent_off",
                ));
            }
        };
        let spec = PromotionCodeSpec {
            id: f.str("id")?.map(str::to_string),
            code: f.required_str("code")?.to_string(),
            off,
        };
        let mut promo = promotion_code_from_spec(&spec, sim.now())?;
        if f.bool("active")? == Some(false) {
            promo["active"] = serde_json::json!(false);
        }
        sim.mutate(|st| {
            st.put_promotion_code(promo.clone());
            Ok::<_, ApiError>(promo)
        })
    })();
    json_or_error(result)
}

/// `POST /control/pricing`: any of `tax_rate_bps`, `fee_bps`, `fee_fixed`; answers with all three.
pub(crate) async fn set_pricing(State(sim): State<StripeSim>, body: Bytes) -> Response {
    let result = (|| {
        let form = params::parse(&body)?;
        let f = Params::root(&form);
        f.only(&["tax_rate_bps", "fee_bps", "fee_fixed"])?;
        let bps = |key: &str| -> Result<Option<u32>, ApiError> {
            match f.int(key)? {
                None => Ok(None),
                Some(v) => u32::try_from(v)
                    .ok()
                    .filter(|v| *v <= 10_000)
                    .map(Some)
                    .ok_or_else(|| ApiError::invalid(format!("{key} must be 0 to 10000, not {v}."), key)),
            }
        };
        let tax = bps("tax_rate_bps")?;
        let fee = bps("fee_bps")?;
        let fixed = f.int("fee_fixed")?;
        if fixed.is_some_and(|v| v < 0) {
            return Err(ApiError::invalid("fee_fixed must be at least 0.", "fee_fixed"));
        }
        let pricing = sim.with_state(|st| {
            if let Some(t) = tax {
                st.pricing.tax_rate_bps = t;
            }
            if let Some(b) = fee {
                st.pricing.fee_bps = b;
            }
            if let Some(x) = fixed {
                st.pricing.fee_fixed = x;
            }
            st.pricing
        });
        Ok(serde_json::json!({
            "tax_rate_bps": pricing.tax_rate_bps,
            "fee_bps": pricing.fee_bps,
            "fee_fixed": pricing.fee_fixed,
        }))
    })();
    json_or_error(result)
}

/// An id chosen by the caller: 1 to 255 characters of letters, digits and `_`.
fn checked_id(id: &str, param: &str) -> Result<String, ApiError> {
    if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::invalid(
            format!("Invalid {param}: {id:?} must be 1 to 255 letters, digits or underscores."),
            param,
        ));
    }
    Ok(id.to_string())
}

/// A configured shipping rate, validated by the same rules as the API's parameters.
pub(crate) fn shipping_rate_from_spec(spec: &ShippingRateSpec, now: i64) -> Result<serde_json::Value, ApiError> {
    let id = checked_id(&spec.id, "id")?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("display_name", &spec.display_name)
        .append_pair("fixed_amount[amount]", &spec.amount.to_string())
        .append_pair("fixed_amount[currency]", &spec.currency);
    for (key, bound) in [("minimum", &spec.minimum), ("maximum", &spec.maximum)] {
        if let Some((unit, value)) = bound {
            form.append_pair(&format!("delivery_estimate[{key}][unit]"), unit)
                .append_pair(&format!("delivery_estimate[{key}][value]"), &value.to_string());
        }
    }
    let parsed = params::parse(form.finish().as_bytes())?;
    let new = super::api::read_shipping_rate(&Params::root(&parsed))?;
    Ok(objects::shipping_rate(&id, now, &new))
}

/// A promotion code with its coupon, validated: a code of 1 to 500 letters, digits, `-` or `_`;
/// a percentage above 0 and at most 100 with at most two decimals, or a positive amount in a
/// known currency.
pub(crate) fn promotion_code_from_spec(spec: &PromotionCodeSpec, now: i64) -> Result<serde_json::Value, ApiError> {
    let code = spec.code.trim();
    if code.is_empty()
        || code.len() > 500
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid(
            format!("Invalid code: {code:?} must be 1 to 500 letters, digits, dashes or underscores."),
            "code",
        ));
    }
    let off = match &spec.off {
        CouponOff::Percent(p) => {
            let hundredths = p * 100.0;
            if !(*p > 0.0 && *p <= 100.0) || (hundredths - hundredths.round()).abs() > 1e-6 {
                return Err(ApiError::invalid(
                    format!("Invalid percent_off: {p} must be above 0 and at most 100, with at most two decimals."),
                    "percent_off",
                ));
            }
            CouponOff::Percent(*p)
        }
        CouponOff::Amount { amount, currency } => {
            let currency = currency.to_ascii_lowercase();
            if *amount < 1 {
                return Err(ApiError::invalid(
                    "This value must be greater than or equal to 1.",
                    "amount_off",
                ));
            }
            if Currency::parse(&currency).is_err() {
                return Err(ApiError::invalid(format!("Invalid currency: {currency}."), "currency"));
            }
            CouponOff::Amount {
                amount: *amount,
                currency,
            }
        }
    };
    let id = match &spec.id {
        Some(id) => checked_id(id, "id")?,
        None => new_id("promo_", 24),
    };
    let name = match &off {
        CouponOff::Percent(p) => format!("{p}% off"),
        CouponOff::Amount { amount, currency } => format!("{amount} {currency} off"),
    };
    let coupon = objects::coupon(&new_id("", 8), now, &off, Some(&name));
    Ok(objects::promotion_code(&id, code, now, coupon))
}

/// Reads `deliver` (default true) and, when allowed, `amount`.
fn read_deliver(query: Option<&str>, extra: &[&str]) -> Result<(bool, Option<i64>), ApiError> {
    let parsed = params::parse(query.unwrap_or("").as_bytes())?;
    let q = Params::root(&parsed);
    let mut allowed = vec!["deliver"];
    allowed.extend_from_slice(extra);
    q.only(&allowed)?;
    let amount = if extra.contains(&"amount") {
        q.int("amount")?
    } else {
        None
    };
    Ok((q.bool("deliver")?.unwrap_or(true), amount))
}

fn json_or_error(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(err) => err.into_response(),
    }
}

fn render_page(session: &Value, lines: &[Value], shipping_names: &[String]) -> String {
    let id = session["id"].as_str().unwrap_or_default();
    let status = session["status"].as_str().unwrap_or_default();
    let currency = Currency::parse(session["currency"].as_str().unwrap_or_default()).ok();
    let money = |amount: i64| match (currency, Cents::new(amount)) {
        (Some(c), Ok(a)) => Money::new(a, c).to_string(),
        _ => amount.to_string(),
    };
    let rows: String = lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td class=\"name\">{}</td><td class=\"qty\">× {}</td><td class=\"amount\">{}</td></tr>\n",
                escape(l["description"].as_str().unwrap_or_default()),
                l["quantity"].as_u64().unwrap_or(0),
                money(l["amount_total"].as_i64().unwrap_or(0)),
            )
        })
        .collect();
    let total = money(session["amount_total"].as_i64().unwrap_or(0));
    let action = format!("{}/pay", session["url"].as_str().unwrap_or_default());
    let email = session["customer_email"].as_str().unwrap_or("buyer@example.com");
    let ships = session["shipping_address_collection"].is_object();
    let country = session["shipping_address_collection"]["allowed_countries"][0]
        .as_str()
        .unwrap_or("DE");
    let form = if status == "open" {
        let address = if ships {
            format!(
                r#"<fieldset><legend>Shipping address</legend>
<label>Name <input name="name" value="Ada Lovelace"></label>
<label>Address <input name="line1" value="Invalidenstraße 117"></label>
<label>Address line 2 <input name="line2" value=""></label>
<label>City <input name="city" value="Berlin"></label>
<label>Postal code <input name="postal_code" value="10115"></label>
<label>Country <input name="country" value="{}" maxlength="2"></label>
</fieldset>"#,
                escape(country)
            )
        } else {
            String::new()
        };
        let shipping: String = session["shipping_options"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(shipping_names)
            .enumerate()
            .map(|(i, (o, name))| {
                format!(
                    r#"<label><input type="radio" name="shipping_rate" value="{}"{}> {} ({})</label>
"#,
                    escape(o["shipping_rate"].as_str().unwrap_or_default()),
                    if i == 0 { " checked" } else { "" },
                    escape(name),
                    money(o["shipping_amount"].as_i64().unwrap_or(0)),
                )
            })
            .collect();
        let shipping = if shipping.is_empty() {
            shipping
        } else {
            format!("<fieldset><legend>Shipping</legend>\n{shipping}</fieldset>")
        };
        let promotion = if session["allow_promotion_codes"] == true {
            r#"<label>Promotion code <input name="promotion_code" value=""></label>"#
        } else {
            ""
        };
        let tax_note = if session["automatic_tax"]["enabled"] == true {
            "<p class=\"tax\">Tax is added when you pay.</p>"
        } else {
            ""
        };
        let cancel = session["cancel_url"]
            .as_str()
            .map(|u| {
                format!(
                    r#"<p><a class="cancel" href="{}">Cancel and go back</a></p>"#,
                    escape(u)
                )
            })
            .unwrap_or_default();
        format!(
            r#"<form method="post" action="{action}">
<label>Email <input name="email" type="email" value="{email}"></label>
{address}
{shipping}{promotion}{tax_note}
<button type="submit" id="pay">Pay {total}</button>
<details><summary>Other test outcomes</summary>
<button type="submit" name="async" value="succeed">Pay with a delayed method that succeeds</button>
<button type="submit" name="async" value="fail">Pay with a delayed method that fails</button>
</details>
</form>
{cancel}"#,
            action = escape(&action),
            email = escape(email),
        )
    } else {
        format!("<p class=\"status\">This checkout session is {}.</p>", escape(status))
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pay (Stripe simulator)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
table{{width:100%;border-collapse:collapse}}td{{padding:.25rem 0}}.amount{{text-align:right}}
label{{display:block;margin:.4rem 0}}input{{width:100%}}button{{margin-top:.6rem;padding:.5rem 1rem}}
.sim{{color:#a15c00}}</style></head>
<body data-session-id="{id}" data-status="{status}">
<p class="sim">Stripe simulator: no real payment is made.</p>
<h1>Checkout</h1>
<table>
{rows}<tr class="total"><td>Total</td><td></td><td class="amount">{total}</td></tr>
</table>
{form}
</body></html>
"#,
        id = escape(id),
        status = escape(status),
    )
}

/// Escapes text for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<b a="1">Tom & 'Jerry'</b>"#),
            "&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }
}
