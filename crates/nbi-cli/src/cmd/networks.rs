//! `networks`: the networks bytes went over, and the owner's word on them.

use anyhow::Context as _;
use nbi_core::human;
use nbi_core::network::report::{self, Networks};

use super::usage::{host_filter, today};
use crate::args::{Global, Metered, NetworksAction, NetworksArgs};
use crate::context::Context;

pub fn networks(global: &Global, args: NetworksArgs) -> anyhow::Result<()> {
    let ctx = Context::load(global)?;
    match args.action {
        Some(NetworksAction::Name { id, name }) => {
            let mut store = ctx.open_store()?;
            let name = name.trim();
            let given = (!name.is_empty()).then_some(name);
            store
                .name_network(&id, given)
                .with_context(|| format!("naming network {id} in {}", ctx.store_name()))?;
            warn_if_unseen(&ctx, &id)?;
            match given {
                Some(n) => println!("{id} is now called {n:?}"),
                None => println!("{id} is called what the OS calls it again"),
            }
            Ok(())
        }
        Some(NetworksAction::Metered { id, metered }) => {
            let mut store = ctx.open_store()?;
            let word = match metered {
                Metered::On => Some(true),
                Metered::Off => Some(false),
                Metered::Auto => None,
            };
            store
                .set_network_metered(&id, word)
                .with_context(|| format!("marking network {id} in {}", ctx.store_name()))?;
            warn_if_unseen(&ctx, &id)?;
            println!(
                "{id}: {}",
                match word {
                    Some(true) => "metered",
                    Some(false) => "not metered",
                    None => "metered as the OS says",
                }
            );
            Ok(())
        }
        None => list(&ctx, &args),
    }
}

/// An id no byte went over yet is kept (a plan can name a network before
/// it is first used), but said, in case it is a typing error.
fn warn_if_unseen(ctx: &Context, id: &nbi_core::tick::NetworkId) -> anyhow::Result<()> {
    let seen = ctx
        .read(|s| s.networks())?
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .any(|r| r.id == *id && r.first_seen.is_some());
    if !seen {
        eprintln!("nbi: no bytes have gone over {id} yet; kept for when they do (`nbi networks` lists the networks seen)");
    }
    Ok(())
}

fn list(ctx: &Context, args: &NetworksArgs) -> anyhow::Result<()> {
    let to = args.to.unwrap_or_else(|| today(ctx));
    let from = args.from.unwrap_or(to);
    anyhow::ensure!(
        from <= to,
        "--from {from} is after --to {to}: the range ends before it starts"
    );
    let host = host_filter(ctx, args.all_hosts);
    let found = ctx
        .read(|s| report::networks(s, &host, from, to, ctx.tz))?
        .transpose()?
        .unwrap_or(Networks {
            from,
            to,
            networks: Vec::new(),
        });
    if args.json {
        println!("{}", serde_json::to_string(&found)?);
        return Ok(());
    }
    let range = if from == to {
        from.format("%a %d %b %Y").to_string()
    } else {
        format!(
            "{} to {}",
            from.format("%a %d %b %Y"),
            to.format("%a %d %b %Y")
        )
    };
    println!("Networks, {range} ({})", ctx.tz);
    if found.networks.is_empty() {
        println!("no bytes over a known network in this range");
        return Ok(());
    }
    let width = found
        .networks
        .iter()
        .map(|n| n.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let id_width = found
        .networks
        .iter()
        .map(|n| n.id.as_str().chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    println!(
        "{:<width$}  {:<id_width$}  {:<7}  {:>9}  {:>9}  last seen",
        "name", "id", "metered", "in", "out"
    );
    for n in &found.networks {
        println!(
            "{:<width$}  {:<id_width$}  {:<7}  {:>9}  {:>9}  {}",
            n.name,
            n.id.as_str(),
            if n.metered { "yes" } else { "no" },
            human::bytes(n.bytes_in),
            human::bytes(n.bytes_out),
            n.last_seen
                .map(|t| t
                    .with_timezone(&ctx.tz)
                    .format("%Y-%m-%d %H:%M")
                    .to_string())
                .unwrap_or_default()
        );
    }
    Ok(())
}
