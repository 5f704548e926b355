//! What the agents cost: token usage and spend per period, host, project,
//! client, model and session, from the store's `usage` table (one row per
//! model call, rule 47) and a price table (rule 48). The CLI, the HTTP API
//! and the MCP server all answer with [`report`], within a token's limits.

pub mod people;
pub mod prices;
mod report;
mod tally;
mod totals;

pub use prices::{PriceTable, PricesError};
pub use report::{
    Dimension, UsageAsk, UsageGroup, UsageQuery, UsageReport, UsageTotals, parse_bound, parse_tz,
    report,
};
pub use totals::token_kinds;
