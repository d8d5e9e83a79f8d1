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
