//! The web console's static files, built into the binary so the broker needs nothing on
//! disk and no Node or JVM at build or run time.

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// The content type and bytes of the asset at `path`.
pub fn find(path: &str) -> Option<(&'static str, &'static [u8])> {
    match path {
        "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML.as_bytes())),
        "/console.js" => Some((
            "application/javascript; charset=utf-8",
            CONSOLE_JS.as_bytes(),
        )),
        "/console.css" => Some(("text/css; charset=utf-8", CONSOLE_CSS.as_bytes())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_assets_are_built_in() {
        let (kind, page) = find("/").unwrap();
        assert!(kind.starts_with("text/html"));
        let page = std::str::from_utf8(page).unwrap();
        // Every page of the dashboard is there, and the page loads its script and style.
        for id in [
            "page-ops",
            "page-cluster",
            "page-topic",
            "page-consumer",
            "page-producer",
            "page-message",
            "page-dlq",
        ] {
            assert!(page.contains(id), "{id}");
        }
        assert!(page.contains("/console.js") && page.contains("/console.css"));
        assert!(find("/console.js").is_some() && find("/console.css").is_some());
        assert!(find("/../etc/passwd").is_none());
    }
}
