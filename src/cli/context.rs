//! What every command shares once the arguments are parsed: the store, the
//! host, the config file's settings and where each came from.

use std::path::PathBuf;

use super::Cli;
use super::config_show::{self, Setting, Source};
use crate::store::StoreLocation;
use crate::upkeep::UpkeepSettings;

/// Settings every command shares.
pub struct Context {
    pub location: StoreLocation,
    pub host: String,
    /// `--host` as typed on the command line (not from the environment or
    /// the config file): `pond search` reads it as a filter.
    pub host_flag: Option<String>,
    /// `--ephemeral GROUP`: the group this ephemeral host's runs count under.
    pub ephemeral_group: Option<String>,
    pub telemetry: crate::config::TelemetryConfig,
    /// Each resolved setting with where it came from, for `pond config show`.
    pub provenance: Vec<config_show::Setting>,
    /// The embedding model, loaded only if a command needs it.
    pub embedder: std::sync::Arc<crate::embed::Lazy>,
    /// The config file in effect, or where `pond token create` makes one.
    pub config_path: PathBuf,
    /// Hashed bearer tokens `pond serve` accepts.
    pub tokens: Vec<crate::access::TokenEntry>,
    /// `[redact] at_ingest`: mask secrets before storing them.
    pub redact_at_ingest: bool,
    /// The person each sync records for this host, when `[usage]
    /// record_user` asks for it.
    pub record_user: Option<String>,
    /// `[upkeep]`: when store upkeep is due, and what it keeps.
    pub upkeep: UpkeepSettings,
    /// The shipped prices under the config's `[[prices]]` (checked here,
    /// so a bad entry fails every command, not only reports).
    pub prices: crate::spend::PriceTable,
}

/// Upkeep settings: the environment over the config file over the defaults.
fn resolve_upkeep(file: &crate::config::UpkeepConfig) -> anyhow::Result<UpkeepSettings> {
    let duration = |var: &str, configured: &Option<String>, default| match std::env::var(var)
        .ok()
        .or_else(|| configured.clone())
    {
        None => Ok(default),
        Some(text) => humantime::parse_duration(&text)
            .map_err(|e| anyhow::anyhow!("`{text}` ({var} or [upkeep]) is not a duration: {e}")),
    };
    let defaults = crate::upkeep::UpkeepPolicy::default();
    let after_commits = match std::env::var("POND_UPKEEP_AFTER_COMMITS") {
        Ok(text) => text
            .parse()
            .map_err(|_| anyhow::anyhow!("POND_UPKEEP_AFTER_COMMITS=`{text}` is not a number"))?,
        Err(_) => file.after_commits.unwrap_or(defaults.after_commits),
    };
    Ok(UpkeepSettings {
        retain: duration(
            "POND_UPKEEP_RETAIN",
            &file.retain,
            crate::upkeep::DEFAULT_RETAIN,
        )?,
        lease_ttl: duration("POND_UPKEEP_LEASE_TTL", &None, crate::upkeep::LEASE_TTL)?,
        policy: crate::upkeep::UpkeepPolicy {
            every: duration("POND_UPKEEP_EVERY", &file.every, defaults.every)?,
            after_commits,
        },
    })
}

impl Context {
    /// This host as a sync round sees it.
    pub fn round_host(&self) -> crate::round::Host<'_> {
        crate::round::Host {
            location: &self.location,
            name: &self.host,
            embedder: self.embedder.clone(),
            redact_at_ingest: self.redact_at_ingest,
            ephemeral_group: self.ephemeral_group.clone(),
            prices: &self.prices,
            upkeep: &self.upkeep,
            user: self.record_user.clone(),
        }
    }

    /// Flags and environment first, then the config file, then defaults.
    pub(super) fn from_cli(cli: &Cli) -> anyhow::Result<Context> {
        let (config, config_file) = crate::config::load(cli.config.as_deref())?;
        let (url, url_source) = store_url(cli, &config);
        let location = StoreLocation::parse(&url)?.with_options(config.store.options.clone());
        let (host, host_source) = host_name(cli, &config);
        let ephemeral_group = cli
            .ephemeral
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string);
        let mut provenance = vec![
            Setting::new(
                "config_file",
                config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| {
                        format!("{} (absent)", crate::config::default_path().display())
                    }),
                if cli.config.is_some() {
                    Source::Flag
                } else {
                    Source::Default
                },
            ),
            Setting::new("store", location.display.clone(), url_source),
            Setting::new("host", host.clone(), host_source),
            Setting::new(
                "ephemeral",
                ephemeral_group.clone().unwrap_or_else(|| "no".into()),
                match from_flag_or_env(&cli.ephemeral, "POND_EPHEMERAL") {
                    Some((_, source)) => source,
                    None => Source::Default,
                },
            ),
            Setting::new(
                "state_dir",
                crate::paths::state_dir().display().to_string(),
                if std::env::var_os("XDG_STATE_HOME").is_some() {
                    Source::Env
                } else {
                    Source::Default
                },
            ),
        ];
        let upkeep = resolve_upkeep(&config.upkeep)?;
        let model = crate::embed::ModelChoice::resolve(config.search.model.as_deref());
        provenance.extend(file_settings(&config, &upkeep, &model));
        Ok(Context {
            location,
            host_flag: matches!(host_source, Source::Flag).then(|| host.clone()),
            ephemeral_group,
            host,
            telemetry: config.telemetry,
            provenance,
            embedder: std::sync::Arc::new(crate::embed::Lazy::new(model)),
            config_path: config_file
                .or_else(|| cli.config.clone())
                .unwrap_or_else(crate::config::default_path),
            tokens: config.tokens,
            prices: crate::spend::PriceTable::with_overrides(config.prices)?,
            redact_at_ingest: config.redact.at_ingest,
            record_user: config
                .usage
                .record_user
                .then(|| crate::spend::people::current_user(config.usage.user.as_deref()))
                .flatten(),
            upkeep,
        })
    }
}

