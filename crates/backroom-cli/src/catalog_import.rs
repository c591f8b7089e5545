//! `backroom catalog import|check`: the catalog file against the Printful store's products
//! (the merge and the comparison are backroom_app::catalog_import).

use std::path::Path;

use anyhow::{Context, bail};
use backroom_app::catalog_import;
use backroom_app::worker::Worker;
use backroom_core::Catalog;

fn read(file: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

pub async fn import(worker: &Worker, file: &Path, write: bool) -> anyhow::Result<()> {
    let current = read(file)?;
    let products = worker.printful.sync_products().await?;
    let import = catalog_import::merge(&current, &products)?;
    if import.changes.is_empty() {
        println!(
            "{} already matches the {} products at Printful",
            file.display(),
            products.len()
        );
        return Ok(());
    }
    println!("Changes to {}:", file.display());
    for c in &import.changes {
        println!("  {c}");
    }
    println!("\nThe file, line by line:");
    print!("{}", catalog_import::line_diff(&current, &import.text));
    if write {
        std::fs::write(file, &import.text).with_context(|| format!("cannot write {}", file.display()))?;
        println!(
            "written; check it, then `backroom catalog sync {}` puts it in the database",
            file.display()
        );
    } else {
        println!("nothing written: run again with --write to apply");
    }
    Ok(())
}

pub async fn check(worker: &Worker, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let catalog = Catalog::from_toml(&text).with_context(|| format!("{} is not valid", file.display()))?;
    let products = worker.printful.sync_products().await?;
    let findings = catalog_import::check(&catalog, &products);
    if findings.is_empty() {
        println!("{} agrees with Printful", file.display());
        return Ok(());
    }
    for f in &findings {
        println!("{f}");
    }
    bail!(
        "{} disagrees with Printful in {} places",
        file.display(),
        findings.len()
    )
}
