//! Prices per model and token kind, each from the date it holds (rule 48).
//! The table ships in the repository (`prices.toml` beside this file, with
//! each price's source) and the config's `[[prices]]` entries come first,
//! so a team can price a model pond does not know, or its own contract,
//! with no network. A call is priced at the price that held on its day; a
//! model with no price is reported as unpriced, never as free.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::usage::Tokens;

/// The shipped table.
const SHIPPED: &str = include_str!("prices.toml");

pub use crate::config::PriceEntry as Price;

impl Price {
    /// The cost of `t`, in US dollars.
    pub fn cost(&self, t: &Tokens) -> f64 {
        let per_token = |per_million: f64| per_million / 1_000_000.0;
        let five_minute = t.cache_write.saturating_sub(t.cache_write_1h);
        t.input as f64 * per_token(self.input)
            + t.output as f64 * per_token(self.output)
            + five_minute as f64 * per_token(self.cache_write)
            + t.cache_write_1h as f64 * per_token(self.cache_write_1h.unwrap_or(self.cache_write))
            + t.cache_read as f64 * per_token(self.cache_read)
            + t.reasoning as f64 * per_token(self.reasoning.unwrap_or(self.output))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    price: Vec<Price>,
}

#[derive(Debug, thiserror::Error)]
pub enum PricesError {
    #[error("price table {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The prices a report uses: the config's first, then the shipped ones.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// The config's entries, then the shipped ones.
    prices: Vec<Price>,
    /// How many of `prices` come from the config.
    from_config: usize,
}

impl PriceTable {
    /// The shipped table with `overrides` (from the config) taking precedence.
    pub fn with_overrides(overrides: Vec<Price>) -> Result<PriceTable, PricesError> {
        let shipped: PriceFile = toml::from_str(SHIPPED).map_err(|e| PricesError::Invalid {
            origin: "shipped with pond".into(),
            message: e.to_string(),
        })?;
        for p in &overrides {
            check(p, "in the config")?;
        }
        let from_config = overrides.len();
        let mut prices = overrides;
        prices.extend(shipped.price);
        Ok(PriceTable {
            prices,
            from_config,
        })
    }

    /// The price of `model` on `day`: of the entries whose model is the
    /// name or its start, the longest (the config's before the shipped one
    /// on a tie), and of its dates the latest not after `day`.
    pub fn price(&self, model: &str, day: NaiveDate) -> Option<&Price> {
        self.prices_of(model)
            .into_iter()
            .filter(|p| p.from <= day)
            .max_by_key(|p| p.from)
    }

