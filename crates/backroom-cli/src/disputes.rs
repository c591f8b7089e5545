//! `backroom disputes list|submit`: the disputes waiting for the owner, and the one step that
//! sends a dispute's drafted evidence to the bank.

use backroom_app::disputes::{self, Submitted};
use backroom_app::worker::Worker;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DisputesCommand {
    /// Open disputes with their due dates, and whether evidence is drafted.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Submit the evidence drafted on a dispute (once; Stripe takes one submission). Review it in
    /// the Stripe dashboard first.
    Submit {
        /// The dispute id (`dp_…`), as the alert and `disputes list` name it.
        id: String,
    },
}

pub async fn run(worker: &Worker, cmd: DisputesCommand) -> anyhow::Result<()> {
    match cmd {
        DisputesCommand::List { json } => {
            let open = disputes::open_disputes(&worker.stripe, &worker.store).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "disputes": open }))?
                );
            } else if open.is_empty() {
                println!("no open disputes");
            } else {
                for d in open {
                    let due = d.due_by.map_or_else(
                        || "no due date".to_string(),
                        |t| format!("due {}", t.format("%Y-%m-%d %H:%M UTC")),
                    );
                    let order = match (d.order_number, d.order_id) {
                        (Some(n), Some(id)) => format!("order #{n} ({id})"),
                        _ => "no order of backroom".to_string(),
                    };
                    let evidence = if d.submitted {
                        "evidence submitted"
                    } else if d.evidence_drafted {
                        "evidence drafted, not submitted"
                    } else {
                        "no evidence"
                    };
                    println!(
                        "{}  {:<16}  {}  {}  {}  reason {}  {order}",
                        d.id, d.status, d.amount, due, evidence, d.reason
                    );
                }
            }
        }
        DisputesCommand::Submit { id } => match disputes::submit(&worker.stripe, &id).await? {
            Submitted::Now { status } => println!("dispute {id}: evidence submitted to the bank; it is now {status}"),
            Submitted::Already { status } => {
                println!("dispute {id}: its evidence was already submitted (it is {status}); nothing was sent")
            }
        },
    }
    Ok(())
}
