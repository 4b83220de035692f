//! The daemon's configuration file (TOML).
//!
//! `seedbox init` writes [`TEMPLATE`], a commented example. [`Config::load`]
//! reads a file and reports any problem with the line it is on: a syntax
//! error, an unknown key (a typo must not be silently ignored), a missing
//! folder, a duplicate or unsafe collection name, a bad address or
//! pattern, and every arrangement that could lose or leak a file, which
//! `seedbox check` and `seedbox run` refuse alike: `state_dir` inside a
//! shared folder (or one inside it), a collection inside another, a mirror
//! inside, around or on another shared folder, a mirror folder that is
//! neither new, empty nor the seedbox's, the config file inside a shared
//! folder, and one TCP port for BitTorrent and the web page. Folders are
//! compared with symlinks resolved.

mod checks;
mod template;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::scan::Filter;
pub use template::TEMPLATE;

/// Default of `web.max_connections`.
pub const DEFAULT_WEB_CONNECTIONS: usize = 256;
/// Default of `web.max_upload_mb`.
pub const DEFAULT_MAX_UPLOAD_MB: u64 = 512;

/// A parsed, checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file itself (never shared: it can hold the admin token).
    pub file: PathBuf,
    pub state_dir: PathBuf,
    pub network: Network,
    pub web: Web,
    pub limits: Limits,
    pub collections: Vec<Collection>,
    pub mirrors: Vec<Mirror>,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub listen: SocketAddr,
    pub quic_listen: Option<SocketAddr>,
    pub announce: bool,
}

#[derive(Clone, Debug)]
pub struct Web {
    /// `None`: no web page.
    pub listen: Option<SocketAddr>,
    pub title: String,
    pub admin_token: Option<String>,
    pub hosts: Vec<String>,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Largest file a librarian may upload from the admin page, in bytes.
    pub max_upload: u64,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_peers: usize,
    /// Bytes per second per collection; `None` = unlimited.
    pub upload_rate: Option<u64>,
    pub rescan_secs: u64,
}

/// A local folder published as a collection.
#[derive(Clone, Debug)]
pub struct Collection {
    pub name: String,
    pub path: PathBuf,
    pub title: String,
    /// Which files of the folder are shared (`include` / `exclude`).
    pub filter: Filter,
}

/// A collection of another seedbox, followed.
#[derive(Clone, Debug)]
pub struct Mirror {
    /// The collection's name at its publisher.
    pub name: String,
    /// Pinned publisher key (hex), if given.
    pub key: Option<swarm::discovery::signed::PublisherKey>,
    /// Where the copy lives.
    pub path: PathBuf,
    /// Name of the copy here (default: `name`).
    pub local_name: String,
    /// Title shown on the patron page instead of the publisher's.
    pub title: Option<String>,
    /// Addresses to ask besides the LAN.
    pub peers: Vec<SocketAddr>,
    /// How often to look for a new version, in seconds.
    pub poll_secs: u64,
}

