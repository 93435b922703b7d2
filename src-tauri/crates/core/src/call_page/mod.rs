//! The patient's call page as files: which of the built UI's files it needs, written to a folder
//! for a clinic's own website (`export`), or published to the clinic's Twilio account (`publish`).
//!
//! Invariants:
//! - The page is exactly `call.html` and what it loads, found from the build's manifest
//!   (`call-manifest.json`, written by Vite): the entry's scripts and styles, and every chunk it
//!   imports, at once or later (the Twilio SDKs are fetched after the welcome screen). The doctor's
//!   app and anything else in the build never leave the computer.
//! - The files hold no clinic or patient data (the link's fragment brings that), so they may be
//!   public; publishing is still an administrator's act and audited.

mod publish;

pub use publish::{
    CallPage, PublishOptions, PublishProgress, PublishedPage, ENVIRONMENT_NAME, KEY_PUBLISHED_AT, SERVICE_NAME,
};

use crate::call_host::PageAssets;
use crate::error::{CoreError, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The page's entry in the build.
pub const ENTRY: &str = "call.html";
/// The build's manifest (vite.config.ts: `build.manifest`).
pub const MANIFEST: &str = "call-manifest.json";

/// One file of the call page, at its path under the page's folder ("call.html", "assets/x.js").
#[derive(Debug, Clone)]
pub struct PageFile {
    pub path: String,
    pub bytes: Vec<u8>,
    pub mime: String,
}

#[derive(Deserialize)]
struct Chunk {
    file: String,
    #[serde(default)]
    imports: Vec<String>,
    #[serde(default, rename = "dynamicImports")]
    dynamic_imports: Vec<String>,
    #[serde(default)]
    css: Vec<String>,
    #[serde(default)]
    assets: Vec<String>,
}

/// The call page's files, read through `assets` (the app's built-in UI, or a folder).
pub fn files(assets: &PageAssets) -> Result<Vec<PageFile>> {
    let missing = || {
        CoreError::Unavailable(
            "This copy of ClinicDesk has no built call page (call.html and call-manifest.json). Build the UI first (cd ui && npm run build).".into(),
        )
    };
    let manifest = assets(MANIFEST).ok_or_else(missing)?;
    let manifest: BTreeMap<String, Chunk> = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| CoreError::Unavailable(format!("The call page's manifest cannot be read ({e}).")))?;
    let entry = manifest.get(ENTRY).ok_or_else(missing)?;

    // Walk the entry's imports, static and dynamic, once each.
    let mut paths: BTreeSet<String> = BTreeSet::from([ENTRY.to_owned()]);
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&Chunk> = vec![entry];
    while let Some(chunk) = todo.pop() {
        if chunk.file != ENTRY {
            paths.insert(chunk.file.clone());
        }
        paths.extend(chunk.css.iter().cloned());
        paths.extend(chunk.assets.iter().cloned());
        for key in chunk.imports.iter().chain(&chunk.dynamic_imports) {
            if seen.insert(key) {
                todo.push(manifest.get(key).ok_or_else(|| {
                    CoreError::Unavailable(format!("The call page's manifest names {key}, which the build lacks."))
                })?);
            }
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let asset = assets(&path).ok_or_else(|| {
                CoreError::Unavailable(format!("The built call page lacks {path}: build the UI again."))
            })?;
            Ok(PageFile { path, bytes: asset.bytes.into_owned(), mime: asset.mime })
        })
        .collect()
}

/// Reads the built UI from a folder (`ui/dist`, or a copy of it): for the command line.
pub fn folder_assets(dir: &Path) -> PageAssets {
    let dir = dir.to_owned();
    std::sync::Arc::new(move |path: &str| {
        // Only plain relative paths inside the folder: no "..", no absolute paths.
        let relative = Path::new(path);
        if path.is_empty() || !relative.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
            return None;
        }
        let bytes = std::fs::read(dir.join(relative)).ok()?;
        let mime = mime_guess::from_path(relative).first_or_octet_stream().essence_str().to_owned();
        Some(crate::call_host::PageAsset { bytes: bytes.into(), mime })
    })
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub files: usize,
    pub bytes: u64,
}

