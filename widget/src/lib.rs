//! The embeddable rating widget's static assets, compiled into the binary so the product
//! serves them with no build tool or network at run time.
//!
//! The widget renders the official Modello Comuni feedback component in the host page's
//! light DOM. Every text and option id comes from the entrypoint's widget-config (built by
//! `satisfy-core`), never from these files.

/// Version of the widget, sent with every rating.
pub const VERSION: &str = "1.0.0";

/// A file served under `/widget/v1/`.
#[derive(Debug)]
pub struct Asset {
    /// File name under `/widget/v1/`.
    pub name: &'static str,
    /// `Content-Type` to serve it with.
    pub content_type: &'static str,
    /// The file's bytes.
    pub body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "satisfy.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/satisfy.js"),
    },
    Asset {
        name: "satisfy.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/satisfy.css"),
    },
];

/// The asset called `name`, if any.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_loader_and_styles() {
        let loader = asset("satisfy.js").unwrap();
        assert!(loader.content_type.starts_with("text/javascript"));
        assert!(!loader.body.is_empty());
        assert!(asset("satisfy.css").is_some());
        assert!(asset("../Cargo.toml").is_none());
    }
}