/// A value given by flag or by its variable (clap fills the flag from the
/// variable, so the two are told apart by comparing them).
fn from_flag_or_env(value: &Option<String>, var: &str) -> Option<(String, Source)> {
    match value {
        Some(v) if std::env::var(var).ok().as_deref() == Some(v.as_str()) => {
            Some((v.clone(), Source::Env))
        }
        Some(v) => Some((v.clone(), Source::Flag)),
        None => None,
    }
}

/// The store's URL: flag or `POND_STORE`, then the file, then the default
/// local directory.
fn store_url(cli: &Cli, config: &crate::config::Config) -> (String, Source) {
    from_flag_or_env(&cli.store, "POND_STORE")
        .or_else(|| config.store.url.clone().map(|u| (u, Source::File)))
        .unwrap_or_else(|| {
            (
                crate::paths::default_store_dir().display().to_string(),
                Source::Default,
            )
        })
}

/// This host's name: flag or `POND_HOST`, then the file, then the system's
/// host name; blank values count as unset.
fn host_name(cli: &Cli, config: &crate::config::Config) -> (String, Source) {
    from_flag_or_env(&cli.host, "POND_HOST")
        .filter(|(h, _)| !h.trim().is_empty())
        .or_else(|| {
            config
                .host
                .clone()
                .filter(|h| !h.trim().is_empty())
                .map(|h| (h, Source::File))
        })
        .map(|(h, s)| (h.trim().to_string(), s))
        .unwrap_or_else(|| {
            let h = hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown-host".to_string());
            (h, Source::Default)
        })
}

/// What `pond config show` lists from the file beyond the store and host:
/// store options (secrets masked), telemetry, redaction, tokens, upkeep and
/// the embedding model.
fn file_settings(
    config: &crate::config::Config,
    upkeep: &UpkeepSettings,
    model: &crate::embed::ModelChoice,
) -> Vec<Setting> {
    let mut settings: Vec<Setting> = config
        .store
        .options
        .iter()
        .map(|(key, value)| {
            Setting::new(
                &format!("store.options.{key}"),
                config_show::mask(key, value),
                Source::File,
            )
        })
        .collect();
    settings.extend(config_show::telemetry_settings(&config.telemetry));
    settings.push(Setting::new(
        "redact.at_ingest",
        config.redact.at_ingest.to_string(),
        if config.redact.at_ingest {
            Source::File
        } else {
            Source::Default
        },
    ));
    settings.push(Setting::new(
        "tokens",
        format!("{} (names: see `pond token list`)", config.tokens.len()),
        if config.tokens.is_empty() {
            Source::Default
        } else {
            Source::File
        },
    ));
    settings.push(Setting::new(
        "upkeep",
        format!(
            "retain {}, due every {} or after {} commits",
            humantime::format_duration(upkeep.retain),
            humantime::format_duration(upkeep.policy.every),
            upkeep.policy.after_commits
        ),
        Source::Default,
    ));
    settings.push(Setting::new(
        "search.model",
        model.describe(),
        if std::env::var_os("POND_EMBED_MODEL").is_some() {
            Source::Env
        } else if config.search.model.is_some() {
            Source::File
        } else {
            Source::Default
        },
    ));
    settings
}
