//! The measures a usage report is made of, shared by the report and the
//! fold that fills it: what a report groups by, and the totals of a group.

use serde::Serialize;

use crate::usage::Tokens;

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Day,
    Week,
    Month,
    Host,
    Project,
    Client,
    Model,
    Session,
    /// The person a host recorded (`[usage] record_user`), else `unknown`.
    User,
}

impl Dimension {
    pub const NAMES: [&'static str; 9] = [
        "day", "week", "month", "host", "project", "client", "model", "session", "user",
    ];

    fn from_name(name: &str) -> Option<Dimension> {
        Some(match name {
            "day" => Dimension::Day,
            "week" => Dimension::Week,
            "month" => Dimension::Month,
            "host" => Dimension::Host,
            "project" => Dimension::Project,
            "client" => Dimension::Client,
            "model" => Dimension::Model,
            "session" => Dimension::Session,
            "user" => Dimension::User,
            _ => return None,
        })
    }

    /// `day,model`: each name once, in the order given.
    pub fn parse_list(list: &str) -> Result<Vec<Dimension>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let d = Dimension::from_name(name).ok_or_else(|| {
                format!(
                    "cannot group by `{name}`: use {}",
                    Dimension::NAMES.join(", ")
                )
            })?;
            if !out.contains(&d) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// What a group key says where the call does not: no model, no project.
pub(super) const UNKNOWN: &str = "unknown";

/// Token counts by kind, calls, and cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UsageTotals {
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt tokens written to the cache, of every lifetime.
    pub cache_write_tokens: u64,
    /// Of those, written for an hour (priced apart).
    pub cache_write_1h_tokens: u64,
    pub cache_read_tokens: u64,
    pub reasoning_tokens: u64,
    /// US dollars; null when no call of the group has a price.
    pub cost_usd: Option<f64>,
    /// Calls with neither a price nor a cost of the client's own: their
    /// tokens are counted, their cost is not.
    pub unpriced_calls: u64,
    /// The cost summed exactly, in 10⁻¹⁵ dollars, so a report does not
    /// depend on the order the store returns its rows in.
    #[serde(skip)]
    #[schemars(skip)]
    femto_usd: Option<i128>,
}

/// Dollars as whole 10⁻¹⁵ dollars.
const FEMTO: f64 = 1e15;

impl UsageTotals {
    /// Adds another group's totals into this one.
    pub fn merge(&mut self, other: &UsageTotals) {
        self.calls += other.calls;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cache_write_1h_tokens += other.cache_write_1h_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        if let Some(c) = other.femto_usd {
            *self.femto_usd.get_or_insert(0) += c;
        }
        self.unpriced_calls += other.unpriced_calls;
        self.cost_usd = self.femto_usd.map(|f| f as f64 / FEMTO);
    }

    pub(super) fn add(&mut self, t: &Tokens, cost: Option<f64>) {
        self.calls += 1;
        self.input_tokens += t.input;
        self.output_tokens += t.output;
        self.cache_write_tokens += t.cache_write;
        self.cache_write_1h_tokens += t.cache_write_1h;
        self.cache_read_tokens += t.cache_read;
        self.reasoning_tokens += t.reasoning;
        match cost {
            Some(c) => {
                let sum = self.femto_usd.get_or_insert(0);
                *sum += (c * FEMTO).round() as i128;
                self.cost_usd = Some(*sum as f64 / FEMTO);
            }
            None => self.unpriced_calls += 1,
        }
    }
}
