//! What Stripe's hosted page and Stripe's own side would do: the pay page a buyer sees, and
//! control routes that pay, expire, refund or dispute a session, for `backroom dev`, scripts
//! and tests. They need no API key, as the hosted page needs none.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use backroom_core::{Cents, Currency, Money};
use serde_json::Value;

use super::StripeSim;
use super::error::ApiError;
use super::objects::Cause;
use super::params::{self, Params};
use super::state::{BuyerInput, Completion};

/// `GET /checkout/{id}`: the session's items, total and a Pay button.
pub(crate) async fn page(State(sim): State<StripeSim>, Path(id): Path<String>) -> Response {
    sim.ensure_sweeper();
    sim.expire_due();
    let found = sim.with_state(|st| st.session(&id).map(|s| (s.object.clone(), s.line_items.clone())));
    let Some((session, lines)) = found else {
        let body = format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Not found</title><p>No checkout session {}.</p>",
            escape(&id)
        );
        return (StatusCode::NOT_FOUND, Html(body)).into_response();
    };
    Html(render_page(&session, &lines)).into_response()
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

fn render_page(session: &Value, lines: &[Value]) -> String {
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
