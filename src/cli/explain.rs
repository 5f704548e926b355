//! Errors a person can act on. When a command fails, pond prints what went
//! wrong in plain words and what to do next, in one or two lines, instead of
//! the chain of nested errors its dependencies built (a missing AWS
//! credential arrives as thousands of characters of debug structures). The
//! whole chain is kept for `-v` and `--log-format json`.
//!
//! The causes are recognised from the chain's text: the store's clients
//! (the AWS SDK, object_store, Azure's and Google's APIs) report them in
//! many shapes and types, but always with these words.

use std::process::ExitCode;

use serde::Serialize;

use super::exit;

/// A mistake in how pond was called, found after argument parsing: exit 2,
/// like clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// One failure, as a person reads it.
#[derive(Debug, Serialize, PartialEq)]
pub struct Explained {
    /// What went wrong, in a sentence.
    pub problem: String,
    /// What to do about it, when pond knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A known cause: words that show it anywhere in the chain, and what to say.
struct Cause {
    signs: &'static [&'static str],
    /// Words of which one must also be in the chain, naming what pond was
    /// doing when it failed; empty for any.
    during: &'static [&'static str],
    problem: fn(&Place) -> String,
    next: fn(&Place) -> String,
}

/// Where the failing command was looking: the store, by kind.
pub struct Place {
    pub store: String,
}

impl Place {
    fn scheme(&self) -> &str {
        self.store.split_once("://").map_or("file", |(s, _)| s)
    }

    /// The variable that points the store's client at another endpoint.
    fn endpoint_variable(&self) -> &'static str {
        match self.scheme() {
            "az" | "abfs" | "abfss" => "AZURE_STORAGE_ENDPOINT",
            "gs" => "GOOGLE_BASE_URL",
            _ => "AWS_ENDPOINT_URL",
        }
    }

    fn credentials_hint(&self) -> String {
        match self.scheme() {
            "s3" | "s3a" => "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run where an instance role is available".into(),
            "gs" => "set GOOGLE_APPLICATION_CREDENTIALS to a service account's key file".into(),
            "az" | "abfs" | "abfss" => "set AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_SAS_TOKEN)".into(),
            _ => "check the credentials in [store.options] of the config".into(),
        }
    }
}