/// Writes the page's files under `dir` (created if needed; files of the same name replaced), for a
/// clinic that serves the page from its own website. `dir` must be empty or hold an earlier export:
/// anything else there is refused rather than mixed with the page.
pub fn export(files: &[PageFile], dir: &Path) -> Result<Exported> {
    let io = |e: std::io::Error| {
        CoreError::Unavailable(format!("The call page could not be written to {}: {e}", dir.display()))
    };
    if dir.exists() {
        let foreign = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|name| name != ENTRY && name != "assets");
        if let Some(name) = foreign {
            return Err(CoreError::invalid(
                "dir",
                format!("{} already holds other files ({name}). Choose an empty folder.", dir.display()),
            ));
        }
    }
    let mut bytes = 0;
    for file in files {
        // Only plain names inside `dir` (the manifest's, but checked here too), and never through
        // a link someone left in the folder: a symlinked assets/ would write elsewhere.
        let relative = Path::new(&file.path);
        if !relative.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
            return Err(CoreError::invalid("dir", format!("The page names a file outside its folder: {}", file.path)));
        }
        let target = dir.join(relative);
        let mut walked = dir.to_path_buf();
        for part in relative.components() {
            walked.push(part);
            if std::fs::symlink_metadata(&walked).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(CoreError::invalid(
                    "dir",
                    format!("{} is a link to somewhere else. Choose an empty folder.", walked.display()),
                ));
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&target, &file.bytes).map_err(io)?;
        bytes += file.bytes.len() as u64;
    }
    Ok(Exported { files: files.len(), bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call_host::PageAsset;
    use std::sync::Arc;

    fn built(files: &'static [(&'static str, &'static str)]) -> PageAssets {
        Arc::new(move |path: &str| {
            files
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, body)| PageAsset { bytes: body.as_bytes().into(), mime: "text/plain".into() })
        })
    }

    const MANIFEST_JSON: &str = r#"{
      "call.html": {"file": "assets/call-1.js", "src": "call.html", "isEntry": true,
                    "imports": ["_shared-2.js"], "dynamicImports": ["node_modules/twilio-video/index.js"],
                    "css": ["assets/call-1.css"]},
      "index.html": {"file": "assets/main-9.js", "src": "index.html", "isEntry": true, "imports": ["_shared-2.js"]},
      "_shared-2.js": {"file": "assets/shared-2.js", "imports": ["node_modules/twilio-video/index.js"]},
      "node_modules/twilio-video/index.js": {"file": "assets/video-3.js", "isDynamicEntry": true, "assets": ["assets/beep-4.mp3"]}
    }"#;

    #[test]
    fn the_page_is_its_entry_and_everything_it_loads_and_nothing_of_the_app() {
        let assets = built(&[
            ("call-manifest.json", MANIFEST_JSON),
            ("call.html", "<html>"),
            ("index.html", "<html app>"),
            ("assets/call-1.js", "js"),
            ("assets/call-1.css", "css"),
            ("assets/shared-2.js", "shared"),
            ("assets/video-3.js", "video"),
            ("assets/beep-4.mp3", "mp3"),
            ("assets/main-9.js", "the doctor's app"),
        ]);
        let paths: Vec<String> = files(&assets).unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            [
                "assets/beep-4.mp3",
                "assets/call-1.css",
                "assets/call-1.js",
                "assets/shared-2.js",
                "assets/video-3.js",
                "call.html"
            ]
        );
    }

    #[test]
    fn a_build_without_the_page_or_with_a_file_missing_says_so() {
        let none = files(&built(&[("index.html", "<html>")])).unwrap_err();
        assert!(none.to_string().contains("no built call page"), "{none}");
        let partial = files(&built(&[("call-manifest.json", MANIFEST_JSON), ("call.html", "<html>")])).unwrap_err();
        assert!(partial.to_string().contains("lacks assets/"), "{partial}");
    }

    #[test]
    fn a_folder_is_read_only_below_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/a.js"), "js").unwrap();
        std::fs::write(dir.path().parent().unwrap().join("secret.txt"), "no").ok();
        let assets = folder_assets(dir.path());
        let js = assets("assets/a.js").unwrap();
        assert_eq!((js.bytes.as_ref(), js.mime.as_str()), (&b"js"[..], "text/javascript"));
        assert!(assets("../secret.txt").is_none());
        assert!(assets("/etc/passwd").is_none());
        assert!(assets("").is_none());
    }

    #[test]
    fn an_export_writes_the_files_and_refuses_a_folder_holding_something_else() {
        let dir = tempfile::tempdir().unwrap();
        let page = vec![
            PageFile { path: "call.html".into(), bytes: b"<html>".to_vec(), mime: "text/html".into() },
            PageFile { path: "assets/a.js".into(), bytes: b"js".to_vec(), mime: "text/javascript".into() },
        ];
        let out = dir.path().join("video");
        assert_eq!(export(&page, &out).unwrap(), Exported { files: 2, bytes: 8 });
        assert_eq!(std::fs::read(out.join("assets/a.js")).unwrap(), b"js");
        assert_eq!(export(&page, &out).unwrap().files, 2, "an earlier export is replaced");
        std::fs::write(out.join("index.html"), "the clinic's home page").unwrap();
        let refused = export(&page, &out).unwrap_err();
        assert_eq!(refused.field(), Some("dir"), "{refused}");
        assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), "the clinic's home page");
    }

    #[cfg(unix)]
    #[test]
    fn an_export_never_writes_through_a_link_or_outside_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let out = dir.path().join("video");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), out.join("assets")).unwrap();
        let page = vec![PageFile { path: "assets/a.js".into(), bytes: b"js".to_vec(), mime: "text/javascript".into() }];
        let refused = export(&page, &out).unwrap_err();
        assert!(refused.to_string().contains("is a link to somewhere else"), "{refused}");
        assert!(!elsewhere.path().join("a.js").exists(), "nothing written through the link");

        let fresh = dir.path().join("fresh");
        let escape =
            vec![PageFile { path: "../escaped.js".into(), bytes: b"js".to_vec(), mime: "text/javascript".into() }];
        assert_eq!(export(&escape, &fresh).unwrap_err().field(), Some("dir"));
        assert!(!dir.path().join("escaped.js").exists());
    }
}