/// A configuration problem, with where it is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    At {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    state_dir: Spanned<PathBuf>,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    web: RawWeb,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    collection: Vec<RawCollection>,
    #[serde(default)]
    mirror: Vec<RawMirror>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    listen: Option<Spanned<String>>,
    quic_listen: Option<Spanned<String>>,
    announce: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    listen: Option<Spanned<String>>,
    title: Option<String>,
    admin_token: Option<Spanned<String>>,
    #[serde(default)]
    hosts: Vec<String>,
    max_connections: Option<Spanned<i64>>,
    max_upload_mb: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_peers: Option<Spanned<i64>>,
    upload_rate: Option<Spanned<i64>>,
    rescan_secs: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollection {
    name: Spanned<String>,
    path: Spanned<PathBuf>,
    title: Option<Spanned<String>>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMirror {
    name: Spanned<String>,
    key: Option<Spanned<String>>,
    path: Spanned<PathBuf>,
    local_name: Option<Spanned<String>>,
    title: Option<String>,
    #[serde(default)]
    peers: Vec<Spanned<String>>,
    poll_secs: Option<Spanned<i64>>,
}

/// Is `s` usable as a collection name in URLs and file names?
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn line_of(text: &str, span: Range<usize>) -> usize {
    let end = span.start.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Read and check a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parse and check config text; `path` names it in errors and anchors
    /// relative paths (relative to the file's folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let at = |span: Range<usize>, msg: String| ConfigError::At {
            path: path.to_path_buf(),
            line: line_of(text, span),
            msg,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => at(span, e.message().to_string()),
            None => ConfigError::File {
                path: path.to_path_buf(),
                msg: e.message().to_string(),
            },
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let addr = |s: &Spanned<String>, what: &str| -> Result<SocketAddr, ConfigError> {
            s.get_ref().parse().map_err(|_| {
                at(
                    s.span(),
                    format!(
                        "{what}: {:?} is not an address like 0.0.0.0:6881",
                        s.get_ref()
                    ),
                )
            })
        };
        let state_dir = abs(raw.state_dir.get_ref());
        if raw.state_dir.get_ref().as_os_str().is_empty() {
            return Err(at(raw.state_dir.span(), "state_dir is empty".into()));
        }
        let num = |v: &Option<Spanned<i64>>, what: &str, min: i64, max: i64, default: i64| match v {
            None => Ok(default),
            Some(s) if (min..=max).contains(s.get_ref()) => Ok(*s.get_ref()),
            Some(s) => Err(at(
                s.span(),
                format!(
                    "{what} must be between {min} and {max}, not {}",
                    s.get_ref()
                ),
            )),
        };
        let network = Network {
            listen: match &raw.network.listen {
                Some(s) => addr(s, "network.listen")?,
                None => SocketAddr::from(([0, 0, 0, 0], 6881)),
            },
            quic_listen: raw
                .network
                .quic_listen
                .as_ref()
                .map(|s| addr(s, "network.quic_listen"))
                .transpose()?,
            announce: raw.network.announce.unwrap_or(true),
        };
        let web = Web {
            listen: match &raw.web.listen {
                Some(s) if s.get_ref().is_empty() => None,
                Some(s) => Some(addr(s, "web.listen")?),
                None => Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            },
            title: raw.web.title.unwrap_or_else(|| "Library".into()),
            admin_token: match raw.web.admin_token {
                Some(t) if t.get_ref().is_empty() => None,
                Some(t) if t.get_ref().len() < 16 => {
                    return Err(at(
                        t.span(),
                        "web.admin_token is too short: use at least 16 random characters".into(),
                    ))
                }
                Some(t) => Some(t.into_inner()),
                None => None,
            },
            hosts: raw.web.hosts,
            max_connections: num(
                &raw.web.max_connections,
                "web.max_connections",
                4,
                65_536,
                DEFAULT_WEB_CONNECTIONS as i64,
            )? as usize,
            max_upload: num(
                &raw.web.max_upload_mb,
                "web.max_upload_mb",
                1,
                1 << 20,
                DEFAULT_MAX_UPLOAD_MB as i64,
            )? as u64
                * 1024
                * 1024,
        };
        let limits = Limits {
            max_peers: num(&raw.limits.max_peers, "limits.max_peers", 1, 10_000, 50)? as usize,
            upload_rate: match num(
                &raw.limits.upload_rate,
                "limits.upload_rate",
                0,
                i64::MAX,
                0,
            )? {
                0 => None,
                n => Some(n as u64),
            },
            rescan_secs: num(
                &raw.limits.rescan_secs,
                "limits.rescan_secs",
                1,
                86_400 * 7,
                300,
            )? as u64,
        };
        let mut names: Vec<(String, usize)> = Vec::new();
        let mut claim = |n: &Spanned<String>, what: &str| -> Result<(), ConfigError> {
            let name = n.get_ref();
            if !valid_name(name) {
                return Err(at(
                    n.span(),
                    format!(
                        "{what} {name:?}: use 1 to 64 letters, digits, '-' or '_' (it appears in links)"
                    ),
                ));
            }
            if let Some((_, line)) = names.iter().find(|(m, _)| m == name) {
                return Err(at(
                    n.span(),
                    format!("{what} {name:?} is already used on line {line}"),
                ));
            }
            names.push((name.clone(), line_of(text, n.span())));
            Ok(())
        };
        let mut folders = Vec::new();
        let mut collections = Vec::new();
        for c in raw.collection {
            claim(&c.name, "collection name")?;
            let p = abs(c.path.get_ref());
            if !p.is_dir() {
                return Err(at(
                    c.path.span(),
                    format!(
                        "collection {:?}: {} is not a folder",
                        c.name.get_ref(),
                        p.display()
                    ),
                ));
            }
            let list = |v: &[Spanned<String>]| -> Vec<String> {
                v.iter().map(|s| s.get_ref().clone()).collect()
            };
            let filter = Filter::new(&list(&c.include), &list(&c.exclude)).map_err(|e| {
                let (spans, key) = if e.include {
                    (&c.include, "include")
                } else {
                    (&c.exclude, "exclude")
                };
                let span = spans.get(e.index).map_or(c.path.span(), Spanned::span);
                at(
                    span,
                    format!("collection {:?}: {key}: {e}", c.name.get_ref()),
                )
            })?;
            folders.push(checks::Folder::collection(
                c.name.get_ref(),
                &p,
                line_of(text, c.path.span()),
            ));
            // The title is signed with each version (mirrors show it).
            let title = match c.title {
                Some(t) => {
                    let (len, max) = (t.get_ref().len(), swarm::discovery::signed::MAX_TITLE);
                    if len == 0 || len > max || t.get_ref().chars().any(char::is_control) {
                        return Err(at(
                            t.span(),
                            format!(
                                "collection {:?}: title must be 1 to {max} bytes without \
                                 control characters",
                                c.name.get_ref()
                            ),
                        ));
                    }
                    t.into_inner()
                }
                None => c.name.get_ref().clone(),
            };
            collections.push(Collection {
                title,
                name: c.name.into_inner(),
                path: p,
                filter,
            });
        }
        let mut mirrors = Vec::new();
        for m in raw.mirror {
            if !valid_name(m.name.get_ref()) {
                return Err(at(
                    m.name.span(),
                    format!(
                        "mirror name {:?} is not a valid collection name",
                        m.name.get_ref()
                    ),
                ));
            }
            let local = m.local_name.clone().unwrap_or_else(|| m.name.clone());
            claim(&local, "mirror local_name")?;
            let key = match &m.key {
                None => None,
                Some(k) => Some(
                    swarm::discovery::signed::PublisherKey::from_hex(k.get_ref()).ok_or_else(
                        || {
                            at(
                                k.span(),
                                "mirror key: expected 64 hex digits of an Ed25519 public key"
                                    .into(),
                            )
                        },
                    )?,
                ),
            };
            let mut peers = Vec::new();
            for p in &m.peers {
                peers.push(addr(p, "mirror peers")?);
            }
            let path = abs(m.path.get_ref());
            folders.push(checks::Folder::mirror(
                local.get_ref(),
                &path,
                line_of(text, m.path.span()),
            ));
            let poll_secs = num(&m.poll_secs, "mirror poll_secs", 1, 86_400, 30)? as u64;
            mirrors.push(Mirror {
                poll_secs,
                title: m.title,
                name: m.name.into_inner(),
                key,
                path,
                local_name: local.into_inner(),
                peers,
            });
        }
        let line = |s: Option<&Spanned<String>>| s.map(|s| line_of(text, s.span()));
        checks::ports(
            &network,
            line(raw.network.listen.as_ref()),
            &web,
            line(raw.web.listen.as_ref()),
        )
        .and_then(|()| {
            checks::folders(
                path,
                (&state_dir, line_of(text, raw.state_dir.span())),
                &folders,
            )
        })
        .map_err(|(line, msg)| ConfigError::At {
            path: path.to_path_buf(),
            line,
            msg,
        })?;
        Ok(Config {
            file: path.to_path_buf(),
            state_dir,
            network,
            web,
            limits,
            collections,
            mirrors,
        })
    }
}