const CAUSES: &[Cause] = &[
    Cause {
        signs: &[
            "FailedToLoadToken",
            "no providers in chain provided credentials",
            "CredentialsNotLoaded",
            "the credential provider was not enabled",
            "Error getting credentials",
            "Failed to load credentials",
            "Missing credentials",
            "could not find default credentials",
            "ApplicationDefaultCredentials",
            // Asking the cloud's metadata server is the last resort of
            // every credential chain: nothing else was found.
            "TokenRequest",
            "169.254.169.254",
            "computeMetadata",
            // Azure names its account apart from its key.
            "no Azure account name",
            "no storage account configured",
        ],
        during: &[],
        problem: |p| format!("pond found no credentials for the store {}", p.store),
        next: |p| {
            format!(
                "{}; `pond doctor` shows where pond looked",
                p.credentials_hint()
            )
        },
    },
    Cause {
        signs: &[
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AuthenticationFailed",
            "InvalidAuthenticationInfo",
            "failed to authenticate",
            "invalid_grant",
            "ExpiredToken",
            "InvalidToken",
        ],
        during: &[],
        problem: |p| format!("the store {} refused pond's credentials", p.store),
        next: |p| {
            format!(
                "check that they are current and belong to this store: {}",
                p.credentials_hint()
            )
        },
    },
    Cause {
        signs: &[
            "NoSuchBucket",
            "ContainerNotFound",
            "bucket does not exist",
            "The specified container does not exist",
        ],
        during: &[],
        problem: |p| format!("the bucket of {} does not exist", p.store),
        next: |_| {
            "create it (`aws s3 mb`, `az storage container create`, `gcloud storage buckets create`) or correct the name in POND_STORE or [store] url".into()
        },
    },
    Cause {
        signs: &[
            "PermanentRedirect",
            "AuthorizationHeaderMalformed",
            "IllegalLocationConstraint",
            "x-amz-bucket-region",
            "incorrect region",
        ],
        during: &[],
        problem: |p| {
            format!(
                "the bucket of {} is in another region than pond asked",
                p.store
            )
        },
        next: |_| "set AWS_REGION (or [store.options] aws_region) to the bucket's region".into(),
    },
    Cause {
        signs: &[
            "RequestTimeTooSkewed",
            "RequestExpired",
            "clock skew",
            "Request has expired",
        ],
        during: &[],
        problem: |p| format!("this host's clock is too far from the clock of {}", p.store),
        next: |_| {
            "set the clock right (for example `timedatectl set-ntp true`), then run again".into()
        },
    },
    // A local store's directory this user may not write or read.
    Cause {
        signs: &["Permission denied (os error 13)"],
        during: &[
            "Unable to create",
            "Unable to copy",
            "Unable to rename",
            "Unable to delete",
            "cannot prepare the store",
        ],
        problem: |p| format!("this user may not write to the store at {}", p.store),
        next: |_| {
            "run pond as the user who owns it, or give this user write access to the folder and everything in it (`chmod -R u+w`, `chown -R`, or an ACL)".into()
        },
    },
    Cause {
        signs: &["Permission denied (os error 13)"],
        during: &[],
        problem: |p| format!("this user may not read the store at {}", p.store),
        next: |_| {
            "run pond as the user who owns it, or give this user read access to the folder and everything in it (`chmod -R u+rX`, or an ACL)".into()
        },
    },
    // A denial says which permission is missing: what pond was doing names
    // it (the storage check's scratch write, or the request's method).
    Cause {
        signs: DENIED,
        during: &[
            "(AccessDenied): write:",
            "method: PUT",
            "method: POST",
            "method: DELETE",
        ],
        problem: |p| format!("the store {} refused pond writing", p.store),
        next: |_| {
            "give this identity write and delete on the bucket and prefix (s3:PutObject, s3:DeleteObject; Storage Blob Data Contributor on Azure); reading alone is enough for search, show and serve".into()
        },
    },
    Cause {
        signs: DENIED,
        during: &["method: GET", "method: HEAD", "ListRequest", "GetRequest"],
        problem: |p| format!("the store {} refused pond reading", p.store),
        next: |_| {
            "give this identity read and list on the bucket and prefix (s3:GetObject, s3:ListBucket; Storage Blob Data Reader on Azure); `pond storage check URL` tries each".into()
        },
    },
    Cause {
        signs: DENIED,
        during: &[],
        problem: |p| format!("the store {} denied pond access", p.store),
        next: |_| {
            "give this identity read, write, list and delete on the bucket and prefix (`pond storage check URL` tries each)".into()
        },
    },
    Cause {
        signs: &[
            "Connection refused",
            "connection refused",
            "dns error",
            "failed to lookup address",
            "error trying to connect",
            "tcp connect error",
            "No route to host",
            "Network is unreachable",
            "operation timed out",
            "connection timed out",
        ],
        during: &[],
        problem: |p| format!("pond could not reach the store {}", p.store),
        next: |p| {
            format!(
                "check the endpoint ({} or [store.options] endpoint), the network and any proxy; `pond storage check URL` tests a store",
                p.endpoint_variable()
            )
        },
    },
];

/// A store's words for a request it understood and refused.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AuthorizationPermissionMismatch",
    "AuthorizationFailure",
    "403 Forbidden",
];

/// Causes that need no store to explain.
const LOCAL_CAUSES: &[(&[&str], &str, &str)] = &[(
    &[
        "Address already in use",
        "address already in use",
        "os error 98",
        "os error 48",
    ],
    "the address to listen on is taken by another program",
    "stop that program, or choose another address with --listen HOST:PORT",
)];

/// Words that mark a message as a dependency's debug dump, not a sentence.
const DEBUG_SHAPES: [&str; 6] = [
    "{ ",
    "Error(",
    "source:",
    "Response {",
    "RetryError",
    "ProviderError",
];

/// The longest first line printed without `-v`.
const MAX_LINE: usize = 300;

/// What `error` means for a person, looking at the store `place` names.
pub fn explain(error: &anyhow::Error, place: Option<&Place>) -> Explained {
    let chain = format!("{error:?}");
    if let Some(place) = place {
        for cause in CAUSES {
            let doing =
                cause.during.is_empty() || cause.during.iter().any(|word| chain.contains(word));
            if doing && cause.signs.iter().any(|sign| chain.contains(sign)) {
                return Explained {
                    problem: (cause.problem)(place),
                    next: Some((cause.next)(place)),
                };
            }
        }
    }
    for (signs, problem, next) in LOCAL_CAUSES {
        if signs.iter().any(|sign| chain.contains(sign)) {
            return Explained {
                problem: (*problem).to_string(),
                next: Some((*next).to_string()),
            };
        }
    }
    // An error of pond's own already reads as a sentence; a dependency's
    // dump is cut to the context pond gave it.
    let problem = before_any_dump(&format!("{error:#}"));
    let problem = if problem.chars().count() > MAX_LINE {
        let cut: String = problem.chars().take(MAX_LINE).collect();
        format!("{cut}…")
    } else {
        problem
    };
    Explained {
        problem,
        next: None,
    }
}

