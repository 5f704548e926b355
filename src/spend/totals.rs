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
        self.add_tokens(&other.tokens());
        if let Some(c) = other.femto_usd {
            *self.femto_usd.get_or_insert(0) += c;
        }
        self.unpriced_calls += other.unpriced_calls;
        self.cost_usd = self.femto_usd.map(|f| f as f64 / FEMTO);
    }

    /// The token counts as one [`Tokens`]: what merging a group adds, and
    /// what the metrics split by kind ([`token_kinds`]).
    pub fn tokens(&self) -> Tokens {
        Tokens {
            input: self.input_tokens,
            output: self.output_tokens,
            cache_write: self.cache_write_tokens,
            cache_write_1h: self.cache_write_1h_tokens,
            cache_read: self.cache_read_tokens,
            reasoning: self.reasoning_tokens,
        }
    }

    pub(super) fn add(&mut self, t: &Tokens, cost: Option<f64>) {
        self.calls += 1;
        self.add_tokens(t);
        match cost {
            Some(c) => {
                let sum = self.femto_usd.get_or_insert(0);
                *sum += (c * FEMTO).round() as i128;
                self.cost_usd = Some(*sum as f64 / FEMTO);
            }
            None => self.unpriced_calls += 1,
        }
    }

    /// Adds `t` to the token counts, a call's and a group's alike, by
    /// [`Tokens::add`], so the kinds are summed in one place.
    fn add_tokens(&mut self, t: &Tokens) {
        let mut sum = self.tokens();
        sum.add(t);
        self.input_tokens = sum.input;
        self.output_tokens = sum.output;
        self.cache_write_tokens = sum.cache_write;
        self.cache_write_1h_tokens = sum.cache_write_1h;
        self.cache_read_tokens = sum.cache_read;
        self.reasoning_tokens = sum.reasoning;
    }
}

/// Tokens by the `kind` label the metrics give them, in one order for the
/// Prometheus series and the OTLP counters alike (the hour-long cache
/// writes are within `cache_write`).
pub fn token_kinds(t: &Tokens) -> [(&'static str, u64); 5] {
    [
        ("input", t.input),
        ("output", t.output),
        ("cache_write", t.cache_write),
        ("cache_read", t.cache_read),
        ("reasoning", t.reasoning),
    ]
}