    /// Every dated price of `model`: the entries of the longest name that
    /// prices it, from the config where it has one, else shipped.
    pub fn prices_of(&self, model: &str) -> Vec<&Price> {
        let name = normalize(model);
        let Some(longest) = self
            .prices
            .iter()
            .filter(|p| names(&p.model, name))
            .map(|p| p.model.len())
            .max()
        else {
            return Vec::new();
        };
        let matching: Vec<(usize, &Price)> = self
            .prices
            .iter()
            .enumerate()
            .filter(|(_, p)| p.model.len() == longest && names(&p.model, name))
            .collect();
        // The config's entries come first: they replace the shipped ones
        // of that name, whatever their dates.
        let from_config = matching[0].0 < self.from_config;
        matching
            .into_iter()
            .filter(|(at, _)| (*at < self.from_config) == from_config)
            .map(|(_, p)| p)
            .collect()
    }
}

/// Whether a price's `model` prices `name`: the name itself, or the name
/// with a release date or a platform's suffix after it. Any other
/// continuation is another model (`gpt-5.2` is not `gpt-5`,
/// `claude-sonnet-4-6` not `claude-sonnet-4`), left unpriced rather than
/// priced as its neighbour.
fn names(model: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(model) else {
        return false;
    };
    let dated = rest
        .strip_prefix('-')
        .is_some_and(|r| r.len() >= 4 && r[..4].bytes().all(|b| b.is_ascii_digit()));
    rest.is_empty() || dated || rest.starts_with('@') || rest.starts_with(':')
}

/// Model names as clients write them, reduced to the names prices use:
/// a provider prefix (`anthropic/`, `openai/`) is dropped.
fn normalize(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}

fn check(p: &Price, origin: &str) -> Result<(), PricesError> {
    let rates = [
        Some(p.input),
        Some(p.output),
        Some(p.cache_write),
        p.cache_write_1h,
        Some(p.cache_read),
        p.reasoning,
    ];
    if p.model.trim().is_empty() {
        return Err(PricesError::Invalid {
            origin: origin.into(),
            message: "a price names no model".into(),
        });
    }
    if rates
        .into_iter()
        .flatten()
        .any(|r| !r.is_finite() || r < 0.0)
    {
        return Err(PricesError::Invalid {
            origin: origin.into(),
            message: format!("{}: prices must be non-negative numbers", p.model),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_shipped_table_parses_and_every_price_is_sane() {
        let table = PriceTable::with_overrides(Vec::new()).unwrap();
        assert!(!table.prices.is_empty());
        for p in &table.prices {
            check(p, "shipped").unwrap();
            assert!(!p.source.is_empty(), "{} has no source", p.model);
        }
    }

    #[test]
    fn the_longest_model_name_that_starts_the_name_wins() {
        let table = PriceTable::with_overrides(Vec::new()).unwrap();
        let sonnet45 = table
            .price("claude-sonnet-4-5-20250929", day("2025-11-01"))
            .unwrap();
        assert_eq!(sonnet45.model, "claude-sonnet-4-5");
        let sonnet4 = table
            .price("claude-sonnet-4-20250514", day("2025-11-01"))
            .unwrap();
        assert_eq!(sonnet4.model, "claude-sonnet-4");
        assert!(table.price("no-such-model", day("2025-11-01")).is_none());
        // A neighbour's price is not a model's price.
        assert!(table.price("gpt-5.2", day("2026-01-01")).is_none());
        assert!(names("gpt-5", "gpt-5-2025-08-07"));
        assert!(!names("gpt-5", "gpt-5-codex"));
        assert!(!names("claude-sonnet-4", "claude-sonnet-4-7"));
    }

    #[test]
    fn a_price_holds_from_its_date_and_the_config_comes_first() {
        let mine = |from: &str, input: f64| Price {
            model: "claude-sonnet-4-5".into(),
            from: day(from),
            input,
            output: 1.0,
            cache_write: 0.0,
            cache_write_1h: None,
            cache_read: 0.0,
            reasoning: None,
            source: "our contract".into(),
        };
        let table =
            PriceTable::with_overrides(vec![mine("2025-01-01", 1.0), mine("2026-01-01", 2.0)])
                .unwrap();
        let at = |d: &str| {
            table
                .price("anthropic/claude-sonnet-4-5", day(d))
                .unwrap()
                .input
        };
        assert_eq!(at("2025-06-01"), 1.0);
        assert_eq!(at("2026-06-01"), 2.0);
        assert!(
            table
                .price("claude-sonnet-4-5", day("2024-06-01"))
                .is_none()
        );
    }

    #[test]
    fn cost_prices_each_kind_and_one_hour_cache_writes_apart() {
        let p = Price {
            model: "m".into(),
            from: day("2025-01-01"),
            input: 3.0,
            output: 15.0,
            cache_write: 3.75,
            cache_write_1h: Some(6.0),
            cache_read: 0.3,
            reasoning: None,
            source: String::new(),
        };
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_write: 2_000_000,
            cache_write_1h: 1_000_000,
            cache_read: 1_000_000,
            reasoning: 1_000_000,
        };
        let expected = 3.0 + 15.0 + 3.75 + 6.0 + 0.3 + 15.0;
        assert!((p.cost(&t) - expected).abs() < 1e-9);
    }

    #[test]
    fn a_negative_price_in_the_config_is_refused() {
        let bad = Price {
            model: "m".into(),
            from: day("2025-01-01"),
            input: -1.0,
            output: 0.0,
            cache_write: 0.0,
            cache_write_1h: None,
            cache_read: 0.0,
            reasoning: None,
            source: String::new(),
        };
        assert!(PriceTable::with_overrides(vec![bad]).is_err());
    }
}
