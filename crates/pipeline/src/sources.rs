//! Which `[sources.NAME]` section a document belongs to.

use crate::config::Config;
use globset::{Glob, GlobMatcher};
use sluicebox_core::Document;

struct Selector {
    name: String,
    paths: Vec<GlobMatcher>,
    hosts: Vec<String>,
    field: Option<(String, Vec<String>)>,
    encoding: Option<String>,
}

/// Assigns each document its source. Criteria within a section must all
/// match; the first section (in file order) that matches wins; otherwise the
/// document keeps the input record's own `source` field, or `default`.
pub struct SourceMatcher {
    selectors: Vec<Selector>,
}

/// The host part of a URL, lowercased, without port or credentials.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_string()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            host == domain
                || (host.len() > domain.len()
                    && host.ends_with(domain)
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
        }
        None => host == pattern,
    }
}

impl SourceMatcher {
    pub fn new(config: &Config) -> SourceMatcher {
        let selectors = config
            .sources
            .iter()
            .map(|(name, s)| Selector {
                name: name.clone(),
                paths: s
                    .paths
                    .iter()
                    .filter_map(|p| Glob::new(p).ok().map(|g| g.compile_matcher()))
                    .collect(),
                hosts: s.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                field: s.field.clone().map(|f| (f, s.values.clone())),
                encoding: s.encoding.clone(),
            })
            .collect();
        SourceMatcher { selectors }
    }

    /// Index (1-based; 0 = no section) of the section matching `doc`, read
    /// from `path` (as given on the command line).
    pub fn find(&self, doc: &Document, path: &str) -> usize {
        let mut host: Option<Option<String>> = None;
        for (i, s) in self.selectors.iter().enumerate() {
            if !s.paths.is_empty() && !s.paths.iter().any(|g| g.is_match(path)) {
                continue;
            }
            if !s.hosts.is_empty() {
                let h = host.get_or_insert_with(|| doc.url().as_deref().and_then(url_host));
                match h {
                    Some(h) if s.hosts.iter().any(|p| host_matches(p, h)) => {}
                    _ => continue,
                }
            }
            if let Some((field, values)) = &s.field {
                let v = match doc.field(field) {
                    Some(serde_json::Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => continue,
                };
                if !values.contains(&v) {
                    continue;
                }
            }
            return i + 1;
        }
        0
    }

    /// Set the document's source (name and index) and its charset hint.
    pub fn assign(&self, doc: &mut Document, path: &str) {
        let i = self.find(doc, path);
        doc.source_index = i;
        if i > 0 {
            let s = &self.selectors[i - 1];
            if doc.source != "default" && doc.source != s.name {
                let own = std::mem::take(&mut doc.source);
                doc.set_attr("input_source", own);
            }
            doc.source = s.name.clone();
            if doc.charset_hint.is_none() {
                doc.charset_hint = s.encoding.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_and_match() {
        assert_eq!(
            url_host("https://user@News.Example.org:8080/a?b").as_deref(),
            Some("news.example.org")
        );
        assert_eq!(url_host("example.com/x").as_deref(), Some("example.com"));
        assert!(host_matches("*.example.org", "news.example.org"));
        assert!(host_matches("*.example.org", "example.org"));
        assert!(!host_matches("*.example.org", "badexample.org"));
        assert!(host_matches("example.com", "example.com"));
        assert!(!host_matches("example.com", "www.example.com"));
    }
}