/// `text` up to where a dependency's debug dump starts, cut back to the
/// last `: ` before it, so what is left reads as pond's own sentence.
fn before_any_dump(text: &str) -> String {
    let Some(start) = DEBUG_SHAPES.iter().filter_map(|s| text.find(s)).min() else {
        return text.to_string();
    };
    let head = &text[..start];
    match head.rfind(": ") {
        Some(cut) if cut > 0 => head[..cut].to_string(),
        _ => head.trim_end().to_string(),
    }
}

/// Prints the failure on stderr and gives the exit code it deserves.
pub fn report(error: &anyhow::Error, place: Option<&Place>, verbose: bool, json: bool) -> ExitCode {
    let explained = explain(error, place);
    let causes: Vec<String> = error.chain().map(|e| e.to_string()).collect();
    if json {
        #[derive(Serialize)]
        struct Line<'a> {
            level: &'static str,
            #[serde(flatten)]
            explained: &'a Explained,
            chain: &'a [String],
        }
        let line = Line {
            level: "ERROR",
            explained: &explained,
            chain: &causes,
        };
        eprintln!("{}", serde_json::to_string(&line).unwrap_or_default());
    } else {
        eprintln!("pond: {}", explained.problem);
        if let Some(next) = &explained.next {
            eprintln!("  next: {next}");
        }
        if verbose {
            for (i, cause) in causes.iter().enumerate() {
                eprintln!("  {i}: {cause}");
            }
        } else if explained.next.is_some() || causes.len() > 1 {
            eprintln!("  (-v shows the whole error)");
        }
    }
    if error.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(exit::USAGE)
    } else {
        ExitCode::from(exit::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(store: &str) -> Place {
        Place {
            store: store.into(),
        }
    }

    #[test]
    fn a_missing_aws_credential_is_one_sentence_naming_the_variables() {
        let dump = anyhow::anyhow!(
            "Generic S3 error: ProviderError(ProviderError {{ source: FailedToLoadToken(FailedToLoadToken {{ source: Some(DispatchFailure(..)) }}) }})"
        )
        .context("cannot open the store");
        let e = explain(&dump, Some(&place("s3://team-bucket/pond")));
        assert_eq!(
            e.problem,
            "pond found no credentials for the store s3://team-bucket/pond"
        );
        assert!(e.next.as_deref().unwrap().contains("AWS_ACCESS_KEY_ID"));
        let gcs = explain(
            &anyhow::anyhow!("could not find default credentials"),
            Some(&place("gs://b/p")),
        );
        assert!(
            gcs.next
                .as_deref()
                .unwrap()
                .contains("GOOGLE_APPLICATION_CREDENTIALS")
        );
    }

    #[test]
    fn a_dependencys_dump_is_cut_to_pondss_own_context() {
        let dump = anyhow::anyhow!("RetryError(RetryErrorImpl {{ method: GET, uri: Some(..) }})")
            .context("cannot read the store's manifest");
        let e = explain(&dump, None);
        assert_eq!(e.problem, "cannot read the store's manifest");
        let embedded = anyhow::anyhow!(
            "store gs://b/p: connect failed: Failed to connect to namespace: IO {{ source: Generic {{ store: \"GCS\" }} }}"
        );
        assert_eq!(
            explain(&embedded, None).problem,
            "store gs://b/p: connect failed: Failed to connect to namespace"
        );
        let plain = anyhow::anyhow!("no such file").context("cannot read /tmp/x");
        assert_eq!(
            explain(&plain, None).problem,
            "cannot read /tmp/x: no such file"
        );
    }

    #[test]
    fn a_refused_connection_names_the_endpoint_setting() {
        let e = anyhow::anyhow!(
            "error sending request: tcp connect error: Connection refused (os error 111)"
        );
        let explained = explain(&e, Some(&place("s3://b/p")));
        assert!(
            explained.problem.contains("could not reach"),
            "{explained:?}"
        );
        assert!(explained.next.unwrap().contains("AWS_ENDPOINT_URL"));
    }

    /// No server here answers a wrong region as S3 does (moto serves every
    /// region), so S3's documented answers stand in: a request signed for
    /// the wrong region, and one sent to the wrong regional endpoint.
    #[test]
    fn a_bucket_in_another_region_names_aws_region() {
        for body in [
            "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message></Error>",
            "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>",
        ] {
            let error = anyhow::anyhow!("Client error with status 400 Bad Request: {body}")
                .context("store s3://team-bucket/pond: connect failed");
            let explained = explain(&error, Some(&place("s3://team-bucket/pond")));
            assert!(
                explained.problem.contains("another region"),
                "{explained:?}"
            );
            assert!(
                explained
                    .next
                    .as_deref()
                    .is_some_and(|n| n.contains("AWS_REGION")),
                "{explained:?}"
            );
        }
    }
}
