//! The catalog from Printful: `backroom catalog import` merges the store's sync products into
//! catalog.toml (names, sizes, sync variant ids, retail prices and currency), keeping what only
//! the owner writes there (descriptions, stock limits, `max_per_order`, `active`, shipping
//! zones, comments and layout); `backroom catalog check` names where catalog.toml and Printful
//! disagree. Both are pure over the file's text and the products read from Printful.
//!
//! A Printful variant is matched to a catalog variant by its sync variant id, else by SKU; a
//! product by any of its variants, else by slug (the sync product's `external_id`). Values are
//! written only where they differ, so an import of an unchanged store changes nothing.

use backroom_core::{Catalog, Money, Sku};
use backroom_printful::{Availability, SyncProduct, SyncVariant};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// What an import would do: the new text of the file and one line per change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub text: String,
    pub changes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("catalog.toml is not TOML: {0}")]
    Toml(#[from] toml_edit::TomlError),
    #[error("catalog.toml: {0}")]
    Shape(String),
    #[error("the imported catalog would not be valid ({0}); nothing was written")]
    Invalid(backroom_core::CatalogError),
}

/// Merges the sync products (ignored ones left out) into the catalog's text.
pub fn merge(current: &str, products: &[SyncProduct]) -> Result<Import, ImportError> {
    let mut doc: DocumentMut = current.parse()?;
    if !doc.contains_key("products") {
        doc.insert("products", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let list = doc["products"]
        .as_array_of_tables_mut()
        .ok_or_else(|| ImportError::Shape("`products` must be an array of tables ([[products]])".into()))?;
    let mut changes = Vec::new();
    for sp in products.iter().filter(|p| !p.is_ignored) {
        let variants: Vec<&SyncVariant> = sp.variants.iter().filter(|v| !v.is_ignored).collect();
        let Some(first) = variants.first() else { continue };
        let found = list.iter().position(|t| product_matches(t, sp));
        let at = match found {
            Some(at) => at,
            None => {
                let slug = unique_slug(list, &slug_for(sp));
                let mut t = Table::new();
                t.insert("slug", value(slug.as_str()));
                t.insert("name", value(sp.name.as_str()));
                t.insert("description", value(""));
                t.insert("currency", value(first.currency.code()));
                t.insert("variants", Item::ArrayOfTables(ArrayOfTables::new()));
                list.push(t);
                changes.push(format!(
                    "+ product {slug} ({}): add its description in catalog.toml",
                    sp.name
                ));
                list.len() - 1
            }
        };
        let table = list.get_mut(at).expect("just found or pushed");
        let slug = table.get("slug").and_then(Item::as_str).unwrap_or_default().to_string();
        if table.get("name").and_then(Item::as_str) != Some(sp.name.as_str()) && !sp.name.is_empty() {
            changes.push(format!(
                "~ product {slug}: name {:?} -> {:?}",
                table.get("name").and_then(Item::as_str).unwrap_or_default(),
                sp.name
            ));
            set(table, "name", value(sp.name.as_str()));
        }
        let product_currency = table.get("currency").and_then(Item::as_str).map(str::to_string);
        if !table.contains_key("variants") {
            table.insert("variants", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        let vs = table["variants"]
            .as_array_of_tables_mut()
            .ok_or_else(|| ImportError::Shape(format!("product {slug}: `variants` must be [[products.variants]]")))?;
        for v in &variants {
            merge_variant(vs, &slug, product_currency.as_deref(), v, &mut changes)?;
        }
    }
    let text = doc.to_string();
    Catalog::from_toml(&text).map_err(ImportError::Invalid)?;
    Ok(Import { text, changes })
}

fn merge_variant(
    vs: &mut ArrayOfTables,
    slug: &str,
    product_currency: Option<&str>,
    v: &SyncVariant,
    changes: &mut Vec<String>,
) -> Result<(), ImportError> {
    let price = v.retail_price.get();
    let currency = v.currency.code();
    let size = v.size.clone().unwrap_or_default();
    let candidate = sku_for(slug, v);
    let at = vs
        .iter()
        .position(|t| t.get("printful_sync_variant_id").and_then(Item::as_integer) == Some(v.id))
        .or_else(|| {
            vs.iter()
                .position(|t| t.get("sku").and_then(Item::as_str) == Some(candidate.as_str()))
        });
    let Some(at) = at else {
        let mut t = Table::new();
        t.insert("sku", value(candidate.as_str()));
        t.insert("size", value(size.as_str()));
        t.insert("price", value(price));
        if product_currency != Some(currency) {
            t.insert("currency", value(currency));
        }
        t.insert("printful_sync_variant_id", value(v.id));
        indent_variant(&mut t);
        vs.push(t);
        changes.push(format!(
            "+ {candidate} in {slug} (size {size}, {}, sync variant {})",
            Money::new(v.retail_price, v.currency),
            v.id
        ));
        return Ok(());
    };
    let t = vs.get_mut(at).expect("found");
    let sku = t.get("sku").and_then(Item::as_str).unwrap_or_default().to_string();
    let int = |t: &Table, k: &str| t.get(k).and_then(Item::as_integer);
    if int(t, "printful_sync_variant_id") != Some(v.id) {
        changes.push(format!(
            "~ {sku}: sync variant {} -> {}",
            int(t, "printful_sync_variant_id").map_or_else(|| "none".into(), |i| i.to_string()),
            v.id
        ));
        set(t, "printful_sync_variant_id", value(v.id));
    }
    if v.size.is_some() && t.get("size").and_then(Item::as_str).unwrap_or_default() != size {
        changes.push(format!(
            "~ {sku}: size {:?} -> {size:?}",
            t.get("size").and_then(Item::as_str).unwrap_or_default()
        ));
        set(t, "size", value(size.as_str()));
    }
    let ours = t.get("currency").and_then(Item::as_str).or(product_currency);
    if ours != Some(currency) {
        changes.push(format!("~ {sku}: currency {} -> {currency}", ours.unwrap_or("none")));
        set(t, "currency", value(currency));
    }
    if int(t, "price") != Some(price) {
        changes.push(format!(
            "~ {sku}: price {} -> {price} ({})",
            int(t, "price").map_or_else(|| "none".into(), |i| i.to_string()),
            Money::new(v.retail_price, v.currency)
        ));
        set(t, "price", value(price));
    }
    Ok(())
}

/// Sets `key` to `v`, keeping the key's place and indentation when it is there already.
fn set(t: &mut Table, key: &str, v: Item) {
    match t.get_mut(key) {
        Some(item) => *item = v,
        None => {
            t.insert(key, v);
        }
    }
}

/// Indents a new `[[products.variants]]` table as the demo catalog does.
fn indent_variant(t: &mut Table) {
    t.decor_mut().set_prefix("\n  ");
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        if let Some(mut key) = t.key_mut(&k) {
            key.leaf_decor_mut().set_prefix("  ");
        }
    }
}

fn product_matches(t: &Table, sp: &SyncProduct) -> bool {
    let by_variant = t.get("variants").and_then(Item::as_array_of_tables).is_some_and(|vs| {
        vs.iter().any(|v| {
            v.get("printful_sync_variant_id")
                .and_then(Item::as_integer)
                .is_some_and(|id| sp.variants.iter().any(|sv| sv.id == id))
        })
    });
    by_variant || (sp.external_id.is_some() && t.get("slug").and_then(Item::as_str) == sp.external_id.as_deref())
}

/// The sync product's `external_id` when it is a slug, else its name made one.
fn slug_for(sp: &SyncProduct) -> String {
    if let Some(ext) = &sp.external_id
        && !ext.is_empty()
        && ext
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return ext.clone();
    }
    let mut slug = String::new();
    for c in sp.name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        format!("product-{}", sp.id)
    } else {
        slug
    }
}

fn unique_slug(list: &ArrayOfTables, slug: &str) -> String {
    let taken = |s: &str| list.iter().any(|t| t.get("slug").and_then(Item::as_str) == Some(s));
    if !taken(slug) {
        return slug.to_string();
    }
    (2..)
        .map(|n| format!("{slug}-{n}"))
        .find(|s| !taken(s))
        .expect("unbounded")
}

/// The variant's SKU at Printful, else its external id, else the product's slug and the size.
fn sku_for(slug: &str, v: &SyncVariant) -> String {
    [v.sku.as_deref(), v.external_id.as_deref()]
        .into_iter()
        .flatten()
        .find(|s| Sku::parse(s).is_ok())
        .map_or_else(
            || {
                let size = v.size.as_deref().unwrap_or_default();
                let raw = if size.is_empty() {
                    format!("{slug}-{}", v.id)
                } else {
                    format!("{slug}-{size}")
                };
                raw.to_ascii_uppercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
                    .collect()
            },
            str::to_string,
        )
}

/// Where the catalog and Printful disagree, one sentence each: an active catalog variant whose
/// sync variant is gone, ignored or not available, or whose retail price or currency at
/// Printful differs from the catalog's.
pub fn check(catalog: &Catalog, products: &[SyncProduct]) -> Vec<String> {
    let mut findings = Vec::new();
    let at_printful = |id: i64| {
        products
            .iter()
            .filter(|p| !p.is_ignored)
            .flat_map(|p| p.variants.iter())
            .find(|v| v.id == id && !v.is_ignored)
    };
    for p in &catalog.products {
        for v in p.variants.iter().filter(|v| v.active) {
            let id = v.printful_sync_variant_id;
            let Some(sv) = at_printful(id) else {
                findings.push(format!(
                    "{}: sync variant {id} is gone from Printful (or ignored there); buyers could order what cannot be made",
                    v.sku
                ));
                continue;
            };
            if sv.availability != Availability::Active {
                findings.push(format!(
                    "{}: sync variant {id} is {} at Printful",
                    v.sku, sv.availability
                ));
            }
            let ours = Money::new(v.price, v.currency);
            let theirs = Money::new(sv.retail_price, sv.currency);
            if ours != theirs {
                findings.push(format!(
                    "{}: the catalog sells it at {ours}, Printful's retail price is {theirs}",
                    v.sku
                ));
            }
        }
    }
    findings
}

/// The lines that differ between two texts, with two lines of context around each change:
/// `- ` for a removed line, `+ ` for an added one, `  ` for context, `...` between distant
/// changes. Empty when the texts are equal. (A longest-common-subsequence diff: catalog files
/// are small.)
pub fn line_diff(old: &str, new: &str) -> String {
    const CONTEXT: usize = 2;
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k != ' ')
        .map(|(n, _)| n)
        .collect();
    let near = |n: usize| changed.iter().any(|&c| c.abs_diff(n) <= CONTEXT);
    let mut out = String::new();
    let mut skipped = false;
    for (n, (kind, line)) in ops.iter().enumerate() {
        if near(n) {
            if skipped && !out.is_empty() {
                out.push_str("...\n");
            }
            skipped = false;
            out.push(*kind);
            out.push(' ');
            out.push_str(line);
            out.push('\n');
        } else {
            skipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn the_diff_shows_changed_lines_with_context_and_nothing_for_equal_texts() {
        assert_eq!(line_diff("a\nb\n", "a\nb\n"), "");
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\nfour\n5\n6\n7\n8\n9\nten\n";
        assert_eq!(
            line_diff(old, new),
            "  2\n  3\n- 4\n+ four\n  5\n  6\n...\n  8\n  9\n+ ten\n"
        );
        assert_eq!(line_diff("", "x\n"), "+ x\n");
    }
}
