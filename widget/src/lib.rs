//! The embeddable rating widget.
//!
//! The widget renders the official Modello Comuni feedback component in the host page's
//! light DOM. Its files are built by `widget/build.sh` into `widget/dist/` (committed, so
//! the product builds without the WebAssembly toolchain) and compiled into the binary:
//! - `satisfy.js`, the loader at a stable URL: the DOM code, the interface to the core and
//!   the styles, which it applies as a constructed style sheet;
//! - `satisfy-core.<hash>.wasm`, this crate compiled to WebAssembly (see `wasm.rs`), which
//!   validates and encodes ratings with the same `satisfy-core` code as ingest;
//! - `satisfy.<hash>.css`, the same styles as a file, for browsers without constructed
//!   style sheets.
//!
//! Every text and option id comes from the entrypoint's widget-config, never from these
//! files; ingest serves each entrypoint a loader with its configuration in front.

#[cfg(target_arch = "wasm32")]
mod wasm;

/// Version of the widget, sent with every rating.
pub const VERSION: &str = "1.1.0";

/// File name of the shared loader, the one asset at a stable URL.
pub const LOADER: &str = "satisfy.js";

// The built files are served by the native crate only: the WebAssembly build is one of them.
#[cfg(not(target_arch = "wasm32"))]
mod assets {
    /// A file served under `/widget/v1/`, in its plain and precompressed forms.
    #[derive(Debug)]
    pub struct Asset {
        /// File name under `/widget/v1/`.
        pub name: &'static str,
        /// `Content-Type` to serve it with.
        pub content_type: &'static str,
        /// Whether the name carries a content hash, so the file may be cached forever.
        pub immutable: bool,
        /// The file's bytes.
        pub identity: &'static [u8],
        /// The file compressed with gzip -9.
        pub gzip: &'static [u8],
        /// The file compressed with brotli -q 11.
        pub brotli: &'static [u8],
    }

    include!("../dist/assets.rs");

    /// The asset called `name`, if any.
    pub fn asset(name: &str) -> Option<&'static Asset> {
        ASSETS.iter().find(|asset| asset.name == name)
    }

    /// Every asset, loader first.
    pub fn assets() -> &'static [Asset] {
        ASSETS
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use assets::{Asset, asset, assets};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn serves_loader_core_and_styles() {
        let loader = asset(LOADER).unwrap();
        assert!(loader.content_type.starts_with("text/javascript"));
        assert!(!loader.immutable);
        assert!(
            !loader.identity.is_empty() && !loader.gzip.is_empty() && !loader.brotli.is_empty()
        );
        let wasm = assets().iter().find(|a| a.name.ends_with(".wasm")).unwrap();
        assert_eq!(&wasm.identity[..4], b"\0asm");
        assert!(wasm.immutable);
        assert!(assets().iter().any(|a| a.name.ends_with(".css")));
        assert!(asset("../Cargo.toml").is_none());
    }

    #[test]
    fn the_loader_names_the_versioned_files_it_loads() {
        let loader = std::str::from_utf8(asset(LOADER).unwrap().identity).unwrap();
        for other in assets().iter().filter(|a| a.immutable) {
            assert!(
                loader.contains(other.name),
                "loader does not reference {}",
                other.name
            );
        }
        assert!(loader.contains(VERSION));
    }
}
